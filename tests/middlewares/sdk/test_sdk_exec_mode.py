"""The Python and Node SDKs in exec mode: one process per hook, exit status 0/3/4."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from mw_harness import ARN, FIXTURES, TRACE, clean_env, needs_node, now_ms, run_exec

SDKS = [
    pytest.param(FIXTURES / "echo_py", id="python"),
    pytest.param(FIXTURES / "echo_node", id="node", marks=needs_node),
]


@pytest.fixture(params=SDKS)
def exe(request: pytest.FixtureRequest) -> Path:
    return request.param


def test_before_returns_the_new_event(exe: Path, tmp_path: Path) -> None:
    result = run_exec(exe, "before", b'{"id": 7, "name": "ada"}', state_file=tmp_path / "state")
    assert result.status == 0, result.stderr
    assert result.json() == {"id": 7, "name": "ada", "before": True}


def test_state_written_by_before_is_read_by_after(exe: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = run_exec(exe, "before", b'{"id": "abc"}', state_file=state)
    assert first.status == 0, first.stderr
    assert json.loads(first.state) == {"seen": "abc"}

    second = run_exec(exe, "after", b'{"ok": true}', state_file=state)
    assert second.status == 0, second.stderr
    assert second.json() == {"response": {"ok": True}, "state": {"seen": "abc"}}


def test_after_without_state_sees_null(exe: Path, tmp_path: Path) -> None:
    result = run_exec(exe, "after", b'"hi"', state_file=tmp_path / "state")
    assert result.json() == {"response": "hi", "state": None}


def test_respond_exits_3_with_the_response(exe: Path) -> None:
    result = run_exec(exe, "before", b'{"action": "respond"}')
    assert result.status == 3
    assert result.json() == {"shortCircuit": True, "by": exe.name}


def test_error_hook_recovers_with_exit_3(exe: Path) -> None:
    err = {"errorType": "Recoverable", "errorMessage": "disk full"}
    result = run_exec(exe, "error", json.dumps(err).encode())
    assert result.status == 3
    assert result.json() == {"recovered": "disk full"}


def test_error_hook_can_rewrite_the_error(exe: Path) -> None:
    err = {"errorType": "Handler.Crash", "errorMessage": "boom"}
    result = run_exec(exe, "error", json.dumps(err).encode())
    assert result.status == 0
    assert result.json() == {**err, "seenBy": exe.name}


def test_fail_exits_4_with_the_error_object_on_stdout(exe: Path) -> None:
    result = run_exec(exe, "before", b'{"action": "fail", "why": "no token"}')
    assert result.status == 4
    assert result.json() == {"errorType": "Fixture.Rejected", "errorMessage": "rejected: no token"}
    # Still the last STDERR line: for the logs and for orchestrators without exit status 4.
    assert result.stderr_tail() == "Fixture.Rejected: rejected: no token"


def test_fail_details_are_extra_keys_of_the_error_object(exe: Path) -> None:
    result = run_exec(exe, "before", b'{"action": "fail_details"}')
    assert result.status == 4, result.stderr
    assert result.json() == {
        "errorType": "Fixture.Invalid", "errorMessage": "2 problems",
        "errors": [{"path": "$.a", "rule": "type"}, {"path": "$.b", "rule": "required"}],
        "retryable": False,
    }


def test_fail_details_that_are_not_json_are_dropped_not_the_error(exe: Path) -> None:
    result = run_exec(exe, "before", b'{"action": "fail_bad_details"}')
    assert result.status == 4
    assert result.json() == {"errorType": "Fixture.Odd", "errorMessage": "odd details"}
    assert "error details dropped" in result.stderr


def test_uncaught_exception_exits_4_with_type_message_and_trace(exe: Path) -> None:
    result = run_exec(exe, "before", b'{"action": "crash"}')
    assert result.status == 4
    error = result.json()
    assert error["errorType"] in ("RuntimeError", "TypeError")  # Python, Node
    assert error["errorMessage"] == "kaboom"
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]
    if exe.name == "echo_py":  # the hook's own frames: the SDK's dispatch is not the user's business
        assert "on_before" in "".join(error["stackTrace"])
        assert "openruntime_middleware.py" not in "".join(error["stackTrace"])
    assert result.stderr_tail() == f"{error['errorType']}: kaboom"
    assert len(result.stderr.splitlines()) > 2  # the stack trace comes first


def test_prints_go_to_stderr_not_into_the_payload(exe: Path) -> None:
    result = run_exec(exe, "before", b'{"action": "print"}')
    assert result.status == 0
    assert result.json() == {"action": "print", "printed": True}
    assert "noise from" in result.stderr


def test_binary_content_type_hands_bytes_and_keeps_nul_bytes(exe: Path) -> None:
    payload = bytes(range(256)) * 4 + b"\x00\x00\n"
    result = run_exec(exe, "before", payload, content_type="application/octet-stream")
    assert result.status == 0, result.stderr
    assert result.stdout == b"<" + payload + b">"


def test_invalid_json_is_handed_over_as_bytes(exe: Path) -> None:
    result = run_exec(exe, "before", b"{not json")
    assert result.stdout == b"<{not json>"


def test_returning_nothing_passes_the_exact_bytes(exe: Path) -> None:
    payload = b'{ "action" : "passthrough",\n  "spacing": [1,   2] }\n'
    result = run_exec(exe, "before", payload)
    assert result.status == 0
    assert result.stdout == payload


def test_context_comes_from_the_environment(exe: Path) -> None:
    deadline = now_ms() + 30_000
    stages = [["auth", "before", 1_700_000_000_123_456, 2_500]]
    result = run_exec(
        exe, "before", b'{"action": "ctx"}', request_id="req-ctx", deadline_ms=deadline,
        content_type="application/json; charset=utf-8",
        env={"OPENRUNTIME_STAGES": json.dumps(stages), "OPENRUNTIME_EVENT_BYTES": "1533"},
    )
    got = result.json()
    remaining = got.pop("remaining")
    assert got == {
        "hook": "before", "request_id": "req-ctx", "deadline_ms": deadline, "function_arn": ARN,
        "trace_id": TRACE, "content_type": "application/json; charset=utf-8", "middleware": exe.name,
        "stages": stages, "event_bytes": 1533,
    }
    assert 20_000 < remaining <= 30_000


def test_remaining_time_is_zero_after_the_deadline(exe: Path) -> None:
    result = run_exec(exe, "before", b'{"action": "ctx"}', deadline_ms=now_ms() - 5_000)
    assert result.json()["remaining"] == 0


def test_state_that_is_not_json_fails_the_hook(exe: Path, tmp_path: Path) -> None:
    result = run_exec(exe, "before", b'{"action": "bad_state"}', state_file=tmp_path / "state")
    assert result.status == 4
    assert result.json()["errorType"] == "Middleware.Failed"
    assert result.json()["errorMessage"].startswith("state is not JSON")
    assert "state is not JSON" in result.stderr_tail()


def test_unknown_hook_passes_through(exe: Path) -> None:
    payload = b"\x00 anything \xff"
    result = run_exec(exe, "someday", payload)
    assert result.status == 0
    assert result.stdout == payload


def test_no_argument_is_a_usage_error(exe: Path) -> None:
    proc = subprocess.run([str(exe)], input=b"", capture_output=True, env=clean_env(), timeout=20)
    assert proc.returncode == 2
    assert b"usage:" in proc.stderr


def test_large_json_payload(exe: Path, tmp_path: Path) -> None:
    event = {"id": 1, "blob": "x" * (1 << 20), "items": list(range(10_000))}
    result = run_exec(exe, "before", json.dumps(event).encode(), state_file=tmp_path / "s")
    assert result.status == 0
    assert result.json() == {**event, "before": True}



def test_ctx_log_writes_each_line_to_stderr(exe: Path) -> None:
    result = run_exec(exe, "before", b'{"action": "log", "lines": 3}')
    assert result.status == 0, result.stderr
    assert result.stdout == b'{"action": "log", "lines": 3}'  # the payload is untouched
    assert result.stderr.splitlines() == ["line 0 ", "line 1 ", "line 2 "]


def test_a_new_content_type_in_exec_mode_is_said_not_silently_dropped() -> None:
    """Exec mode has no channel for a content type: the payload keeps its own, and the
    Python SDK's Continue(content_type=…) says so on STDERR (persistent mode carries it)."""
    result = run_exec(FIXTURES / "echo_py", "before", b'{"action": "text"}')
    assert result.status == 0 and result.stdout == b"plain text"
    assert "the new content type 'text/plain' is kept in persistent mode only" in result.stderr


def test_a_done_hook_reads_the_outcome_and_writes_nothing_back(exe: Path, tmp_path: Path) -> None:
    from test_sdk_persistent_mode import observer

    result = run_exec(observer(tmp_path, exe.name), "done", b'{"errorType": "X"}', env={"OPENRUNTIME_OUTCOME": "error"})
    assert (result.status, result.stdout) == (0, b""), result.stderr
    assert "done error 18" in result.stderr


def test_received_writes_the_state_and_nothing_on_stdout(exe: Path, tmp_path: Path) -> None:
    from test_sdk_persistent_mode import event_observer

    state = tmp_path / "state"
    result = run_exec(event_observer(tmp_path, exe.name), "received", b'{"event": "as delivered"}', state_file=state)
    assert (result.status, result.stdout) == (0, b""), result.stderr
    assert json.loads(state.read_text()) == {"eventBytes": 25}
