"""The executable as the orchestrator runs it: exec mode with the state file carrying the
source from `before` to `after`, and persistent mode with frame `state`."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_fixtures import persistent
from http_support import EXECUTABLE, raw

ENV = {
    "PATH": os.environ.get("PATH", ""),
    "OPENRUNTIME_REQUEST_ID": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "OPENRUNTIME_CONTENT_TYPE": "application/json",
    "OPENRUNTIME_MIDDLEWARE": "http",
}


def run_hook(hook: str, payload: bytes, state_file: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(EXECUTABLE), hook], input=payload, capture_output=True,
                          env={**ENV, "OPENRUNTIME_STATE_FILE": str(state_file)},
                          timeout=30, check=False)


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    path = tmp_path / "http.state"
    path.write_bytes(b"")  # empty at `before`, as the protocol says
    return path


@pytest.mark.parametrize(
    ("fixture", "expected_keys"),
    [
        ("apigw-v1-proxy-request.json", ["statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"]),
        ("apigw-v2-http-request.json", ["statusCode", "headers", "cookies", "body", "isBase64Encoded"]),
        ("function-url-request-captured-cookies-text-body.json",
         ["statusCode", "headers", "cookies", "body", "isBase64Encoded"]),
        ("alb-request-multivalue-headers.json",
         ["statusCode", "statusDescription", "multiValueHeaders", "body", "isBase64Encoded"]),
        ("alb-request-single-value-headers.json",
         ["statusCode", "statusDescription", "headers", "body", "isBase64Encoded"]),
    ],
)
def test_exec_before_then_after_through_the_state_file(
    fixture: str, expected_keys: list[str], state_file: Path
) -> None:
    before = run_hook("before", raw(fixture), state_file)
    assert before.returncode == 0, before.stderr
    request = json.loads(before.stdout)
    assert json.loads(state_file.read_text())["source"] == request["source"]

    reply = {"status": 200, "headers": {"content-type": "text/plain"},
             "cookies": ["id=1"], "body": f"{request['method']} {request['path']}"}
    after = run_hook("after", json.dumps(reply).encode(), state_file)
    assert after.returncode == 0, after.stderr
    response = json.loads(after.stdout)
    assert list(response) == expected_keys
    assert response["statusCode"] == 200
    assert response["body"] == f"{request['method']} {request['path']}"


def test_exec_non_http_event_passes_both_hooks_untouched(state_file: Path) -> None:
    event = raw("sqs-batch.json")
    before = run_hook("before", event, state_file)
    assert before.returncode == 0 and before.stdout == event
    response = b'{"batchItemFailures": []}'
    after = run_hook("after", response, state_file)
    assert after.returncode == 0 and after.stdout == response


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("apigw-v1-proxy-request-base64-flag-nonbase64-body.json",
         "HTTP.InvalidRequest: invalid apigw-v1 event: field 'body' is not valid base64"),
        ("malformed/function-url-request-invalid-no-rawpath.json",
         "HTTP.InvalidRequest: invalid function-url event: field 'rawPath' is missing"),
        ("malformed/apigw-v2-http-request-invalid.json",
         "HTTP.InvalidRequest: invalid apigw-v1 event: field 'requestContext.stage' is missing"),
    ],
)
def test_exec_invalid_request_fails_with_a_clear_message(fixture: str, message: str, state_file: Path) -> None:
    done = run_hook("before", raw(fixture), state_file)
    assert done.returncode == 4  # STDOUT is the error object
    error = json.loads(done.stdout)
    assert f"{error['errorType']}: {error['errorMessage']}".startswith(message)
    assert isinstance(error["field"], str)
    # The same pair ends STDERR, for the logs (and orchestrators without exit status 4).
    assert done.stderr.decode().strip().splitlines()[-1].startswith(message)


def test_exec_invalid_response_fails_naming_the_field(state_file: Path) -> None:
    run_hook("before", raw("apigw-v2-http-request.json"), state_file)
    done = run_hook("after", b'{"statusCode": "teapot"}', state_file)
    assert done.returncode == 4
    error = json.loads(done.stdout)
    assert (error["errorType"], error["field"]) == ("HTTP.InvalidResponse", "statusCode")
    assert "field 'statusCode' must be an HTTP status code" in error["errorMessage"]
    assert "field 'statusCode' must be an HTTP status code" in done.stderr.decode()


def test_exec_alb_single_value_cookie_warning_goes_to_stderr(state_file: Path) -> None:
    run_hook("before", raw("alb-request-single-value-headers.json"), state_file)
    done = run_hook("after", b'{"statusCode": 200, "cookies": ["a=1", "b=2"]}', state_file)
    assert done.returncode == 0
    assert json.loads(done.stdout)["headers"] == {"Set-Cookie": "b=2"}
    assert "only the last of 2 Set-Cookie headers" in done.stderr.decode()


# ---------------------------------------------------------------- persistent mode

def test_persistent_mode_carries_the_source_in_frame_state() -> None:
    with persistent(EXECUTABLE, ENV) as process:
        ready, _ = process.read()
        assert ready["ready"] is True and ready["hooks"] == ["before", "after", "error"]

        def call(hook: str, payload: bytes, state: Any) -> tuple[dict[str, Any], bytes]:
            header = {"hook": hook, "request_id": "r", "content_type": "application/json",
                      "middleware": "http", "state": state}
            return process.send(header, payload)

        # Two invocations interleaved: each after gets its own before's state back.
        alb_answer, _ = call("before", raw("alb-request-base64-body.json"), None)
        url_answer, url_request = call("before", raw("function-url-request-captured-base64-body.json"), None)
        assert alb_answer["state"] == {"source": "alb", "albMultiValueHeaders": False}
        assert url_answer["state"] == {"source": "function-url"}
        assert json.loads(url_request)["body"] == "<idk/>"

        png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
        reply = json.dumps({"statusCode": 200, "bodyBase64": png,
                            "headers": {"Content-Type": "image/png"}}).encode()
        answer, payload = call("after", reply, alb_answer["state"])
        assert answer["action"] == "continue"
        assert json.loads(payload) == {
            "statusCode": 200, "statusDescription": "200 OK",
            "headers": {"Content-Type": "image/png"}, "body": png, "isBase64Encoded": True,
        }
        answer, payload = call("after", reply, url_answer["state"])
        assert list(json.loads(payload)) == ["statusCode", "headers", "cookies", "body", "isBase64Encoded"]

        answer, payload = call("before", raw("apigw-v1-proxy-request-base64-flag-nonbase64-body.json"), None)
        assert answer["action"] == "fail"
        error = json.loads(payload)
        assert error["errorType"] == "HTTP.InvalidRequest" and error["field"] == "body"
