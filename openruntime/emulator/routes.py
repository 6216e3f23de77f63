"""A SAM template's API events as routes, as `sam local start-api` serves them.

Each `Api` event (a REST API: payload 1.0) and `HttpApi` event (an HTTP API: payload 2.0
unless `PayloadFormatVersion: "1.0"`) of a function is a route: a method (`ANY` matches
every one) and a path whose `{name}` segments are path parameters and whose `{name+}`
takes the rest of the path. A request goes to the most specific route that matches, as
API Gateway picks: literal segments before parameters, a greedy parameter last. The
function gets the event its API sends, with `resource`/`routeKey` and `pathParameters`
filled from the route. A request no route takes is answered as API Gateway answers it:
a REST API's 403 `Missing Authentication Token`, an HTTP API's 404 `Not Found`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")


class Route:
    __slots__ = ("function", "method", "path", "kind", "api", "_pattern", "_params", "_rank")

    def __init__(self, function: str, method: str, path: str, kind: str, api: str = "http") -> None:
        self.function = function
        self.api = api  # "rest" (an Api event) or "http" (an HttpApi event)
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

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route takes the request, else None."""
        if self.method != "ANY" and self.method != method.upper():
            return None
        found = self._pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in zip(self._params, found.groups())}

    def key(self) -> str:
        """The HTTP API's routeKey (`GET /items/{id}`, `ANY /{proxy+}`)."""
        return f"{self.method} {self.path}"


def routes_of(name: str, events: dict[str, Any]) -> list[Route]:
    """A function's routes from its template `Events`."""
    routes = []
    for event in events.values():
        if not isinstance(event, dict) or event.get("Type") not in ("Api", "HttpApi"):
            continue
        found = event.get("Properties")
        properties: dict[str, Any] = found if isinstance(found, dict) else {}
        path, method = properties.get("Path"), properties.get("Method")
        if event["Type"] == "Api":
            if isinstance(path, str):
                routes.append(Route(name, method if isinstance(method, str) else "ANY", path, "v1", "rest"))
            continue
        kind = "v1" if str(properties.get("PayloadFormatVersion", "2.0")) == "1.0" else "v2"
        if isinstance(path, str):
            routes.append(Route(name, method if isinstance(method, str) else "ANY", path, kind))
        else:  # an HttpApi event without a path: the API's $default route, every method and path
            routes.append(Route(name, "ANY", "/{proxy+}", kind))
    return routes


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
    return event
