"""HTTP events by shape: API Gateway REST (v1) and HTTP API (v2), ALB, Function URLs.

Only what `validate` needs once `aws_events.http_source` has recognised the event: get
its body as bytes, and build a response that the event's source accepts.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_events import HttpSource

_REASONS = {400: "Bad Request", 415: "Unsupported Media Type", 422: "Unprocessable Entity"}


class BodyError(ValueError):
    """The body cannot be decoded (bad base64)."""


NORMALIZED_SOURCES = ("apigw-v1", "apigw-v2", "function-url", "alb")
NORMALIZED_KEYS = ("method", "path", "headers", "body", "isBase64Encoded", "requestContext")


def is_normalized_request(event: Any) -> bool:
    """The request as the http middleware hands it on (its README, "The normalized request")."""
    return (isinstance(event, dict) and event.get("source") in NORMALIZED_SOURCES
            and all(key in event for key in NORMALIZED_KEYS))


def body_bytes(event: dict[str, Any]) -> bytes | None:
    """The request body (base64 decoded when flagged), None when there is none."""
    body = event.get("body")
    if body is None or body == "":
        return None
    if not isinstance(body, str):
        raise BodyError("body is not a string")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BodyError(f"body is flagged base64 but does not decode: {exc}") from None
    return body.encode("utf-8", "surrogatepass")  # a lone surrogate: then not UTF-8, so "not valid JSON"


def json_response(source: HttpSource, event: dict[str, Any], status: int, body: Any) -> dict[str, Any]:
    """A response in the shape `source` expects, with a JSON body."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    response: dict[str, Any] = {"statusCode": status}
    if source == "alb":
        response["statusDescription"] = f"{status} {_REASONS.get(status, 'Error')}"
        # A target group with multi-value headers sends and expects only multiValueHeaders.
        if "multiValueHeaders" in event and "headers" not in event:
            response["multiValueHeaders"] = {"Content-Type": ["application/json"]}
        else:
            response["headers"] = {"Content-Type": "application/json"}
    elif source == "apigw-v1":
        response["headers"] = {"Content-Type": "application/json"}
    else:  # HTTP API v2 and Function URLs: lower-case header names, as they normalise them
        response["headers"] = {"content-type": "application/json"}
    response["body"] = text
    response["isBase64Encoded"] = False
    return response
