"""Paths and expectations for the http middleware tests (the AWS event samples
themselves: aws_fixtures, shared with the other middlewares' tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_fixtures
from aws_fixtures import ALL_FIXTURES, FIXTURES, load, raw

__all__ = ["ALL_FIXTURES", "EXECUTABLE", "FIXTURES", "HTTP_FIXTURES", "INVALID_HTTP_FIXTURES",
           "MALFORMED", "MIDDLEWARE_DIR", "REPO", "header", "load", "raw", "request_event"]

aws_fixtures.require_fixtures()

REPO = Path(__file__).resolve().parents[3]
MIDDLEWARE_DIR = REPO / "middlewares" / "http"
EXECUTABLE = MIDDLEWARE_DIR / "http"
MALFORMED = ["malformed/" + name for name in aws_fixtures.MALFORMED]


# The HTTP request fixtures and their source; every other fixture must pass through.
HTTP_FIXTURES: dict[str, str] = {
    "alb-request-base64-body.json": "alb",
    "alb-request-multivalue-headers.json": "alb",
    "alb-request-multivalue-query.json": "alb",
    "alb-request-single-value-headers.json": "alb",
    "apigw-v1-proxy-request-captured-no-auth.json": "apigw-v1",
    "apigw-v1-proxy-request-console-test-null-headers.json": "apigw-v1",
    "apigw-v1-proxy-request-multivalue.json": "apigw-v1",
    "apigw-v1-proxy-request.json": "apigw-v1",
    "apigw-v2-http-request-captured-post.json": "apigw-v2",
    "apigw-v2-http-request-iam.json": "apigw-v2",
    "apigw-v2-http-request-no-authorizer.json": "apigw-v2",
    "apigw-v2-http-request.json": "apigw-v2",
    "function-url-request-browser-get.json": "function-url",
    "function-url-request-captured-base64-body.json": "function-url",
    "function-url-request-captured-cookies-text-body.json": "function-url",
    "function-url-request-iam.json": "function-url",
}
# HTTP-shaped, but invalid: the middleware must fail, naming the field.
INVALID_HTTP_FIXTURES: dict[str, str] = {
    "apigw-v1-proxy-request-base64-flag-nonbase64-body.json": "body",
    "malformed/apigw-v2-http-request-invalid.json": "requestContext.stage",
    "malformed/function-url-request-invalid-no-rawpath.json": "rawPath",
}


# The documented response keys of each source.
SHAPES = {
    "apigw-v1": ["statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"],
    "apigw-v2": ["statusCode", "headers", "cookies", "body", "isBase64Encoded"],
    "function-url": ["statusCode", "headers", "cookies", "body", "isBase64Encoded"],
    "alb-multi": ["statusCode", "statusDescription", "multiValueHeaders", "body", "isBase64Encoded"],
    "alb-single": ["statusCode", "statusDescription", "headers", "body", "isBase64Encoded"],
}


def request_event(name: str, *, method: str | None = None, headers: dict[str, str] | None = None,
                  body: str | None = None, is_base64: bool = False) -> bytes:
    """The HTTP fixture `name` with another method, headers (replacing any spelling of the
    same name, in the single- and the multi-value map the event has) or body."""
    event = load(name)
    if method is not None:
        if "httpMethod" in event:
            event["httpMethod"] = method
        else:
            event["requestContext"]["http"]["method"] = method
    maps = [key for key in ("headers", "multiValueHeaders") if isinstance(event.get(key), dict)] or ["headers"]
    for key in maps:
        current = event.get(key) or {}
        for header, value in (headers or {}).items():
            current = {k: v for k, v in current.items() if k.lower() != header.lower()}
            current[header] = [value] if key == "multiValueHeaders" else value
        event[key] = current
    if body is not None:
        event["body"] = body
        event["isBase64Encoded"] = is_base64
    return json.dumps(event).encode()


def header(response: dict[str, Any], name: str) -> str | None:
    """A header of a shaped response, whichever map the source uses (values joined)."""
    for key in ("multiValueHeaders", "headers"):
        for found, value in (response.get(key) or {}).items():
            if found.lower() == name.lower():
                return ", ".join(value) if isinstance(value, list) else value
    return None
