"""Through the real orchestrator and emulator: API Gateway, ALB and Function URL events in,
each source's own response shape out, with `http` in exec and in persistent mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_fixtures import pipeline_for
from http_support import EXECUTABLE, raw

from tests.conftest import orchestrated


@pytest.mark.parametrize("mode", ["exec", "persistent"])
def test_http_middleware_in_a_pipeline(tmp_path: Path, hello_app: Path, mode: str) -> None:
    pipeline = pipeline_for(tmp_path, hello_app, [
        {"name": "http", "command": str(EXECUTABLE), "mode": mode, "hooks": ["before", "after"]},
    ])
    with orchestrated(pipeline) as emulator:
        v1 = emulator.invoke(raw("apigw-v1-proxy-request.json"))
        alb = emulator.invoke(raw("alb-request-multivalue-query.json"))
        url = emulator.invoke(raw("function-url-request-captured-base64-body.json"))
        broken = emulator.invoke(raw("apigw-v1-proxy-request-base64-flag-nonbase64-body.json"))
        plain = emulator.invoke(b'{"not": "http"}')

    # hello_app's handler returns {"event": …} without a statusCode: a 200 with a JSON body.
    response = v1.json()
    assert list(response) == ["statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"]
    seen = json.loads(response["body"])["event"]
    assert seen["source"] == "apigw-v1" and seen["path"] == "/hello/world"
    assert seen["headers"]["content-type"] == ["application/json"]

    response = alb.json()
    assert response["statusDescription"] == "200 OK" and "multiValueHeaders" in response
    assert json.loads(response["body"])["event"]["query"]["parameter1"] == ["value1", "value2"]

    response = url.json()
    assert list(response) == ["statusCode", "headers", "cookies", "body", "isBase64Encoded"]
    assert json.loads(response["body"])["event"]["body"] == "<idk/>"

    assert broken.function_error is not None
    assert "field 'body' is not valid base64" in broken.json()["errorMessage"]

    assert plain.json()["event"] == {"not": "http"}  # untouched both ways
