"""A SAM template's API events as routes, as `sam local start-api` serves them.

Each `Api` event (a REST API: payload 1.0) and `HttpApi` event (an HTTP API: payload 2.0
unless `PayloadFormatVersion: "1.0"`) of a function is a route: a method (`ANY` matches
every one) and a path whose `{name}` segments are path parameters and whose `{name+}`
takes the rest of the path. A request goes to the most specific route that matches, as
API Gateway picks: literal segments before parameters, a greedy parameter last. The
function gets the event its API sends, with `resource`/`routeKey` and `pathParameters`
filled from the route. A request no route takes is answered as API Gateway answers it:
a REST API's 403 `Missing Authentication Token`, an HTTP API's 404 `Not Found`.

CORS, where the template configures it (`Globals.Api.Cors`, `Globals.HttpApi.CorsConfiguration`,
or the `AWS::Serverless::Api`/`HttpApi` an event names by `RestApiId`/`ApiId`): a preflight
to a path with routes is answered by the front, as API Gateway answers it (a REST API's
OPTIONS method SAM adds, with the configured values; an HTTP API's, for an allowed origin);
an HTTP API also adds the allowed origin to every response of a CORS request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")


class Cors:
    """An API's CORS configuration, as the template gives it."""

    __slots__ = ("origins", "methods", "headers", "max_age", "credentials", "expose")

    def __init__(self, origins: tuple[str, ...], methods: tuple[str, ...] = (), headers: tuple[str, ...] = (),
                 max_age: str | None = None, credentials: bool = False, expose: tuple[str, ...] = ()) -> None:
        self.origins, self.methods, self.headers = origins, methods, headers
        self.max_age, self.credentials, self.expose = max_age, credentials, expose

    def allows(self, origin: str | None) -> bool:
        return origin is not None and ("*" in self.origins or origin in self.origins)

    def allow_origin(self, origin: str) -> str:
        return "*" if "*" in self.origins and not self.credentials else origin


class Route:
    __slots__ = ("function", "method", "path", "kind", "api", "cors", "_pattern", "_params", "_rank")

    DEFAULT = "$default"  # an HTTP API's catch-all: every method and path, "/" included, tried last

    def __init__(self, function: str, method: str, path: str, kind: str, api: str = "http",
                 cors: Cors | None = None) -> None:
        self.function = function
        self.api = api  # "rest" (an Api event) or "http" (an HttpApi event)
        self.cors = cors  # its API's CORS configuration, if the template gives one
        self.method = method.upper() if method.upper() in METHODS else "ANY"
        self.path = path if path.startswith("/") else "/" + path
        self.kind = kind  # "v1" (REST API, or an HTTP API's payload 1.0) or "v2"
        parts = [part for part in self.path.split("/") if part]
        regex, params, greedy, literal = "", [], 0, 0
        for part in parts:
            match = re.fullmatch(r"\{([^{}+]+)(\+?)\}", part)
            if match is None:
                regex += "/" + re.escape(part)
                literal += 1
            elif match.group(2):
                regex += "/(.+)"  # the rest of the path, slashes included
                params.append(match.group(1))
                greedy += 1
            else:
                regex += "/([^/]+)"
                params.append(match.group(1))
        self._pattern = re.compile(regex + "/?" if regex else "/")
        self._params = params
        # API Gateway's preference: no greedy parameter, then more literal segments, then
        # a method of its own over ANY.
        self._rank = (greedy, -literal, -len(parts), self.method == "ANY")
        if path == Route.DEFAULT:
            self.path = "/" + Route.DEFAULT
            self.method, self._pattern, self._params, self._rank = "ANY", re.compile("/.*"), [], (99, 0, 0, True)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route takes the request, else None."""
        if self.method != "ANY" and self.method != method.upper():
            return None
        found = self._pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in zip(self._params, found.groups())}

    def takes_path(self, path: str) -> bool:
        """Whether some method of this route takes `path` (what a preflight asks about)."""
        return self._pattern.fullmatch(path) is not None

    def key(self) -> str:
        """The HTTP API's routeKey (`GET /items/{id}`, `ANY /{proxy+}`, `$default`)."""
        return Route.DEFAULT if self.path == "/" + Route.DEFAULT else f"{self.method} {self.path}"


IMPLICIT = {"Api": "ServerlessRestApi", "HttpApi": "ServerlessHttpApi"}  # SAM's names for the implicit APIs


def routes_of(name: str, events: dict[str, Any], cors: dict[str, Cors] | None = None) -> list[Route]:
    """A function's routes from its template `Events`; `cors`: each API's CORS, by its
    logical id (`ServerlessRestApi`/`ServerlessHttpApi` for the implicit ones)."""
    routes = []
    for event in events.values():
        if not isinstance(event, dict) or event.get("Type") not in ("Api", "HttpApi"):
            continue
        found = event.get("Properties")
        properties: dict[str, Any] = found if isinstance(found, dict) else {}
        path, method = properties.get("Path"), properties.get("Method")
        api_ref = properties.get("RestApiId" if event["Type"] == "Api" else "ApiId")
        api_id = api_ref.get("Ref") if isinstance(api_ref, dict) else api_ref
        api_cors = (cors or {}).get(str(api_id) if api_id else IMPLICIT[event["Type"]])
        if event["Type"] == "Api":
            if isinstance(path, str):
                routes.append(Route(name, method if isinstance(method, str) else "ANY", path, "v1", "rest", api_cors))
            continue
        kind = "v1" if str(properties.get("PayloadFormatVersion", "2.0")) == "1.0" else "v2"
        if isinstance(path, str):
            routes.append(Route(name, method if isinstance(method, str) else "ANY", path, kind, "http", api_cors))
        else:  # an HttpApi event without a path: the API's $default route, every method and path
            routes.append(Route(name, "ANY", Route.DEFAULT, kind, "http", api_cors))
    return routes


def cors_of(document: dict[str, Any]) -> dict[str, Cors]:
    """Each API's CORS from a SAM template: the implicit APIs' from `Globals`, an explicit
    `AWS::Serverless::Api`'s `Cors` or `AWS::Serverless::HttpApi`'s `CorsConfiguration`."""
    found: dict[str, Cors] = {}
    globals_ = _mapping(document.get("Globals"))
    sources = [("ServerlessRestApi", "rest", _mapping(globals_.get("Api")).get("Cors")),
               ("ServerlessHttpApi", "http", _mapping(globals_.get("HttpApi")).get("CorsConfiguration"))]
    for name, resource in _mapping(document.get("Resources")).items():
        if isinstance(resource, dict) and resource.get("Type") in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi"):
            properties = _mapping(resource.get("Properties"))
            rest = resource["Type"] == "AWS::Serverless::Api"
            key = "Cors" if rest else "CorsConfiguration"
            # Globals apply to every API of their kind, an explicit one's own setting over them (SAM's Globals).
            setting = properties[key] if key in properties else sources[0 if rest else 1][2]
            sources.append((str(name), "rest" if rest else "http", setting))
    for name, api, setting in sources:
        cors = _rest_cors(setting) if api == "rest" else _http_cors(setting)
        if cors is not None:
            found[name] = cors
    return found


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _unquoted(value: Any) -> str:
    """SAM's REST CORS values are quoted for API Gateway: "'*'" is *."""
    text = str(value).strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def _rest_cors(setting: Any) -> Cors | None:
    if isinstance(setting, str):
        return Cors((_unquoted(setting),))
    if not isinstance(setting, dict) or "AllowOrigin" not in setting:
        return None
    def split(key: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in _unquoted(setting[key]).split(",") if p.strip()) if key in setting else ()

    return Cors((_unquoted(setting["AllowOrigin"]),), split("AllowMethods"), split("AllowHeaders"),
                _unquoted(setting["MaxAge"]) if "MaxAge" in setting else None, setting.get("AllowCredentials") is True)


def _http_cors(setting: Any) -> Cors | None:
    if setting is True:
        return Cors(("*",), ("*",), ("*",))
    if not isinstance(setting, dict):
        return None
    def listed(key: str) -> tuple[str, ...]:
        value = setting.get(key) or ()
        values = (value,) if isinstance(value, (str, int)) else value  # one value given without a list
        return tuple(str(v) for v in values if isinstance(v, (str, int)))

    return Cors(listed("AllowOrigins"), listed("AllowMethods"), listed("AllowHeaders"),
                str(setting["MaxAge"]) if "MaxAge" in setting else None, setting.get("AllowCredentials") is True,
                listed("ExposeHeaders"))


def pick(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route that takes `method path`, and its path parameters."""
    for route in sorted(routes, key=lambda r: r._rank):
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


def shaped(event: dict[str, Any], route: Route, params: dict[str, str]) -> dict[str, Any]:
    """The event the front built for `route.kind`, with the route's resource or route key
    and its path parameters, as API Gateway fills them."""
    if route.kind == "v2":
        event["routeKey"] = event["requestContext"]["routeKey"] = route.key()
        if params:
            event["pathParameters"] = params
        else:
            event.pop("pathParameters", None)
        return event
    event["resource"] = event["requestContext"]["resourcePath"] = route.path
    event["pathParameters"] = params or None
    if route.api == "http":  # an HTTP API's payload 1.0: its version, its $default stage, no stage in the path
        event["version"] = "1.0"
        context = event["requestContext"]
        context["stage"], context["path"] = "$default", event["path"]
        if route.path == "/" + Route.DEFAULT:
            event["resource"] = context["resourcePath"] = "$default"
    return event


def preflight(routes: list[Route], method: str, path: str,
              header: Callable[[str], str | None]) -> tuple[int, list[tuple[str, str]]] | None:
    """The front's own answer to an OPTIONS request to a path whose API configures CORS,
    as API Gateway answers it; None when the request is routed as any other. A REST API
    answers every OPTIONS with the configured values (the OPTIONS method SAM adds, unless
    the template has one of its own there; `Access-Control-Allow-Methods` defaults to the
    path's methods and OPTIONS, as SAM fills it). An HTTP API answers a preflight (`Origin`
    and `Access-Control-Request-Method`), granting an allowed origin only.
    `header`: the request's header by lower-case name (`Request.header`)."""
    if method.upper() != "OPTIONS":
        return None
    on_path = [r for r in routes if r.takes_path(path)]
    configured = [r for r in on_path if r.cors is not None]
    if not configured or any(r.method == "OPTIONS" and r.api == configured[0].api for r in on_path):
        return None
    route = configured[0]
    cors = route.cors
    assert cors is not None
    origin = header("origin")
    if route.api == "http":
        if origin is None or header("access-control-request-method") is None:
            return None
        if not cors.allows(origin):
            return 204, []  # an HTTP API answers a preflight from an origin it does not allow, granting nothing
        allow_origin = cors.allow_origin(origin)
        methods = cors.methods
    else:
        allow_origin = cors.origins[0]
        methods = cors.methods or _path_methods([r for r in on_path if r.api == "rest"])
    out = [("Access-Control-Allow-Origin", allow_origin)]
    if methods:
        out.append(("Access-Control-Allow-Methods", ",".join(methods)))
    if cors.headers:
        out.append(("Access-Control-Allow-Headers", ",".join(cors.headers)))
    if cors.max_age:
        out.append(("Access-Control-Max-Age", cors.max_age))
    if cors.credentials:
        out.append(("Access-Control-Allow-Credentials", "true"))
    return (204 if route.api == "http" else 200), out


def _path_methods(routes: list[Route]) -> tuple[str, ...]:
    """SAM's default Access-Control-Allow-Methods for a path: its methods and OPTIONS,
    sorted (every method for ANY)."""
    methods = {m for r in routes for m in (METHODS[:-1] if r.method == "ANY" else (r.method,))}
    return tuple(sorted(methods | {"OPTIONS"}))


def with_cors(route: Route, origin: str | None, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A response's headers as an HTTP API with CORS sends them: the function's own CORS
    headers ignored (AWS: "API Gateway ignores CORS headers returned from your backend
    integration"), the configured grant added for an allowed origin. A REST API's, and an
    HTTP API's without CORS, as the function set them."""
    cors = route.cors
    if route.api != "http" or cors is None:
        return headers
    out = [(name, value) for name, value in headers if not name.lower().startswith("access-control-")]
    if origin is None or not cors.allows(origin):
        return out
    out.append(("Access-Control-Allow-Origin", cors.allow_origin(origin)))
    if cors.expose:
        out.append(("Access-Control-Expose-Headers", ",".join(cors.expose)))
    if cors.credentials:
        out.append(("Access-Control-Allow-Credentials", "true"))
    return out
