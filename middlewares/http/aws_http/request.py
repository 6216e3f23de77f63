"""HTTP events of the four sources → one normalized request (shape in README.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

from .body import NotBase64, request_body
from .fields import Node
from .multimap import collect, cookies_from_headers, lower


def _body(root: Node) -> tuple[str, bool]:
    body = root.opt_text("body") or ""
    is_base64 = root.opt_bool("isBase64Encoded")
    try:
        return request_body(body, is_base64)
    except NotBase64 as exc:
        preview = body if len(body) <= 40 else body[:40] + "…"
        raise root.fail(
            "body", f"is not valid base64 although isBase64Encoded is true: {preview!r} ({exc})"
        ) from None


def _query_from_raw(raw: str) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    return query


def _first_forwarded(headers: dict[str, list[str]]) -> str | None:
    values = headers.get("x-forwarded-for")
    if not values:
        return None
    return values[0].split(",")[0].strip() or None  # the client is the first hop


def _apigw_v1(root: Node) -> dict[str, Any]:
    context = root.obj("requestContext")
    context.text("stage")  # every REST / HTTP-API-1.0 event has it; its absence means a foreign shape
    query = collect(root, "multiValueQueryStringParameters", "queryStringParameters")
    headers = collect(root, "multiValueHeaders", "headers", fold=lower)
    identity = context.opt_map("identity")
    return {
        "method": root.text("httpMethod"),
        "path": root.text("path"),
        "rawQuery": urlencode([(k, v) for k, vs in query.items() for v in vs]),
        "query": query,
        "headers": headers,
        "cookies": cookies_from_headers(headers),
        "pathParameters": root.opt_map("pathParameters"),
        "stageVariables": root.opt_map("stageVariables"),
        "sourceIp": identity.get("sourceIp"),
        "requestId": context.text("requestId"),
    }


def _apigw_v2(root: Node) -> dict[str, Any]:
    context = root.obj("requestContext")
    http = context.obj("http")
    raw_query = root.opt_text("rawQueryString") or ""
    headers = collect(root, "multiValueHeaders", "headers", fold=lower)
    cookies = root.raw("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise root.fail("cookies", "must be an array of strings")
    if cookies and "cookie" not in headers:
        # v2 moves cookies out of the headers; put them back so headers are complete.
        headers["cookie"] = ["; ".join(cookies)]
    return {
        "method": http.text("method"),
        "path": root.text("rawPath"),
        "rawQuery": raw_query,
        "query": _query_from_raw(raw_query),
        "headers": headers,
        "cookies": list(cookies) or cookies_from_headers(headers),
        "pathParameters": root.opt_map("pathParameters"),
        "stageVariables": root.opt_map("stageVariables"),
        "sourceIp": http.opt_text("sourceIp"),
        "requestId": context.text("requestId"),
    }


def _alb(root: Node) -> dict[str, Any]:
    root.obj("requestContext").obj("elb").text("targetGroupArn")
    # ALB hands query names and values on still URL-encoded.
    query = collect(root, "multiValueQueryStringParameters", "queryStringParameters",
                    decode=unquote_plus)
    encoded = collect(root, "multiValueQueryStringParameters", "queryStringParameters")
    headers = collect(root, "multiValueHeaders", "headers", fold=lower)
    trace = headers.get("x-amzn-trace-id")
    return {
        "method": root.text("httpMethod"),
        "path": root.text("path"),
        "rawQuery": "&".join(f"{k}={v}" for k, vs in encoded.items() for v in vs),
        "query": query,
        "headers": headers,
        "cookies": cookies_from_headers(headers),
        "pathParameters": {},
        "stageVariables": {},
        "sourceIp": _first_forwarded(headers),
        "requestId": trace[0] if trace else None,
    }


_NORMALIZERS = {"apigw-v1": _apigw_v1, "apigw-v2": _apigw_v2, "function-url": _apigw_v2, "alb": _alb}


def normalize(event: dict[str, Any], source: str) -> dict[str, Any]:
    """The normalized request for an event of `source` (see aws_events.http_source)."""
    root = Node(event, "", source)
    fields = _NORMALIZERS[source](root)
    body, is_base64 = _body(root)
    return {
        "source": source,
        **fields,
        "body": body,
        "isBase64Encoded": is_base64,
        "requestContext": root.raw("requestContext"),
    }


def alb_multi_value(event: dict[str, Any]) -> bool:
    """Whether the target group has multi-value headers on: the response must match."""
    return (event.get("multiValueHeaders") is not None
            or event.get("multiValueQueryStringParameters") is not None)
