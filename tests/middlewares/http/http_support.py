"""Paths and expectations for the http middleware tests (the AWS event samples
themselves: aws_fixtures, shared with the other middlewares' tests)."""

from __future__ import annotations

from pathlib import Path

import aws_fixtures
from aws_fixtures import ALL_FIXTURES, FIXTURES, load, raw

__all__ = ["ALL_FIXTURES", "EXECUTABLE", "FIXTURES", "HTTP_FIXTURES", "INVALID_HTTP_FIXTURES",
           "MALFORMED", "MIDDLEWARE_DIR", "REPO", "load", "raw"]

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
