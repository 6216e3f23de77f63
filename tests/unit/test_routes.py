"""A SAM template's Api/HttpApi events as routes: which one takes a request, and what its
event carries, as API Gateway picks and fills them."""

from __future__ import annotations

from openruntime.emulator.routes import pick, routes_of

EVENTS = {
    "Item": {"Type": "Api", "Properties": {"Path": "/items/{id}", "Method": "get"}},
    "Items": {"Type": "Api", "Properties": {"Path": "/items/new", "Method": "GET"}},
    "Any": {"Type": "Api", "Properties": {"Path": "/{proxy+}", "Method": "any"}},
    "Orders": {"Type": "HttpApi", "Properties": {"Path": "/orders/{order}/lines/{line}", "Method": "POST"}},
    "Old": {"Type": "HttpApi", "Properties": {"Path": "/legacy", "Method": "GET", "PayloadFormatVersion": "1.0"}},
    "Schedule": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)"}},
}


def test_each_api_event_is_a_route_in_its_payload_format() -> None:
    routes = {r.key(): (r.kind, r.api) for r in routes_of("Fn", EVENTS)}
    assert routes == {"GET /items/{id}": ("v1", "rest"), "GET /items/new": ("v1", "rest"),
                      "ANY /{proxy+}": ("v1", "rest"), "POST /orders/{order}/lines/{line}": ("v2", "http"),
                      "GET /legacy": ("v1", "http")}
    [default] = routes_of("Fn", {"Api": {"Type": "HttpApi"}})  # no Path: the API's $default route
    assert default.key() == "$default"
    assert pick([default], "GET", "/") is not None and pick([default], "DELETE", "/a/b") is not None


def test_the_most_specific_route_takes_the_request() -> None:
    routes = routes_of("Fn", EVENTS)

    def taken(method: str, path: str) -> tuple[str, dict[str, str]] | None:
        picked = pick(routes, method, path)
        return (picked[0].key(), picked[1]) if picked else None

    assert taken("GET", "/items/new") == ("GET /items/new", {})  # a literal segment over a parameter
    assert taken("GET", "/items/a%20b") == ("GET /items/{id}", {"id": "a b"})
    assert taken("DELETE", "/items/7") == ("ANY /{proxy+}", {"proxy": "items/7"})  # method: only ANY takes it
    assert taken("POST", "/orders/9/lines/2") == ("POST /orders/{order}/lines/{line}", {"order": "9", "line": "2"})
    assert taken("GET", "/a/b/c") == ("ANY /{proxy+}", {"proxy": "a/b/c"})
    assert pick(routes_of("Fn", {"I": EVENTS["Item"]}), "GET", "/items/1/extra") is None
    assert pick(routes_of("Fn", {"I": EVENTS["Item"]}), "POST", "/items/1") is None


def test_a_request_no_route_takes_gets_api_gateways_answer() -> None:
    from openruntime.emulator.http_front import serve_routed
    from openruntime.runtime_api.http import Request

    rest_only = routes_of("Fn", {"Item": EVENTS["Item"]})
    answer = serve_routed(None, rest_only, Request("GET", "/elsewhere", [], b""))
    assert (answer.status, answer.body) == (403, b'{"message":"Missing Authentication Token"}')
    with_http_api = routes_of("Fn", {"Item": EVENTS["Item"], "Old": EVENTS["Old"]})
    answer = serve_routed(None, with_http_api, Request("GET", "/elsewhere", [], b""))
    assert (answer.status, answer.body) == (404, b'{"message":"Not Found"}')


CORS_TEMPLATE = {
    "Globals": {"Api": {"Cors": {"AllowOrigin": "'https://app.example'", "AllowMethods": "'GET,POST'",
                                 "AllowHeaders": "'Content-Type'", "MaxAge": "'600'"}},
                "HttpApi": {"CorsConfiguration": {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET"],
                                                  "AllowCredentials": True, "ExposeHeaders": ["X-Total"]}}},
    "Resources": {"OpenApi": {"Type": "AWS::Serverless::HttpApi", "Properties": {"CorsConfiguration": True}}},
}


def test_cors_from_the_template_answers_preflights_as_api_gateway_does() -> None:
    from openruntime.emulator.routes import cors_of, preflight, with_cors

    cors = cors_of(CORS_TEMPLATE)
    rest = routes_of("Fn", {"Item": EVENTS["Item"]}, cors)
    http = routes_of("Fn", {"Orders": EVENTS["Orders"]}, cors)
    opened = routes_of("Fn", {"Open": {"Type": "HttpApi", "Properties": {
        "Path": "/open", "Method": "GET", "ApiId": {"Ref": "OpenApi"}}}}, cors)
    asking = {"origin": "https://app.example", "access-control-request-method": "GET"}
    # The REST API's OPTIONS method (SAM's mock): the configured values, quotes taken off,
    # for any OPTIONS request, a preflight or not.
    expected = (200, [("Access-Control-Allow-Origin", "https://app.example"), ("Access-Control-Allow-Methods", "GET,POST"),
                      ("Access-Control-Allow-Headers", "Content-Type"), ("Access-Control-Max-Age", "600")])
    assert preflight(rest, "OPTIONS", "/items/7", asking.get) == expected
    assert preflight(rest, "OPTIONS", "/items/7", {}.get) == expected
    # The HTTP API's: for an allowed origin, echoed (credentials); nothing for another.
    status, granted = preflight(http, "OPTIONS", "/orders/1/lines/2", asking.get) or (0, [])
    assert status == 204 and ("Access-Control-Allow-Origin", "https://app.example") in granted
    assert ("Access-Control-Allow-Credentials", "true") in granted
    assert preflight(http, "OPTIONS", "/orders/1/lines/2", ({**asking, "origin": "https://evil.example"}).get) == (204, [])
    assert preflight(opened, "OPTIONS", "/open", ({**asking, "origin": "https://any.example"}).get)[1][0] == (
        "Access-Control-Allow-Origin", "*")
    # Not a preflight to an HTTP API, or a path no route has: routed as usual.
    assert preflight(http, "OPTIONS", "/orders/1/lines/2", {"origin": "https://app.example"}.get) is None
    assert preflight(rest, "OPTIONS", "/elsewhere", asking.get) is None
    # An HTTP API with CORS ignores the function's CORS headers and adds its grant; a REST
    # API sends the function's as they are.
    function_headers = [("Access-Control-Allow-Origin", "*"), ("X-Mine", "1")]
    assert with_cors(http[0], "https://app.example", function_headers) == [
        ("X-Mine", "1"), ("Access-Control-Allow-Origin", "https://app.example"),
        ("Access-Control-Expose-Headers", "X-Total"), ("Access-Control-Allow-Credentials", "true")]
    assert with_cors(http[0], "https://evil.example", function_headers) == [("X-Mine", "1")]
    assert with_cors(rest[0], "https://app.example", function_headers) == function_headers


def test_rest_cors_methods_default_to_the_paths_and_globals_reach_explicit_apis() -> None:
    """SAM fills a REST API's Access-Control-Allow-Methods with the path's methods and
    OPTIONS when the template gives none; Globals apply to an explicit API too; a template's
    own OPTIONS route on a path takes the request instead of the mock."""
    from openruntime.emulator.routes import cors_of, preflight

    template = {"Globals": {"Api": {"Cors": "'*'"}},
                "Resources": {"MyApi": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "v1"}}}}
    cors = cors_of(template)
    events = {"Get": {"Type": "Api", "Properties": {"Path": "/things", "Method": "get", "RestApiId": {"Ref": "MyApi"}}},
              "Put": {"Type": "Api", "Properties": {"Path": "/things", "Method": "put", "RestApiId": {"Ref": "MyApi"}}}}
    routes = routes_of("Fn", events, cors)
    assert preflight(routes, "OPTIONS", "/things", {}.get) == (200, [
        ("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", "GET,OPTIONS,PUT")])
    own = routes_of("Fn", {**events, "Options": {"Type": "Api", "Properties": {
        "Path": "/things", "Method": "options", "RestApiId": {"Ref": "MyApi"}}}}, cors)
    assert preflight(own, "OPTIONS", "/things", {}.get) is None


def test_an_http_apis_payload_1_0_is_an_http_apis_not_a_rest_apis() -> None:
    """AWS's HTTP API payload 1.0: `version` 1.0, the `$default` stage, no stage in the path."""
    from openruntime.emulator.http_front import build_event
    from openruntime.emulator.routes import shaped
    from openruntime.runtime_api.http import Request

    [legacy] = routes_of("Fn", {"Old": EVENTS["Old"]})
    event = shaped(build_event("v1", Request("GET", "/legacy?x=1", [], b"")), legacy, {})
    assert event["version"] == "1.0" and event["resource"] == "/legacy" and event["path"] == "/legacy"
    assert (event["requestContext"]["stage"], event["requestContext"]["path"]) == ("$default", "/legacy")
    [rest] = routes_of("Fn", {"Item": EVENTS["Item"]})
    event = shaped(build_event("v1", Request("GET", "/items/7", [], b"")), rest, {"id": "7"})
    assert "version" not in event and event["requestContext"]["path"].endswith("/items/7")
