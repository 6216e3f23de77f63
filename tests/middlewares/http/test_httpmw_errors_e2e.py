"""Through the real orchestrator and emulator: a handler that raises behind `http` (hooks
before, after, error) gives the caller a 500 in the source's response shape — a response,
so no X-Amz-Function-Error — and a non-HTTP invocation still fails as before."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_fixtures import pipeline_for
from http_support import EXECUTABLE, REPO, raw

from tests.conftest import orchestrated, write_executable

SDK = REPO / "middlewares" / "lib" / "python"
SHAPES = {
    "apigw-v1-proxy-request.json": ["statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"],
    "apigw-v2-http-request.json": ["statusCode", "headers", "cookies", "body", "isBase64Encoded"],
    "function-url-request-captured-cookies-text-body.json":
        ["statusCode", "headers", "cookies", "body", "isBase64Encoded"],
    "alb-request-multivalue-headers.json":
        ["statusCode", "statusDescription", "multiValueHeaders", "body", "isBase64Encoded"],
    "alb-request-single-value-headers.json":
        ["statusCode", "statusDescription", "headers", "body", "isBase64Encoded"],
}


def http_middleware(mode: str, **extra: Any) -> dict[str, Any]:
    return {"name": "http", "command": str(EXECUTABLE), "mode": mode,
            "hooks": ["before", "after", "error"], **extra}


@pytest.mark.parametrize("mode", ["exec", "persistent"])
def test_a_raising_handler_becomes_a_500_in_each_source_shape(tmp_path: Path, hello_app: Path, mode: str) -> None:
    pipeline = pipeline_for(tmp_path, hello_app, [http_middleware(mode)], handler="app.boom")
    with orchestrated(pipeline) as emulator:
        results = {fixture: emulator.invoke(raw(fixture)) for fixture in SHAPES}
        plain = emulator.invoke(b'{"not": "http"}')

    for fixture, result in results.items():
        assert result.status == 200, fixture
        assert result.function_error is None, fixture  # a response now, not a Lambda error
        response = result.json()
        assert list(response) == SHAPES[fixture], fixture
        assert response["statusCode"] == 500
        assert json.loads(response["body"]) == {"message": "Internal Server Error",
                                                "requestId": result.request_id}
        assert "stackTrace" not in response["body"] and "on purpose" not in response["body"]
        if "statusDescription" in response:
            assert response["statusDescription"] == "500 Internal Server Error"

    # Not an HTTP event: the handler's error reaches the caller unchanged.
    assert plain.function_error is not None
    error = plain.json()
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "the handler failed on purpose"
    assert error["stackTrace"]


@pytest.mark.parametrize("mode", ["exec", "persistent"])
def test_expose_errors_through_the_middleware_env(tmp_path: Path, hello_app: Path, mode: str) -> None:
    middleware = http_middleware(mode, env={"HTTP_EXPOSE_ERRORS": "1"})
    pipeline = pipeline_for(tmp_path, hello_app, [middleware], handler="app.boom")
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(raw("apigw-v2-http-request.json"))
    assert result.function_error is None
    response = result.json()
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {
        "message": "Internal Server Error", "requestId": result.request_id,
        "errorType": "ValueError", "errorMessage": "the handler failed on purpose",
    }


@pytest.mark.parametrize("inner_mode", ["exec", "persistent"])
def test_a_validation_failure_inside_http_becomes_a_400(tmp_path: Path, hello_app: Path, inner_mode: str) -> None:
    # An SDK middleware inside `http` that rejects the normalized request. Its error keeps
    # its own errorType in both modes (exec: exit status 4 with the error object on STDOUT).
    check = write_executable(tmp_path / "check", f"""
        #!{sys.executable}
        import sys; sys.path.insert(0, {str(SDK)!r})
        from openruntime_middleware import Fail, before, run

        @before
        def check(request, ctx):
            if request.get("method") != "GET":
                raise Fail(f"method {{request.get('method')}} is not allowed", "Validation.Failed")
            return None

        run()
    """)
    middlewares = [
        http_middleware("exec", env={"HTTP_EXPOSE_ERRORS": "1"}),
        {"name": "check", "command": str(check), "mode": inner_mode, "hooks": ["before"]},
    ]
    pipeline = pipeline_for(tmp_path, hello_app, middlewares)
    with orchestrated(pipeline) as emulator:
        rejected = emulator.invoke(raw("apigw-v2-http-request-captured-post.json"))
        accepted = emulator.invoke(raw("function-url-request-browser-get.json"))

    assert rejected.function_error is None
    response = rejected.json()
    assert list(response) == ["statusCode", "headers", "cookies", "body", "isBase64Encoded"]
    assert response["statusCode"] == 400
    body = json.loads(response["body"])
    assert body["message"] == "Bad Request" and body["requestId"] == rejected.request_id
    assert body["errorType"] == "Validation.Failed"
    assert body["errorMessage"] == "method POST is not allowed"

    assert accepted.function_error is None
    response = accepted.json()
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["event"]["method"] == "GET"
