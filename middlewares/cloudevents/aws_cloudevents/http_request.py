"""HTTP-sourced events (API Gateway REST v1, HTTP API v2, Function URL, ALB) → one
CloudEvent whose data is the whole event (the reference's convention for API Gateway /
Function URL; ALB is our extension of it, see README)."""

from __future__ import annotations

from typing import Any

from aws_events import Node

from .event import Payload, cloud_event
from .timestamps import from_epoch_ms

API_TYPE = "com.amazonaws.apigateway.request"
ALB_TYPE = "com.amazonaws.elasticloadbalancing.request"


def _api(event: Any, kind: str) -> dict[str, Any]:
    root = Node.root(event, kind)
    context = root.obj("requestContext")
    if kind == "apigw-v1":
        path, time_key = root.text("path"), "requestTimeEpoch"
        root.text("httpMethod")
    else:
        path, time_key = root.text("rawPath"), "timeEpoch"
        context.obj("http").text("method")
    return cloud_event(
        id=context.text("requestId"),
        source=_domain(root, context) + path,
        type=API_TYPE,
        subject=path,
        time=from_epoch_ms(context, time_key) if context.has(time_key) else None,
        data=Payload.json(event),
    )


def _header(root: Node, name: str) -> str | None:
    """The first value of header `name` (lower-case) from `headers` or `multiValueHeaders`,
    names compared without case: API Gateway keeps the client's spelling, ALB lower-cases."""
    for key in ("headers", "multiValueHeaders"):
        headers = root.raw(key)
        if not isinstance(headers, dict):
            continue
        for header, value in headers.items():
            if isinstance(header, str) and header.lower() == name:
                first = value[0] if isinstance(value, list) and value else value
                if isinstance(first, str) and first:
                    return first
    return None


def _domain(root: Node, context: Node) -> str:
    """`requestContext.domainName`, else the `Host` header (the name the client called):
    the API Gateway test events of the Lambda console and `sam local generate-event` have
    no domainName. With neither, the error names domainName."""
    return context.opt_text("domainName") or _header(root, "host") or context.text("domainName")


def _alb(event: Any, fallback_id: str) -> dict[str, Any]:
    root = Node.root(event, "alb")
    target_group = root.obj("requestContext").obj("elb").text("targetGroupArn")
    path = root.text("path")
    root.text("httpMethod")
    return cloud_event(
        # ALB events carry no request id or timestamp; the trace id is unique per request.
        id=_header(root, "x-amzn-trace-id") or fallback_id,
        source=target_group,
        type=ALB_TYPE,
        subject=path,
        data=Payload.json(event),
    )


def convert(event: Any, kind: str, fallback_id: str) -> dict[str, Any]:
    if kind == "alb":
        return _alb(event, fallback_id)
    return _api(event, kind)
