"""`openruntime serve --http PORT`: real HTTP on loopback in front of the function, as API
Gateway or a function URL would put it (like `sam local start-api`, without Docker).

Each request becomes the event its source sends (`--http-event`): `v2` (API Gateway HTTP
API, payload 2.0, the default), `url` (a function URL: the same format, its own request
context), `v1` (REST API, payload 1.0) or `alb` (Application Load Balancer). The function's
answer goes back as that source reads it: `statusCode`, headers (and `multiValueHeaders`
for v1/alb), `cookies` (v2/url) as `Set-Cookie`, base64 bodies decoded; for v2/url an
answer that is not such an object is the body of a 200 (HTTP APIs infer it), and a
failed invocation is the source's own 502. A streamed answer (v2/url; Node's
`awslambda.HttpResponseStream.from`, a prelude, 8 NULs, then the body) streams: the
prelude gives status, headers and cookies, the rest goes out chunk by chunk.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from openruntime import errors
from openruntime.emulator.routes import Route, pick, preflight, shaped, with_cors
from openruntime.emulator.sandbox import ACCOUNT_ID  # one account: the events' and the function's ARN
from openruntime.runtime_api.http import LoopbackHTTPServer, Request, Response

if TYPE_CHECKING:
    from openruntime.emulator.sandbox import InvokeResult, StreamedBody

KINDS = ("v2", "url", "v1", "alb")
PRELUDE_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "+json", "+xml")


BODILESS = frozenset((204, 304))  # statuses that carry no body (RFC 9110)


def http_front(emulator: Any, port: int, kind: str = "v2") -> LoopbackHTTPServer:
    """The front, not started; `emulator` is a sandbox or a pool (anything with `invoke`)."""
    return LoopbackHTTPServer(lambda request: serve_request(emulator, request, kind), port=port,
                              max_body=errors.MAX_REQUEST_BYTES, name="http-front")


def serve_request(emulator: Any, request: Request, kind: str) -> Response:
    if request.oversize is not None:
        return Response(413, b'{"message":"Request Entity Too Large"}', [("Content-Type", "application/json")])
    return _invoked(emulator, build_event(kind, request), kind)


def routed_front(functions: Any, routes: list[Route], port: int) -> LoopbackHTTPServer:
    """The front for a SAM template's API events (routes.py): each request to the function
    whose route takes it, in its API's payload format. `functions` maps names to targets."""
    return LoopbackHTTPServer(lambda request: serve_routed(functions, routes, request), port=port,
                              max_body=errors.MAX_REQUEST_BYTES, name="http-front")


def serve_routed(functions: Any, routes: list[Route], request: Request) -> Response:
    if request.oversize is not None:
        return Response(413, b'{"message":"Request Entity Too Large"}', [("Content-Type", "application/json")])
    path = request.target.partition("?")[0]
    answered = preflight(routes, request.method, path, request.header)
    if answered is not None:
        return Response(answered[0], b"", answered[1])
    picked = pick(routes, request.method, path)
    if picked is None:
        if all(route.api == "rest" for route in routes):  # a REST API's answer to a route it does not have
            return Response(403, b'{"message":"Missing Authentication Token"}', [("Content-Type", "application/json")])
        return Response(404, b'{"message":"Not Found"}', [("Content-Type", "application/json")])
    route, params = picked
    response = _invoked(functions.targets[route.function], shaped(build_event(route.kind, request), route, params),
                        route.kind)
    response.headers = with_cors(route, request.header("origin"), response.headers)
    return response


def _invoked(target: Any, event: dict[str, Any], kind: str) -> Response:
    result = target.invoke(json.dumps(event).encode(), stream=kind in ("v2", "url"))
    if result.stream is not None:
        return _streamed(result.stream)
    return answer(kind, result)


# -- requests into events ---------------------------------------------------------------------


def _is_text(content_type: str) -> bool:
    lowered = content_type.lower()
    return any(marker in lowered for marker in TEXT_TYPES)


def _body(request: Request) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    content_type = request.header("content-type") or ""
    if _is_text(content_type):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def _multi(pairs: list[tuple[str, str]], lower: bool) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key.lower() if lower else key, []).append(value)
    return out


def build_event(kind: str, request: Request) -> dict[str, Any]:
    path, _, query = request.target.partition("?")
    query_pairs = parse_qsl(query, keep_blank_values=True)
    body, encoded = _body(request)
    now = time.time()
    request_id = str(uuid.uuid4())
    agent = request.header("user-agent") or ""
    if kind in ("v2", "url"):
        headers = {k: ",".join(v) for k, v in _multi(request.headers, True).items() if k != "cookie"}
        cookies = [c.strip() for value in _multi(request.headers, True).get("cookie", []) for c in value.split(";")
                   if c.strip()]
        host = request.header("host") or "127.0.0.1"
        context: dict[str, Any] = {
            "accountId": ACCOUNT_ID if kind == "v2" else "anonymous", "apiId": "openruntime",
            "domainName": host, "domainPrefix": host.split(".")[0],
            "http": {"method": request.method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": agent},
            "requestId": request_id, "routeKey": "$default", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
        }
        event: dict[str, Any] = {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
                                 "headers": headers, "requestContext": context, "isBase64Encoded": encoded}
        if cookies:
            event["cookies"] = cookies
        if query_pairs:
            event["queryStringParameters"] = {k: ",".join(v) for k, v in _multi(query_pairs, False).items()}
        if body is not None:
            event["body"] = body
        return event
    multi_headers = _multi(request.headers, kind == "alb")
    multi_query = _multi(query_pairs, False)
    if kind == "alb":
        return {"requestContext": {"elb": {"targetGroupArn": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT_ID}:"
                                                             "targetgroup/openruntime/0123456789abcdef"}},
                "httpMethod": request.method, "path": path,
                "queryStringParameters": {k: v[-1] for k, v in multi_query.items()},
                "headers": {k: v[-1] for k, v in multi_headers.items()},
                "body": body or "", "isBase64Encoded": encoded}
    return {"resource": "/{proxy+}", "path": path, "httpMethod": request.method,
            "headers": {k: v[-1] for k, v in multi_headers.items()}, "multiValueHeaders": multi_headers,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
            "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": request.method, "path": f"/prod{path}",
                               "stage": "prod", "requestId": request_id, "accountId": ACCOUNT_ID,
                               "apiId": "openruntime", "protocol": "HTTP/1.1", "requestTimeEpoch": int(now * 1000),
                               "identity": {"sourceIp": "127.0.0.1", "userAgent": agent}},
            "body": body, "isBase64Encoded": encoded}


# -- answers into responses -------------------------------------------------------------------


def _failure(kind: str) -> Response:
    message = b'{"message":"Internal Server Error"}' if kind in ("v2", "url") else b'{"message": "Internal server error"}'
    return Response(502, message, [("Content-Type", "application/json")])


def answer(kind: str, result: InvokeResult) -> Response:
    if result.function_error or result.status != 200:
        return _failure(kind)
    try:
        value = json.loads(result.body)
    except (ValueError, RecursionError):
        return _failure(kind)
    if not (isinstance(value, dict) and "statusCode" in value):
        if kind in ("v2", "url"):  # HTTP APIs and function URLs infer a 200 with the answer as JSON body
            return Response(200, result.body, [("Content-Type", "application/json")])
        return _failure(kind)
    try:
        status = int(value["statusCode"])
    except (TypeError, ValueError):
        return _failure(kind)
    single, multi = value.get("headers") or {}, value.get("multiValueHeaders") or {}
    cookies = value.get("cookies") or []
    if not 200 <= status <= 599 or not isinstance(single, dict) or not isinstance(multi, dict) \
            or not isinstance(cookies, list) or not all(isinstance(v, (list, type(None))) for v in multi.values()):
        return _failure(kind)  # nothing a client could be sent
    headers: list[tuple[str, str]] = []
    if kind in ("v1", "alb"):
        # API Gateway merges the two maps; a name-value pair in both goes out once, as
        # multiValueHeaders has it (a doubled Access-Control-Allow-Origin fails CORS).
        for name, items in multi.items():
            headers += [(str(name), str(item)) for item in items or []]
    sent = {(name.lower(), value) for name, value in headers}
    for name, item in single.items():
        if (str(name).lower(), str(item)) not in sent:
            headers.append((str(name), str(item)))
    for cookie in cookies if kind in ("v2", "url") else []:
        headers.append(("Set-Cookie", str(cookie)))
    if not _sendable(headers):
        return _failure(kind)
    if status in BODILESS:
        return Response(status, b"", headers)
    raw = value.get("body")
    if raw is None:
        body = b""
    elif value.get("isBase64Encoded"):
        try:
            body = base64.b64decode(str(raw), validate=True)
        except ValueError:
            return _failure(kind)
    else:
        body = raw.encode("utf-8") if isinstance(raw, str) else json.dumps(raw).encode()
    return Response(status, body, headers)


def _streamed(stream: StreamedBody) -> Response:
    """A streamed answer: the HTTP integration prelude read off its first bytes (when the
    content type says so), the rest passed on as it arrives. Nothing is sent before the
    first byte, so a function that fails before it is a 502, as a function URL answers; one
    that fails after it has its connection cut without the closing chunk, so the caller
    sees a truncated response, not a complete one."""
    chunks = iter(stream)
    first = next(chunks, None)
    if first is None and stream.error_type is not None:
        return _failure("url")
    if stream.content_type.split(";")[0].strip().lower() != PRELUDE_CONTENT_TYPE:
        return Response(200, headers=[("Content-Type", stream.content_type)],
                        stream=_until_error(stream, first or b"", chunks))
    head = first or b""
    while b"\0" * 8 not in head:
        if len(head) > 1024 * 1024:
            return _failure("url")
        chunk = next(chunks, None)
        if chunk is None:
            break
        head += chunk
    head, _, rest = head.partition(b"\0" * 8)
    if stream.error_type is not None:  # ended inside the prelude
        return _failure("url")
    prelude = _prelude(head)
    if prelude is None:
        return _failure("url")
    status, headers = prelude
    if status in BODILESS:  # no body may follow (RFC 9110): what the function wrote is dropped
        for _ in chunks:
            pass
        return _failure("url") if stream.error_type is not None else Response(status, b"", headers)
    return Response(status, headers=headers, stream=_until_error(stream, rest, chunks))


def _sendable(headers: list[tuple[str, str]]) -> bool:
    """Headers that go out as written: no CR, LF or NUL (which would split the response)
    and nothing HTTP/1.1's Latin-1 head cannot carry."""
    try:
        for pair in headers:
            for text in pair:
                if "\r" in text or "\n" in text or "\0" in text:
                    return False
                text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _prelude(head: bytes) -> tuple[int, list[tuple[str, str]]] | None:
    """Status and headers from an HTTP integration prelude; None when it is not one a
    function URL would accept (not a JSON object, a status outside 200-599, headers that
    are not an object, cookies that are not a list)."""
    try:
        prelude = json.loads(head or b"{}")
    except (ValueError, RecursionError):
        return None
    if not isinstance(prelude, dict):
        return None
    status = prelude.get("statusCode", 200)
    headers, cookies = prelude.get("headers") or {}, prelude.get("cookies") or []
    if type(status) is not int or not 200 <= status <= 599 or not isinstance(headers, dict) \
            or not isinstance(cookies, list):
        return None
    pairs = [(str(k), str(v)) for k, v in headers.items()]
    pairs += [("Set-Cookie", str(c)) for c in cookies]
    if not _sendable(pairs):
        return None
    return status, pairs


def _until_error(stream: StreamedBody, first: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from chunks
    if stream.error_type is not None:
        # Ends the connection without the closing chunk: the caller sees the body cut short.
        raise ConnectionAbortedError(f"the function failed mid-stream: {stream.error_type}")
