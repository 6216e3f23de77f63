"""CORS: preflights answered in `before` (handler skipped) for each source, the grant on
every response `after` and `error` make, and the policy read from the environment."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_http import hooks
from aws_http.cors import allowed_origin
from aws_http.settings import ConfigError, settings_from
from http_support import header, request_event

# One fixture per response shape.
SOURCES = ["apigw-v1-proxy-request.json", "apigw-v2-http-request.json",
           "function-url-request-iam.json", "alb-request-multivalue-headers.json",
           "alb-request-single-value-headers.json"]
APP = "https://app.example.com"
CORS = {"HTTP_CORS_ORIGINS": f"{APP}, https://*.example.org", "HTTP_CORS_MAX_AGE": "600",
        "HTTP_CORS_EXPOSE_HEADERS": "X-Request-Id"}
PREFLIGHT = {"Origin": APP, "Access-Control-Request-Method": "PUT",
             "Access-Control-Request-Headers": "content-type, x-api-key"}


def settings(**env: str) -> Any:
    return settings_from({**CORS, **env})


def preflight(fixture: str, env: dict[str, str] | None = None, **headers: str) -> hooks.HookOutput:
    request = request_event(fixture, method="OPTIONS", headers={**PREFLIGHT, **headers})
    return hooks.before(request, settings(**(env or {})))


@pytest.mark.parametrize("fixture", SOURCES)
def test_a_preflight_is_answered_with_204_in_the_source_shape(fixture: str) -> None:
    out = preflight(fixture)
    assert out.respond  # answered in the pipeline: the handler is not called
    response = json.loads(out.payload)
    assert response["statusCode"] == 204 and response["body"] == ""
    assert header(response, "Access-Control-Allow-Origin") == APP
    assert header(response, "Access-Control-Allow-Methods") == "GET,HEAD,PUT,PATCH,POST,DELETE"
    assert header(response, "Access-Control-Allow-Headers") == "content-type,x-api-key"  # echoed
    assert header(response, "Access-Control-Max-Age") == "600"
    assert header(response, "Vary") == "Origin, Access-Control-Request-Headers"
    assert header(response, "Access-Control-Allow-Credentials") is None
    if "statusDescription" in response:
        assert response["statusDescription"] == "204 No Content"


def test_wildcard_subdomains_match_one_label_only() -> None:
    policy = settings().cors
    assert allowed_origin(policy, "https://a.example.org") == "https://a.example.org"
    assert allowed_origin(policy, "https://A.Example.org") == "https://A.Example.org"  # echoed as sent
    assert allowed_origin(policy, "https://a.b.example.org") is None
    assert allowed_origin(policy, "https://example.org") is None
    assert allowed_origin(policy, "https://evil-example.org") is None
    assert allowed_origin(policy, "http://app.example.com") is None  # another scheme is another origin
    assert allowed_origin(policy, "https://app.example.com.evil.net") is None
    assert allowed_origin(policy, "null") is None


def test_a_preflight_from_an_origin_not_allowed_grants_nothing() -> None:
    response = json.loads(preflight("apigw-v2-http-request.json", Origin="https://evil.example.net").payload)
    assert response["statusCode"] == 204
    assert header(response, "Access-Control-Allow-Origin") is None
    assert header(response, "Access-Control-Allow-Methods") is None
    assert header(response, "Vary") == "Origin"


def test_with_credentials_any_origin_is_echoed_never_star() -> None:
    env = {"HTTP_CORS_ORIGINS": "*", "HTTP_CORS_CREDENTIALS": "true", "HTTP_CORS_METHODS": "*",
           "HTTP_CORS_HEADERS": "*"}
    response = json.loads(preflight("apigw-v1-proxy-request.json", env, Origin="https://any.site").payload)
    assert header(response, "Access-Control-Allow-Origin") == "https://any.site"
    assert header(response, "Access-Control-Allow-Credentials") == "true"
    # `*` is literal for a credentialed request: the requested method and headers are named.
    assert header(response, "Access-Control-Allow-Methods") == "PUT"
    assert header(response, "Access-Control-Allow-Headers") == "content-type,x-api-key"
    assert "Origin" in header(response, "Vary")


def test_star_without_credentials_is_star_and_does_not_vary() -> None:
    env = {"HTTP_CORS_ORIGINS": "*", "HTTP_CORS_HEADERS": "Content-Type,Authorization", "HTTP_CORS_MAX_AGE": ""}
    response = json.loads(preflight("function-url-request-iam.json", env).payload)
    assert header(response, "Access-Control-Allow-Origin") == "*"
    assert header(response, "Access-Control-Allow-Headers") == "Content-Type,Authorization"
    assert header(response, "Vary") is None and header(response, "Access-Control-Max-Age") is None


def test_echoed_request_headers_must_be_tokens() -> None:
    response = json.loads(preflight("apigw-v2-http-request.json",
                                    **{"Access-Control-Request-Headers": "x-ok, bad header\u00e9"}).payload)
    assert header(response, "Access-Control-Allow-Headers") is None


def test_options_without_cors_headers_or_without_cors_goes_to_the_handler() -> None:
    plain_options = request_event("apigw-v2-http-request.json", method="OPTIONS", headers={"Origin": APP})
    assert not hooks.before(plain_options, settings()).respond
    cors_off = request_event("apigw-v2-http-request.json", method="OPTIONS", headers=PREFLIGHT)
    out = hooks.before(cors_off, settings_from({}))
    assert not out.respond and json.loads(out.payload)["method"] == "OPTIONS"


@pytest.mark.parametrize("fixture", SOURCES)
def test_every_response_carries_the_grant(fixture: str) -> None:
    config = settings()
    state = hooks.before(request_event(fixture, headers={"Origin": APP}), config).state
    assert state["origin"] == APP
    shaped = json.loads(hooks.after(b'{"statusCode": 200, "body": "ok"}', state, None, config).payload)
    failed = json.loads(hooks.error(b'{"errorType": "ValueError", "errorMessage": "x"}', state, "id",
                                    settings=config).payload)
    for response in (shaped, failed):
        assert header(response, "Access-Control-Allow-Origin") == APP
        assert header(response, "Access-Control-Expose-Headers") == "X-Request-Id"
        assert header(response, "Vary") == "Origin"
        assert header(response, "Access-Control-Allow-Methods") is None  # preflight only
    assert failed["statusCode"] == 500


def test_a_request_without_origin_still_varies_on_it() -> None:
    config = settings()
    state = hooks.before(request_event("apigw-v2-http-request.json"), config).state
    assert "origin" not in state
    response = json.loads(hooks.after(b'{"statusCode": 200}', state, None, config).payload)
    assert header(response, "Access-Control-Allow-Origin") is None
    assert header(response, "Vary") == "Origin"  # a cache must not serve this to a CORS request


def test_the_handlers_own_cors_headers_win_and_vary_is_merged() -> None:
    config = settings()
    state = hooks.before(request_event("alb-request-single-value-headers.json", headers={"Origin": APP}),
                         config).state
    reply = {"statusCode": 200, "headers": {"access-control-allow-origin": "https://other.example.com",
                                            "Vary": "Accept-Encoding"}}
    response = json.loads(hooks.after(json.dumps(reply).encode(), state, None, config).payload)
    assert response["headers"]["access-control-allow-origin"] == "https://other.example.com"
    assert "Access-Control-Allow-Origin" not in response["headers"]
    assert response["headers"]["Vary"] == "Accept-Encoding, Origin"
    reply = {"statusCode": 200, "headers": {"vary": "*"}}
    response = json.loads(hooks.after(json.dumps(reply).encode(), state, None, config).payload)
    assert response["headers"]["vary"] == "*" and "Vary" not in response["headers"]


@pytest.mark.parametrize(("env", "message"), [
    ({"HTTP_CORS_ORIGINS": "https://example.com/"}, "HTTP_CORS_ORIGINS: 'https://example.com/' is not an origin"),
    ({"HTTP_CORS_ORIGINS": "null"}, "HTTP_CORS_ORIGINS: 'null' cannot be allowed"),
    ({"HTTP_CORS_ORIGINS": "https://api.*.com"},
     "HTTP_CORS_ORIGINS: 'https://api.*.com': a wildcard only stands for the first label"),
    ({"HTTP_CORS_ORIGINS": "*", "HTTP_CORS_MAX_AGE": "ten"}, "HTTP_CORS_MAX_AGE must be an integer >= 0"),
    ({"HTTP_CORS_ORIGINS": "*", "HTTP_CORS_CREDENTIALS": "maybe"}, "HTTP_CORS_CREDENTIALS must be 1 or 0"),
    ({"HTTP_CORS_ORIGINS": "*", "HTTP_CORS_METHODS": "GET,P OST;"}, "HTTP_CORS_METHODS: 'OST;' is not a method"),
    ({"HTTP_CORS_ORIGINS": "*", "HTTP_CORS_CREDENTIALS": "1", "HTTP_CORS_EXPOSE_HEADERS": "*"},
     "HTTP_CORS_EXPOSE_HEADERS: '*' exposes nothing"),
    ({"HTTP_CORS_CREDENTIALS": "1"}, "HTTP_CORS_CREDENTIALS is set but HTTP_CORS_ORIGINS is not"),
    ({"HTTP_EXPOSE_ERRORS": "2"}, "HTTP_EXPOSE_ERRORS must be 1 or 0"),
])
def test_bad_cors_configuration_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        settings_from(env)
