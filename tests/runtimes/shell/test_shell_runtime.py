"""End-to-end tests of runtimes/shell: the real bash bootstrap behind the real emulator."""

from __future__ import annotations

import json
import time

import pytest

from shell_fixtures import SHELL_BOOTSTRAP, SHELL_HANDLERS, requires_bash_and_curl, shell_function

pytestmark = requires_bash_and_curl


# -- success ---------------------------------------------------------------------------


def test_stdout_is_the_response_and_the_event_is_on_stdin_and_in_dollar_one():
    event = {"name": "wörld", "n": [1, 2, 3], "quote": "a \"b\" c"}
    with shell_function("function.both") as emu:
        result = emu.invoke(json.dumps(event).encode())
    assert result.status == 200
    assert result.function_error is None
    assert result.json() == {"stdin": event, "arg": event}


def test_stdin_is_binary_safe():
    payload = bytes(range(256)) * 64 + b"\x00\x00 trailing newlines \n\n"
    with shell_function("function.echo_stdin") as emu:
        result = emu.invoke(payload, content_type="application/octet-stream")
    assert result.function_error is None
    assert result.body == payload


def test_dollar_one_is_the_event_as_a_bash_string():
    # bash strings cannot hold NUL bytes: they are dropped from $1 (stdin keeps them)
    with shell_function("function.echo_arg") as emu:
        assert emu.invoke(b'{"k": "v"}').body == b'{"k": "v"}'
        assert emu.invoke(b"a\x00b").body == b"ab"


def test_large_event_on_stdin():
    payload = b"y" * (5 * 1024 * 1024)
    with shell_function("function.size") as emu:
        assert emu.invoke(payload).body == str(len(payload)).encode()


def test_empty_output_is_an_empty_response():
    with shell_function("function.empty_output") as emu:
        result = emu.invoke(b"{}")
    assert result.function_error is None
    assert result.body == b""


def test_context_variables():
    client_context = {"custom": {"a": 1}, "client": {}, "env": {}}
    identity = {"cognitoIdentityId": "id-9", "cognitoIdentityPoolId": "pool-9"}
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    with shell_function("function.context", timeout_s=6.0) as emu:
        before_ms = int(time.time() * 1000)
        result = emu.invoke(
            b"{}",
            client_context=json.dumps(client_context),
            cognito_identity=json.dumps(identity),
            trace_id=trace,
            tenant_id="tenant-3",
        )
        ctx = result.json()
        assert ctx["LAMBDA_FUNCTION_ARN"] == emu.function.arn
    assert ctx["LAMBDA_REQUEST_ID"] == ctx["AWS_REQUEST_ID"] == result.request_id
    assert before_ms + 5000 <= ctx["LAMBDA_DEADLINE_MS"] <= before_ms + 6000 + 1000
    assert 0 < ctx["remaining"] <= 6000
    assert ctx["_X_AMZN_TRACE_ID"] == trace
    assert ctx["LAMBDA_CLIENT_CONTEXT"] == client_context
    assert ctx["LAMBDA_COGNITO_IDENTITY"] == identity
    assert ctx["LAMBDA_TENANT_ID"] == "tenant-3"
    assert ctx["init"] == "set when the file was sourced"
    assert ctx["task_root"] == str(SHELL_HANDLERS)
    assert ctx["function_name"] == "test_function"


def test_optional_context_variables_are_unset_when_absent():
    with shell_function("function.context") as emu:
        emu.invoke(b"{}", client_context='{"custom": {}}', tenant_id="t")
        ctx = emu.invoke(b"{}").json()  # no client context, no tenant this time
    assert ctx["LAMBDA_CLIENT_CONTEXT"] is None
    assert ctx["LAMBDA_COGNITO_IDENTITY"] is None
    assert ctx["LAMBDA_TENANT_ID"] == ""


def test_remaining_time_counts_down():
    with shell_function("function.remaining_after_sleep", timeout_s=4.0) as emu:
        times = emu.invoke(b"{}").json()
    assert 3000 < times["before"] <= 4000
    assert times["before"] - times["after"] >= 250


def test_handler_in_a_subdirectory():
    with shell_function("sub/nested.handler") as emu:
        assert emu.invoke(b"{}").json() == {"from": "sub/nested.sh"}


def test_handler_from_env_when_no_argument():
    with shell_function("function.echo_arg", command=[str(SHELL_BOOTSTRAP)]) as emu:
        assert emu.invoke(b'"hi"').body == b'"hi"'


# -- isolation: the handler runs in a subshell --------------------------------------------


def test_exit_in_the_handler_does_not_kill_the_runtime():
    with shell_function("function.exit_zero_early") as emu:
        first = emu.invoke(b"{}")
        pid = emu.runtime_pid
        second = emu.invoke(b"{}")
        assert emu.runtime_pid == pid
    assert first.body == second.body == b'"partial output, then exit 0"'


def test_one_runtime_process_serves_every_invocation_each_in_a_fresh_subshell():
    with shell_function("function.pid") as emu:
        answers = [emu.invoke(b"{}").json() for _ in range(3)]
    assert len({a["runtime_pid"] for a in answers}) == 1
    assert len({a["subshell_pid"] for a in answers}) == 3


def test_variables_and_cwd_do_not_leak_between_invocations():
    with shell_function("function.mutate") as emu:
        first = emu.invoke(b"{}").json()
        second = emu.invoke(b"{}").json()
    assert first == second == {"seen": "", "pwd": str(SHELL_HANDLERS)}


def test_strict_mode_in_the_handler_file_applies_to_the_handler_only():
    root = SHELL_HANDLERS / "strict"
    with shell_function("function.handler", task_root=root) as emu:
        ok = emu.invoke(b'"fine"')
        failed = emu.invoke(b'"fail"')
        unset = emu.invoke(b'"unset"')
        again = emu.invoke(b'"again"')
    assert ok.body == b'"ok fine"'
    assert failed.function_error == "Unhandled"
    assert failed.json()["errorMessage"].startswith("handler exited with status 1")
    assert unset.function_error == "Unhandled"
    assert "NOT_DEFINED_ANYWHERE" in unset.json()["errorMessage"]
    assert again.body == b'"ok again"'


def test_background_job_left_running_does_not_hold_the_response():
    with shell_function("function.background_job") as emu:
        began = time.monotonic()
        result = emu.invoke(b"{}")
        assert time.monotonic() - began < 5
    assert result.body == b'"answered"'


# -- errors -------------------------------------------------------------------------------


def test_non_zero_status_is_an_exit_error_with_the_stderr_tail():
    with shell_function("function.fails") as emu:
        result = emu.invoke(b"{}")
        again = emu.invoke(b"{}")
    assert result.status == 200
    assert result.function_error == "Unhandled"
    body = result.json()
    assert body["errorType"] == "Function.ExitError"
    assert body["errorMessage"] == (
        "fails exited with status 3\n"
        "starting the work\n"
        "could not reach the database: connection refused"
    )
    assert again.json() == body


def test_exit_with_a_status_is_reported():
    with shell_function("function.calls_exit") as emu:
        body = emu.invoke(b"{}").json()
    assert body["errorType"] == "Function.ExitError"
    assert body["errorMessage"].startswith("calls_exit exited with status 42\n")
    assert "about to exit" in body["errorMessage"]


def test_only_the_tail_of_a_long_stderr_is_in_the_error():
    with shell_function("function.noisy_stderr") as emu:
        message = emu.invoke(b"{}").json()["errorMessage"]
    assert message.startswith("noisy_stderr exited with status 1\n")
    assert message.endswith("noise line 1999\nthe last line says what went wrong")
    assert "noise line 0\n" not in message
    # the tail starts on a whole line
    assert message.split("\n")[1].startswith("noise line ")
    assert len(message.encode()) <= 4096 + 100


def test_stderr_with_control_characters_and_bad_utf8_still_gives_valid_json():
    with shell_function("function.binary_stderr") as emu:
        result = emu.invoke(b"{}")
    body = json.loads(result.body)  # must be valid JSON (and UTF-8)
    assert body["errorType"] == "Function.ExitError"
    assert body["errorMessage"].startswith("binary_stderr exited with status 5\n")
    assert "ctl \x01\x02 tab\t quote\" backslash\\ bad utf8" in body["errorMessage"]
    assert body["errorMessage"].endswith(" ok é")


def test_stderr_goes_to_the_log(tmp_path):
    log = tmp_path / "stderr.log"
    with open(log, "wb") as err:
        with shell_function("function.logs", child_stderr=err) as emu:
            result = emu.invoke(b"{}")
    assert result.body == b'"done"'
    assert f"a log line for {result.request_id}" in log.read_text()


# -- init errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "root", "error_type", "message_part"),
    [
        ("missing.handler", SHELL_HANDLERS, "Runtime.ImportModuleError", "missing.sh"),
        ("function.no_such_function", SHELL_HANDLERS, "Runtime.HandlerNotFound", "no_such_function"),
        ("nodot", SHELL_HANDLERS, "Runtime.MalformedHandlerName", "nodot"),
        ("function.handler", SHELL_HANDLERS / "syntax", "Runtime.UserCodeSyntaxError", "function.sh"),
    ],
)
def test_init_errors(handler, root, error_type, message_part):
    with shell_function(handler, task_root=root) as emu:
        result = emu.invoke(b"{}")
        again = emu.invoke(b"{}")
    assert result.function_error == "Unhandled"
    body = result.json()
    assert body["errorType"] == error_type
    assert message_part in body["errorMessage"]
    assert again.json()["errorType"] == error_type


def test_handler_file_may_define_functions_named_like_the_runtime_tools():
    root = SHELL_HANDLERS / "shadow"
    with shell_function("function.handler", task_root=root) as emu:
        ok = emu.invoke(b'"payload"')
    assert ok.function_error is None
    assert ok.body == b'"payload"'
    with shell_function("function.fails", task_root=root) as emu:
        failed = emu.invoke(b"{}").json()
    assert failed["errorMessage"] == "fails exited with status 2\nreal failure"
