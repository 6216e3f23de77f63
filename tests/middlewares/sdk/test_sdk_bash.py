"""The bash helper (exec mode): hooks as functions, exit 3 to respond, exit 4 to fail, a state file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from mw_harness import FIXTURES, clean_env, now_ms, run_exec

ECHO = FIXTURES / "echo_bash"


def test_before_adds_a_field(tmp_path: Path) -> None:
    result = run_exec(ECHO, "before", b'{"a": [1, {"b": null}]}', state_file=tmp_path / "state")
    assert result.status == 0, result.stderr
    assert result.json() == {"a": [1, {"b": None}], "before": True}
    assert 'bash fixture saw: {"a"' in result.stderr  # or_log goes to STDERR


def test_before_on_an_empty_object_with_whitespace(tmp_path: Path) -> None:
    result = run_exec(ECHO, "before", b"  {\n}\n", state_file=tmp_path / "state")
    assert result.status == 0, result.stderr
    assert result.json() == {"before": True}


def test_state_without_a_state_file_fails_the_hook_clearly() -> None:
    result = run_exec(ECHO, "before", b"{}")
    assert result.status == 1
    assert "OPENRUNTIME_STATE_FILE is not set" in result.stderr


def test_state_round_trip(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = run_exec(ECHO, "before", b"{}", state_file=state, request_id="req-42")
    assert first.status == 0, first.stderr
    assert first.json() == {"before": True}
    second = run_exec(ECHO, "after", b'{"statusCode": 204}', state_file=state, request_id="req-42")
    assert second.status == 0, second.stderr
    assert second.json() == {"statusCode": 204, "state": {"seen": "req-42", "note": "hello world"}}


def test_state_set_replaces_a_key(tmp_path: Path) -> None:
    state = tmp_path / "state"
    run_exec(ECHO, "before", b"{}", state_file=state, request_id="one")
    run_exec(ECHO, "before", b"{}", state_file=state, request_id="two")
    assert sorted(state.read_text().splitlines()) == ["note=hello world", "seen=two"]


def test_after_without_state_reports_missing(tmp_path: Path) -> None:
    result = run_exec(ECHO, "after", b"{}", state_file=tmp_path / "state")
    assert result.json() == {"state": {"seen": "missing", "note": "missing"}}


def test_respond_exits_3() -> None:
    result = run_exec(ECHO, "before", b'{"action": "respond"}')
    assert result.status == 3
    assert result.json() == {"shortCircuit": True}


def test_fail_exits_4_with_the_error_object_on_stdout() -> None:
    result = run_exec(ECHO, "before", b'{"action": "fail"}')
    assert result.status == 4
    assert result.json() == {"errorType": "Fixture.Rejected", "errorMessage": "rejected by bash"}
    # Still the last STDERR line: for the logs and for orchestrators without exit status 4.
    assert result.stderr_tail() == "Fixture.Rejected: rejected by bash"


def test_fail_escapes_message_and_type_as_json() -> None:
    result = run_exec(ECHO, "before", b'{"action": "fail_quoted"}')
    assert result.status == 4, result.stderr
    assert result.json() == {"errorType": 'Fixture."Odd"', "errorMessage": 'say "no"\\ then\nnew\tline\x01 é'}


def test_fail_without_a_type_is_middleware_failed() -> None:
    result = run_exec(ECHO, "before", b'{"action": "fail_default"}')
    assert result.status == 4
    assert result.json() == {"errorType": "Middleware.Failed", "errorMessage": "no type given"}


def test_failing_command_fails_the_hook() -> None:
    assert run_exec(ECHO, "before", b'{"action": "crash"}').status == 1


def test_undefined_hook_passes_binary_through() -> None:
    payload = b"\x00\x01 binary \xff\x00\n\n"
    result = run_exec(ECHO, "error", payload, content_type="application/octet-stream")
    assert result.status == 0
    assert result.stdout == payload


def test_context_helpers() -> None:
    result = run_exec(ECHO, "before", b'{"action": "ctx"}', request_id='id "quoted"',
                      deadline_ms=now_ms() + 9_000)
    got = result.json()
    assert got["hook"] == "before"
    assert got["request_id"] == 'id "quoted"'
    assert 5_000 < got["remaining"] <= 9_000
    assert got["is_json"] is True


def test_remaining_is_null_without_deadline_and_json_false_for_text() -> None:
    env = clean_env({"OPENRUNTIME_CONTENT_TYPE": "text/plain"})
    proc = subprocess.run([str(ECHO), "before"], input=b'{"action": "ctx"}', capture_output=True, env=env, timeout=20)
    assert json.loads(proc.stdout) == {"hook": "before", "request_id": "", "remaining": None, "is_json": False}


def test_json_string_escapes_what_json_needs() -> None:
    result = run_exec(ECHO, "before", b'{"action": "quote"}')
    assert result.status == 0, result.stderr
    assert result.json() == {"quoted": 'back\\slash "quote"\nnew\tline\x01\x1fend é'}


def test_persistent_mode_is_refused_clearly() -> None:
    proc = subprocess.run([str(ECHO), "--persistent"], input=b"", capture_output=True, env=clean_env(), timeout=20)
    assert proc.returncode == 2
    assert b"mode: exec" in proc.stderr


def test_a_done_hook_is_written_as_a_function_named_done_and_its_output_is_dropped(tmp_path: Path) -> None:
    lib = Path(__file__).resolve().parents[3] / "middlewares" / "lib" / "bash" / "openruntime-middleware.sh"
    observer = tmp_path / "observer"
    observer.write_text(f'#!/usr/bin/env bash\nsource {str(lib)!r}\n'
                        'function done { or_log "saw $OPENRUNTIME_OUTCOME $(wc -c)"; echo ignored; }\nor_run "$@"\n')
    observer.chmod(0o755)
    result = run_exec(observer, "done", b'{"statusCode": 200}', env={"OPENRUNTIME_OUTCOME": "response"})
    assert result.status == 0 and "saw response 19" in result.stderr
    # Not defined: `done` passes nothing through (what it writes is not used).
    silent = run_exec(ECHO, "done", b'{"statusCode": 200}')
    assert (silent.status, silent.stdout) == (0, b"")
