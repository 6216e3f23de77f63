"""`error`: a failed HTTP invocation becomes an HTTP 500 (400 for client error types) in
exactly the response shape of the source `before` saw; other errors pass through.

Unit tests of the mapping, then the executable in exec mode (exit status 3, state file
from `before`) and in persistent mode (`respond` frames)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_fixtures import persistent
from aws_http import CLIENT_ERROR_TYPES, before, error
from aws_http.failure import client_error_types_from, expose_from, read_error
from http_support import EXECUTABLE, HTTP_FIXTURES, SHAPES, raw

REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
# One fixture per response shape.
SHAPE_FIXTURES = {
    "apigw-v1": "apigw-v1-proxy-request.json",
    "apigw-v2": "apigw-v2-http-request.json",
    "function-url": "function-url-request-captured-cookies-text-body.json",
    "alb-multi": "alb-request-multivalue-headers.json",
    "alb-single": "alb-request-single-value-headers.json",
}
TRACE = ["  File \"/var/task/app.py\", line 9, in boom\n    raise ValueError(\"secret path /etc/x\")\n"]
HANDLER_ERROR = {
    "errorMessage": "the handler failed on purpose", "errorType": "ValueError",
    "requestId": REQUEST_ID, "stackTrace": TRACE,
}
VALIDATION_ERROR = {
    "errorType": "Validation.Failed", "errorMessage": "event failed validation: $.qty: must be >= 1 (minimum)",
    "errors": [{"path": "$.qty", "rule": "minimum", "message": "must be >= 1"}],
    "requestId": REQUEST_ID, "middleware": {"name": "validate", "hook": "before"},
}
# What the orchestrator reports when an exec middleware exits 1 (not 4, with its own error
# object): a traceback, then a line that merely looks like `<errorType>: <errorMessage>`
# (what the SDKs printed before exit status 4; older orchestrators still report that).
EXEC_TAIL = (
    "Traceback (most recent call last):\n  File \"/opt/mw/check\", line 12, in check\n"
    "    raise Fail(...)\nValidation.Failed: $.qty: must be >= 1"
)
EXEC_VALIDATION_ERROR = {
    "errorType": "Middleware.ExitError",
    "errorMessage": f"middleware 'check' hook 'before' exited with status 1: {EXEC_TAIL}",
    "requestId": REQUEST_ID,
    "middleware": {"name": "check", "hook": "before", "exitStatus": 1, "stderrTail": EXEC_TAIL},
}


def shape_key(state: dict[str, Any]) -> str:
    if state["source"] != "alb":
        return state["source"]
    return "alb-multi" if state["albMultiValueHeaders"] else "alb-single"


def dump(value: Any) -> bytes:
    return json.dumps(value).encode()


def content_type(response: dict[str, Any]) -> str:
    if "multiValueHeaders" in response:
        assert len(response["multiValueHeaders"]["Content-Type"]) == 1
        return response["multiValueHeaders"]["Content-Type"][0]
    return response["headers"]["Content-Type"]


def recover(fixture: str, failure: Any, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]:
    state = before(raw(fixture)).state
    assert state is not None
    out = error(failure if isinstance(failure, bytes) else dump(failure), state, REQUEST_ID, **kwargs)
    assert out.state == state  # not None: the caller answers `respond`
    return json.loads(out.payload), state, out.warnings


# ---------------------------------------------------------------- the mapping


@pytest.mark.parametrize("fixture", sorted(HTTP_FIXTURES))
def test_a_handler_error_becomes_a_500_in_the_source_shape(fixture: str) -> None:
    response, state, warnings = recover(fixture, HANDLER_ERROR)
    key = shape_key(state)
    assert list(response) == SHAPES[key]
    assert response["statusCode"] == 500
    assert response["isBase64Encoded"] is False
    assert json.loads(response["body"]) == {"message": "Internal Server Error", "requestId": REQUEST_ID}
    assert content_type(response) == "application/json"
    if key.startswith("alb"):
        assert response["statusDescription"] == "500 Internal Server Error"
    if key in ("apigw-v2", "function-url"):
        assert response["cookies"] == []
    if key == "apigw-v1":
        assert response["headers"] == {"Content-Type": "application/json"}
    assert warnings == ("invocation failed (ValueError: the handler failed on purpose); answered HTTP 500",)


@pytest.mark.parametrize("key", sorted(SHAPE_FIXTURES))
def test_expose_adds_type_and_message_never_the_trace(key: str) -> None:
    response, _, _ = recover(SHAPE_FIXTURES[key], HANDLER_ERROR, expose=True)
    assert list(response) == SHAPES[key]
    assert json.loads(response["body"]) == {
        "message": "Internal Server Error", "requestId": REQUEST_ID,
        "errorType": "ValueError", "errorMessage": "the handler failed on purpose",
    }
    assert "stackTrace" not in response["body"] and "/var/task" not in response["body"]


def test_default_body_does_not_leak_the_error() -> None:
    response, _, _ = recover("apigw-v2-http-request.json", HANDLER_ERROR)
    assert "ValueError" not in response["body"] and "on purpose" not in response["body"]


def test_the_invocation_request_id_wins_over_the_errors() -> None:
    state = before(raw("apigw-v2-http-request.json")).state
    out = error(dump({**HANDLER_ERROR, "requestId": "from-the-error"}), state, "from-the-context")
    assert json.loads(json.loads(out.payload)["body"])["requestId"] == "from-the-context"
    # Without a context request id, the error's own one is used; else null.
    out = error(dump({**HANDLER_ERROR, "requestId": "from-the-error"}), state, None)
    assert json.loads(json.loads(out.payload)["body"])["requestId"] == "from-the-error"
    out = error(b'{"errorType": "X", "errorMessage": "y"}', state, None)
    assert json.loads(json.loads(out.payload)["body"])["requestId"] is None


@pytest.mark.parametrize("key", sorted(SHAPE_FIXTURES))
def test_a_validation_failure_becomes_a_400(key: str) -> None:
    response, _, warnings = recover(SHAPE_FIXTURES[key], VALIDATION_ERROR)
    assert list(response) == SHAPES[key]
    assert response["statusCode"] == 400
    assert json.loads(response["body"]) == {"message": "Bad Request", "requestId": REQUEST_ID}
    if key.startswith("alb"):
        assert response["statusDescription"] == "400 Bad Request"
    assert warnings[0].endswith("answered HTTP 400")


def test_an_exposed_validation_failure_has_type_and_message_only() -> None:
    response, _, _ = recover("apigw-v1-proxy-request.json", VALIDATION_ERROR, expose=True)
    assert json.loads(response["body"]) == {
        "message": "Bad Request", "requestId": REQUEST_ID, "errorType": "Validation.Failed",
        "errorMessage": "event failed validation: $.qty: must be >= 1 (minimum)",
    }  # no `errors`, no `middleware` details


def test_an_exec_middleware_validation_failure_arrives_with_its_own_type() -> None:
    # Exit status 4: the orchestrator passes the middleware's error object on as it is.
    own = {**VALIDATION_ERROR, "middleware": {"name": "check", "hook": "before"}}
    response, _, _ = recover("apigw-v2-http-request.json", own, expose=True)
    assert response["statusCode"] == 400
    assert json.loads(response["body"]) == {
        "message": "Bad Request", "requestId": REQUEST_ID, "errorType": "Validation.Failed",
        "errorMessage": "event failed validation: $.qty: must be >= 1 (minimum)",
    }


def test_an_exit_error_is_a_500_whatever_its_stderr_says() -> None:
    # The errorType is Middleware.ExitError: STDERR is logs, not a channel for a type.
    response, _, _ = recover("apigw-v2-http-request.json", EXEC_VALIDATION_ERROR, expose=True)
    assert response["statusCode"] == 500
    body = json.loads(response["body"])
    assert body["errorType"] == "Middleware.ExitError"
    # The traceback before the last STDERR line is cut from the exposed message.
    assert body["errorMessage"] == (
        "middleware 'check' hook 'before' exited with status 1: Validation.Failed: $.qty: must be >= 1"
    )
    assert "Traceback" not in response["body"] and "/opt/mw" not in response["body"]


def test_an_exec_middleware_crash_is_a_500() -> None:
    tail = "Traceback (most recent call last):\n  File \"x\", line 1\nKeyError: 'id'"
    crashed = {**EXEC_VALIDATION_ERROR,
               "errorMessage": f"middleware 'check' hook 'before' exited with status 1: {tail}",
               "middleware": {"name": "check", "hook": "before", "exitStatus": 1, "stderrTail": tail}}
    response, _, _ = recover("apigw-v2-http-request.json", crashed, expose=True)
    assert response["statusCode"] == 500
    assert json.loads(response["body"])["errorMessage"].endswith("exited with status 1: KeyError: 'id'")


@pytest.mark.parametrize(
    "error_type",
    ["ValidationError", "Validation.SchemaError", "Middleware.Timeout", "Middleware.Failed",
     "HTTP.InvalidResponse", "Sandbox.Timedout", "Runtime.ExitError"],
)
def test_other_error_types_are_500(error_type: str) -> None:
    response, _, _ = recover("function-url-request-iam.json", {"errorType": error_type, "errorMessage": "m"})
    assert response["statusCode"] == 500


def test_client_error_types_are_configurable() -> None:
    assert client_error_types_from(None) == CLIENT_ERROR_TYPES == {"Validation.Failed"}
    assert client_error_types_from("") == frozenset()
    assert client_error_types_from(" Validation.Failed, BadInput ,,") == {"Validation.Failed", "BadInput"}
    response, _, _ = recover("apigw-v2-http-request.json", {"errorType": "BadInput", "errorMessage": "m"},
                             client_error_types={"BadInput"})
    assert response["statusCode"] == 400
    response, _, _ = recover("apigw-v2-http-request.json", VALIDATION_ERROR, client_error_types=frozenset())
    assert response["statusCode"] == 500


@pytest.mark.parametrize(("value", "expected"), [
    (None, False), ("", False), ("0", False), ("false", False), ("no", False),
    ("1", True), ("true", True), ("TRUE", True), (" yes ", True), ("on", True),
])
def test_expose_errors_values(value: str | None, expected: bool) -> None:
    assert expose_from(value) is expected


@pytest.mark.parametrize("failure", [b"", b"not json\nTraceback: secret", b"[1, 2]", b'"text"',
                                     b'{"errorType": 7, "errorMessage": null}'])
def test_an_error_that_is_not_a_lambda_error_object_is_still_a_500(failure: bytes) -> None:
    response, _, warnings = recover("alb-request-multivalue-headers.json", failure, expose=True)
    assert response["statusCode"] == 500
    body = json.loads(response["body"])
    assert body["errorType"] is None
    assert "secret" not in response["body"]
    assert warnings[0].endswith("answered HTTP 500")


def test_read_error_keeps_message_without_tail_untouched() -> None:
    parsed = read_error(dump({**HANDLER_ERROR, "errorMessage": "line one\nline two"}))
    assert parsed.message == "line one\nline two" and parsed.error_type == "ValueError"


@pytest.mark.parametrize("state", [None, {}, {"other": 1}, "text", [1]])
def test_without_an_http_source_the_error_passes_through_byte_identical(state: Any) -> None:
    payload = json.dumps(HANDLER_ERROR, indent=2).encode()
    out = error(payload, state, REQUEST_ID, expose=True)
    assert out.state is None and out.payload is payload and out.warnings == ()


def test_a_non_http_event_saves_no_state_so_its_error_passes_through() -> None:
    state = before(raw("sqs-batch.json")).state
    assert state is None
    payload = dump(HANDLER_ERROR)
    assert error(payload, state, REQUEST_ID).payload is payload


# ---------------------------------------------------------------- exec mode

ENV = {
    "PATH": os.environ.get("PATH", ""),
    "OPENRUNTIME_REQUEST_ID": REQUEST_ID,
    "OPENRUNTIME_CONTENT_TYPE": "application/json",
    "OPENRUNTIME_MIDDLEWARE": "http",
}


def run_hook(hook: str, payload: bytes, state_file: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(EXECUTABLE), hook], input=payload, capture_output=True,
                          env={**ENV, "OPENRUNTIME_STATE_FILE": str(state_file), **env},
                          timeout=30, check=False)


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    path = tmp_path / "http.state"
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize("key", sorted(SHAPE_FIXTURES))
def test_exec_error_answers_status_3_with_the_response(key: str, state_file: Path) -> None:
    assert run_hook("before", raw(SHAPE_FIXTURES[key]), state_file).returncode == 0
    state_before = state_file.read_bytes()
    done = run_hook("error", dump(HANDLER_ERROR), state_file)
    assert done.returncode == 3, done.stderr
    response = json.loads(done.stdout)
    assert list(response) == SHAPES[key]
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"message": "Internal Server Error", "requestId": REQUEST_ID}
    assert "http: invocation failed (ValueError: the handler failed on purpose); answered HTTP 500" \
        in done.stderr.decode()
    assert state_file.read_bytes() == state_before  # read, not rewritten


@pytest.mark.parametrize(("error", "level", "status"), [(HANDLER_ERROR, "ERROR", 500), (VALIDATION_ERROR, "WARN", 400)])
def test_in_lambdas_json_log_format_the_failure_line_carries_a_level(
        state_file: Path, error: dict[str, Any], level: str, status: int) -> None:
    """AWS_LAMBDA_LOG_FORMAT=JSON: a 5xx is logged at ERROR and a 4xx at WARN, so that
    Lambda's log-level filter and a log-based alarm see a failure the caller got as HTTP."""
    run_hook("before", raw("apigw-v1-proxy-request.json"), state_file)
    done = run_hook("error", dump(error), state_file, AWS_LAMBDA_LOG_FORMAT="JSON")
    assert done.returncode == 3, done.stderr
    [record] = [json.loads(line) for line in done.stderr.decode().splitlines() if "invocation failed" in line]
    assert record["level"] == level and record["message"].endswith(f"answered HTTP {status}"), record


def test_exec_error_exposes_details_when_asked(state_file: Path) -> None:
    run_hook("before", raw("apigw-v1-proxy-request.json"), state_file)
    done = run_hook("error", dump(HANDLER_ERROR), state_file, HTTP_EXPOSE_ERRORS="1")
    assert done.returncode == 3
    body = json.loads(json.loads(done.stdout)["body"])
    assert body == {"message": "Internal Server Error", "requestId": REQUEST_ID,
                    "errorType": "ValueError", "errorMessage": "the handler failed on purpose"}


def test_exec_client_error_types_from_the_environment(state_file: Path) -> None:
    run_hook("before", raw("function-url-request-iam.json"), state_file)
    bad_input = dump({"errorType": "BadInput", "errorMessage": "no"})
    assert json.loads(run_hook("error", bad_input, state_file).stdout)["statusCode"] == 500
    done = run_hook("error", bad_input, state_file, HTTP_CLIENT_ERROR_TYPES="BadInput")
    assert done.returncode == 3 and json.loads(done.stdout)["statusCode"] == 400
    done = run_hook("error", dump(VALIDATION_ERROR), state_file, HTTP_CLIENT_ERROR_TYPES="")
    assert json.loads(done.stdout)["statusCode"] == 500


def test_exec_error_of_a_non_http_invocation_passes_through(state_file: Path) -> None:
    assert run_hook("before", raw("sqs-batch.json"), state_file).returncode == 0
    payload = json.dumps(HANDLER_ERROR, indent=1).encode()
    done = run_hook("error", payload, state_file, HTTP_EXPOSE_ERRORS="1")
    assert done.returncode == 0 and done.stdout == payload and done.stderr == b""


def test_exec_error_without_before_passes_through(state_file: Path) -> None:
    payload = dump(HANDLER_ERROR)
    done = run_hook("error", payload, state_file)
    assert done.returncode == 0 and done.stdout == payload


# ---------------------------------------------------------------- persistent mode


@pytest.mark.parametrize("expose", [None, "1"])
def test_persistent_error_answers_respond(expose: str | None) -> None:
    env = dict(ENV)
    if expose:
        env["HTTP_EXPOSE_ERRORS"] = expose
    with persistent(EXECUTABLE, env) as process:
        ready, _ = process.read()
        assert ready["hooks"] == ["before", "after", "error"]

        def call(hook: str, payload: bytes, state: Any, request_id: str) -> tuple[dict[str, Any], bytes]:
            header = {"hook": hook, "request_id": request_id, "content_type": "application/json",
                      "middleware": "http", "state": state}
            return process.send(header, payload)

        # Three invocations interleaved: each error gets its own before's state back.
        alb, _ = call("before", raw("alb-request-multivalue-headers.json"), None, "r-alb")
        v1, _ = call("before", raw("apigw-v1-proxy-request.json"), None, "r-v1")
        plain, _ = call("before", raw("sqs-batch.json"), None, "r-sqs")
        assert alb["state"]["source"] == "alb" and v1["state"]["source"] == "apigw-v1"
        assert "state" not in plain

        answer, payload = call("error", dump(HANDLER_ERROR), alb["state"], "r-alb")
        assert answer["action"] == "respond" and answer["content_type"] == "application/json"
        assert answer["state"] == alb["state"]
        response = json.loads(payload)
        assert list(response) == SHAPES["alb-multi"]
        assert response["statusCode"] == 500
        assert response["multiValueHeaders"] == {"Content-Type": ["application/json"]}
        body = json.loads(response["body"])
        assert body["requestId"] == "r-alb"
        assert ("errorMessage" in body) is bool(expose)

        answer, payload = call("error", dump(VALIDATION_ERROR), v1["state"], "r-v1")
        assert answer["action"] == "respond"
        response = json.loads(payload)
        assert list(response) == SHAPES["apigw-v1"] and response["statusCode"] == 400

        error_bytes = json.dumps(HANDLER_ERROR, indent=2).encode()
        answer, payload = call("error", error_bytes, None, "r-sqs")
        assert answer["action"] == "continue" and payload == error_bytes
    stderr = process.stderr
    assert "http: invocation failed (ValueError: the handler failed on purpose); answered HTTP 500" in stderr
    assert "http: invocation failed (Validation.Failed: event failed validation" in stderr


def answer_to(error_object: dict[str, Any], env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    from aws_http.settings import settings_from

    state = before(raw("apigw-v2-http-request.json")).state
    response = json.loads(error(json.dumps(error_object).encode(), state, REQUEST_ID,
                                settings=settings_from(env)).payload)
    return response["statusCode"], json.loads(response["body"])


def test_error_types_map_to_the_statuses_you_give_and_a_4xx_says_why() -> None:
    """HTTP_ERROR_STATUS, as Powertools' NotFoundError or Middy's statusCode: a 4xx carries
    the error's type and message (the client's own request), a 5xx does not."""
    env = {"HTTP_ERROR_STATUS": "NotFoundError=404, Idempotency.AlreadyInProgress=409"}
    not_found = {"errorType": "NotFoundError", "errorMessage": "order 42 not found", "requestId": REQUEST_ID}
    assert answer_to(not_found, env) == (404, {"message": "Not Found", "requestId": REQUEST_ID,
                                               "errorType": "NotFoundError", "errorMessage": "order 42 not found"})
    busy = {"errorType": "Idempotency.AlreadyInProgress", "errorMessage": "in progress"}
    assert answer_to(busy, env)[0] == 409
    assert answer_to(VALIDATION_ERROR, env)[1]["errorType"] == "Validation.Failed"  # still 400, and said
    status, body = answer_to(HANDLER_ERROR, env)
    assert status == 500 and "errorMessage" not in body
    # A type only listed as a client error (a ValueError, say) stays a bare 400: its
    # message was never meant for clients.
    status, body = answer_to(HANDLER_ERROR, {**env, "HTTP_CLIENT_ERROR_TYPES": "ValueError"})
    assert status == 400 and "errorMessage" not in body
    # HTTP_EXPOSE_ERRORS=0 says nothing of any failure; 1 says it of every one.
    assert "errorMessage" not in answer_to(not_found, {**env, "HTTP_EXPOSE_ERRORS": "0"})[1]
    assert answer_to(HANDLER_ERROR, {"HTTP_EXPOSE_ERRORS": "1"})[1]["errorMessage"] == HANDLER_ERROR["errorMessage"]


@pytest.mark.parametrize("value", ["NotFound", "NotFound=200", "NotFound=600", "=404", "NotFound=abc", "X=499"])
def test_a_bad_error_status_stops_the_start_naming_the_entry(value: str) -> None:
    from aws_http.settings import ConfigError, settings_from

    with pytest.raises(ConfigError) as caught:
        settings_from({"HTTP_ERROR_STATUS": value})
    assert str(caught.value).startswith(f"HTTP_ERROR_STATUS: {value!r}: expected errorType=status")
