"""Shared paths and helpers for the http middleware tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
MIDDLEWARE_DIR = REPO / "middlewares" / "http"
EXECUTABLE = MIDDLEWARE_DIR / "http"


def _shared() -> Path:
    explicit = os.environ.get("OPENRUNTIME_SHARED")
    return Path(explicit) if explicit else REPO.parent / "shared"


FIXTURES = _shared() / "fixtures" / "aws-events"
if not FIXTURES.is_dir():
    pytest.fail(f"AWS event fixtures not found at {FIXTURES}; set OPENRUNTIME_SHARED", pytrace=False)

ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.json"))
MALFORMED = sorted("malformed/" + p.name for p in (FIXTURES / "malformed").glob("*.json"))


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load(name: str) -> Any:
    return json.loads(raw(name))


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
