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
from openruntime.runtime_api.http import LoopbackHTTPServer, Request, Response

if TYPE_CHECKING:
    from openruntime.emulator.sandbox import InvokeResult, StreamedBody

KINDS = ("v2", "url", "v1", "alb")
ACCOUNT_ID = "123456789012"
PRELUDE_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "+json", "+xml")


def http_front(emulator: Any, port: int, kind: str = "v2") -> LoopbackHTTPServer:
    """The front, not started; `emulator` is a sandbox or a pool (anything with `invoke`)."""
    return LoopbackHTTPServer(lambda request: serve_request(emulator, request, kind), port=port,
                              max_body=errors.MAX_REQUEST_BYTES, name="http-front")


def serve_request(emulator: Any, request: Request, kind: str) -> Response:
    if request.oversize is not None:
        return Response(413, b'{"message":"Request Entity Too Large"}', [("Content-Type", "application/json")])
    event = build_event(kind, request)
    result = emulator.invoke(json.dumps(event).encode(), stream=kind in ("v2", "url"))
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
    headers: list[tuple[str, str]] = []
    for name, item in (value.get("headers") or {}).items():
        headers.append((str(name), str(item)))
    for name, items in (value.get("multiValueHeaders") or {}).items() if kind in ("v1", "alb") else ():
        headers += [(str(name), str(item)) for item in items or []]
    for cookie in value.get("cookies") or [] if kind in ("v2", "url") else []:
        headers.append(("Set-Cookie", str(cookie)))
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
    content type says so), the rest passed on as it arrives."""
    chunks = iter(stream)
    if stream.content_type.split(";")[0].strip().lower() != PRELUDE_CONTENT_TYPE:
        return Response(200, headers=[("Content-Type", stream.content_type)], stream=chunks)
    head = b""
    rest = b""
    for chunk in chunks:
        head += chunk
        if b"\0" * 8 in head:
            head, _, rest = head.partition(b"\0" * 8)
            break
        if len(head) > 1024 * 1024:
            return Response(502, b'{"message":"Internal Server Error"}', [("Content-Type", "application/json")])
    try:
        prelude = json.loads(head or b"{}")
    except (ValueError, RecursionError):
        return Response(502, b'{"message":"Internal Server Error"}', [("Content-Type", "application/json")])
    headers = [(str(k), str(v)) for k, v in (prelude.get("headers") or {}).items()]
    headers += [("Set-Cookie", str(c)) for c in prelude.get("cookies") or []]

    def body() -> Iterator[bytes]:
        if rest:
            yield rest
        yield from chunks

    return Response(int(prelude.get("statusCode", 200)), headers=headers, stream=body())
