"""Which HTTP source sent an event (None: not an HTTP event, pass it through).

Loose on purpose: an event that claims a shape is validated strictly afterwards, so a
broken API Gateway event is reported with the missing field instead of slipping past.
"""

from __future__ import annotations

from typing import Any

SOURCES = ("apigw-v1", "apigw-v2", "function-url", "alb")


def http_source(event: Any) -> str | None:
    if not isinstance(event, dict):
        return None
    context = event.get("requestContext")
    if not isinstance(context, dict):
        return None
    if isinstance(context.get("elb"), dict):
        return "alb"
    # WebSocket messages and API Gateway authorizer requests are not HTTP requests.
    if "connectionId" in context or "methodArn" in event or "routeArn" in event:
        return None
    if event.get("version") == "2.0":
        if "serviceNetworkArn" in context or not isinstance(context.get("http"), dict):
            return None  # VPC Lattice v2 has its own shape; not one of ours
        domain = context.get("domainName")
        if isinstance(domain, str) and ".lambda-url." in domain:
            return "function-url"
        return "apigw-v2"
    if "httpMethod" in event:
        return "apigw-v1"
    return None
