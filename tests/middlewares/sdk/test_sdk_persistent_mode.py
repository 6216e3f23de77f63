"""The Python and Node SDKs in persistent mode: one process, framed messages."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from mw_harness import ARN, FIXTURES, TRACE, Persistent, needs_node, now_ms

SDKS = [
    pytest.param(FIXTURES / "echo_py", id="python"),
    pytest.param(FIXTURES / "echo_node", id="node", marks=needs_node),
]

Spawn = Callable[..., Persistent]


@pytest.fixture(params=SDKS)
def mw(request: pytest.FixtureRequest, spawn: Spawn) -> Persistent:
    return spawn(request.param)


def test_ready_frame_lists_the_registered_hooks(mw: Persistent) -> None:
    assert mw.ready is not None
    assert mw.ready.header == {"ready": True, "protocol": 2, "hooks": ["before", "after", "error"], "length": 0}
    assert mw.ready.payload == b""


def test_many_calls_on_one_process(mw: Persistent) -> None:
    pid = mw.proc.pid
    for i in range(50):
        answer = mw.call("before", json.dumps({"id": i}).encode(), request_id=f"req-{i}")
        assert answer.action == "continue"
        assert answer.json() == {"id": i, "before": True}
        assert answer.header["state"] == {"seen": i}
    assert mw.proc.pid == pid and mw.alive()
    mw.assert_quiet()


def test_state_round_trip_through_the_orchestrator(mw: Persistent) -> None:
    first = mw.call("before", b'{"id": "s1"}')
    state = first.header["state"]
    assert state == {"seen": "s1"}
    second = mw.call("after", b'{"statusCode": 200}', state=state)
    assert second.action == "continue"
    assert second.json() == {"response": {"statusCode": 200}, "state": {"seen": "s1"}}
    # The hook left the state alone: it is handed back unchanged.
    assert second.header["state"] == {"seen": "s1"}


def test_binary_payload_with_nul_bytes_is_exact(mw: Persistent) -> None:
    payload = b"\x00\n\x00" + bytes(range(256)) + b"\r\n{\"length\":3}\n\x00"
    answer = mw.call("before", payload, content_type="application/octet-stream")
    assert answer.action == "continue"
    assert answer.payload == b"<" + payload + b">"
    # The stream stays in sync after newlines and NULs inside a payload.
    assert mw.call("before", b'{"id": 2}').json() == {"id": 2, "before": True}


def test_one_megabyte_payloads_both_ways(mw: Persistent) -> None:
    payload = os.urandom(1 << 20)
    answer = mw.call("before", payload, content_type="application/octet-stream")
    assert answer.header["length"] == len(payload) + 2
    assert answer.payload == b"<" + payload + b">"
    event = {"id": 9, "blob": "é" * (1 << 19)}
    answer = mw.call("before", json.dumps(event, ensure_ascii=False).encode())
    assert answer.json() == {**event, "before": True}


def test_empty_payload(mw: Persistent) -> None:
    answer = mw.call("before", b"")
    assert answer.action == "continue"
    assert answer.payload == b"<>"  # an empty payload is not JSON: the hook gets bytes


def test_respond_short_circuits(mw: Persistent) -> None:
    answer = mw.call("before", b'{"action": "respond"}')
    assert answer.action == "respond"
    assert answer.json() == {"shortCircuit": True, "by": mw.exe.name}


def test_error_hook_recovers(mw: Persistent) -> None:
    answer = mw.call("error", b'{"errorType": "Recoverable", "errorMessage": "retry later"}')
    assert answer.action == "respond"
    assert answer.json() == {"recovered": "retry later"}


def test_fail_answers_fail_with_the_error_and_keeps_serving(mw: Persistent) -> None:
    answer = mw.call("before", b'{"action": "fail", "why": "expired"}')
    assert answer.action == "fail"
    assert answer.json() == {"errorType": "Fixture.Rejected", "errorMessage": "rejected: expired"}
    assert mw.call("before", b'{"id": 3}').json() == {"id": 3, "before": True}


def test_fail_details_are_kept_and_details_that_are_not_json_only_dropped(mw: Persistent) -> None:
    answer = mw.call("before", b'{"action": "fail_details"}')
    assert answer.action == "fail"
    assert answer.json() == {
        "errorType": "Fixture.Invalid", "errorMessage": "2 problems",
        "errors": [{"path": "$.a", "rule": "type"}, {"path": "$.b", "rule": "required"}],
        "retryable": False,
    }
    odd = mw.call("before", b'{"action": "fail_bad_details"}')
    assert odd.action == "fail"
    assert odd.json() == {"errorType": "Fixture.Odd", "errorMessage": "odd details"}
    assert mw.call("before", b'{"id": 4}').json() == {"id": 4, "before": True}


def test_exception_answers_fail_and_the_process_keeps_serving(mw: Persistent) -> None:
    pid = mw.proc.pid
    answer = mw.call("before", b'{"action": "crash"}')
    assert answer.action == "fail"
    err = answer.json()
    assert err["errorType"] in ("RuntimeError", "TypeError")
    assert err["errorMessage"] == "kaboom"
    assert isinstance(err["stackTrace"], list) and err["stackTrace"]
    assert "kaboom" in mw.stderr()  # the trace is logged too
    for i in range(3):
        assert mw.call("before", json.dumps({"id": i}).encode()).json() == {"id": i, "before": True}
    assert mw.alive() and mw.proc.pid == pid


def test_prints_do_not_corrupt_the_frames(mw: Persistent) -> None:
    answer = mw.call("before", b'{"action": "print"}')
    assert answer.json() == {"action": "print", "printed": True}
    assert mw.call("before", b'{"id": 1}').json() == {"id": 1, "before": True}
    assert "noise from" in mw.stderr()
    mw.assert_quiet()


def test_context_comes_from_the_frame(mw: Persistent) -> None:
    deadline = now_ms() + 10_000
    stages = [["auth", "before", 1_700_000_000_123_456, 2_500], [None, "handler", 1_700_000_000_126_000, 40]]
    answer = mw.call("before", b'{"action": "ctx"}', request_id="r-77", deadline_ms=deadline,
                     content_type="application/vnd.api+json", extra={"stages": stages, "event_bytes": 1533})
    got = answer.json()
    remaining = got.pop("remaining")
    assert got == {
        "hook": "before", "request_id": "r-77", "deadline_ms": deadline, "function_arn": ARN,
        "trace_id": TRACE, "content_type": "application/vnd.api+json", "middleware": mw.exe.name,
        "stages": stages, "event_bytes": 1533,
    }
    assert 5_000 < remaining <= 10_000
    # From an orchestrator that predates them, or with a value that is not one: null.
    older = mw.call("before", b'{"action": "ctx"}', extra={"event_bytes": -1}).json()
    assert (older["stages"], older["event_bytes"]) == (None, None)


def test_new_content_type_is_announced(mw: Persistent) -> None:
    answer = mw.call("before", b'{"action": "text"}')
    assert answer.header["content_type"] == "text/plain"
    assert answer.payload == b"plain text"


def test_passthrough_returns_the_exact_bytes(mw: Persistent) -> None:
    payload = b'{"action":"passthrough",   "keep": "this spacing"}'
    answer = mw.call("before", payload)
    assert answer.action == "continue"
    assert answer.payload == payload
    assert "content_type" not in answer.header


def test_unserialisable_state_fails_only_that_call(mw: Persistent) -> None:
    answer = mw.call("before", b'{"action": "bad_state"}')
    assert answer.action == "fail"
    assert answer.json()["errorType"] == "Middleware.Failed"
    assert mw.call("before", b'{"id": 5}').json() == {"id": 5, "before": True}


def test_clean_exit_when_stdin_closes(mw: Persistent) -> None:
    mw.call("before", b'{"id": 1}')
    assert mw.close_stdin() == 0


def test_garbage_header_stops_the_process(mw: Persistent) -> None:
    mw.send_raw(b"this is not a frame\n")
    assert mw.proc.wait(timeout=20) != 0
    assert "invalid request frame" in mw.stderr()


@pytest.mark.parametrize("exe", SDKS)
def test_protocol_env_alone_selects_persistent_mode(exe: Path, spawn: Spawn) -> None:
    mw = spawn(exe, args=())
    assert mw.ready is not None and mw.ready.header["ready"] is True
    assert mw.call("before", b'{"id": 1}').json() == {"id": 1, "before": True}


@pytest.mark.parametrize("exe", SDKS)
def test_hook_not_registered_passes_through(exe: Path, spawn: Spawn, tmp_path: Path) -> None:
    # A middleware with only a `before` hook: the SDK advertises it and passes `after` on.
    lib = Path(__file__).resolve().parents[3] / "middlewares" / "lib"
    if exe.name == "echo_py":
        only = tmp_path / "only_before"
        only.write_text(
            "#!/usr/bin/env python3\nimport sys\n"
            f"sys.path.insert(0, {str(lib / 'python')!r})\n"
            "from openruntime_middleware import before, run\n"
            "before(lambda event, ctx: {'wrapped': event})\nrun()\n"
        )
    else:
        only = tmp_path / "only_before"
        only.write_text(
            "#!/usr/bin/env node\n"
            f"const mw = require({json.dumps(str(lib / 'node' / 'openruntime-middleware.js'))});\n"
            "mw.before((event) => ({ wrapped: event }));\nmw.run();\n"
        )
    only.chmod(0o755)
    mw = spawn(only)
    assert mw.ready is not None and mw.ready.header["hooks"] == ["before"]
    payload = b"\x00 raw after payload"
    answer = mw.call("after", payload, content_type="application/octet-stream")
    assert (answer.action, answer.payload) == ("continue", payload)
    assert mw.call("before", b"[1]").json() == {"wrapped": [1]}


def test_ctx_log_lines_travel_in_the_answer_frame(mw: Persistent) -> None:
    answer = mw.call("before", b'{"action": "log", "lines": 3}')
    assert answer.action == "continue"
    assert answer.header["log"] == ["line 0 ", "line 1 ", "line 2 "]
    assert "line 0" not in mw.stderr()
    # A call that logs nothing has no `log` key: lines never carry over to the next answer.
    assert "log" not in mw.call("before", b'{"action": "passthrough"}').header


def test_ctx_log_beyond_what_one_header_holds_goes_to_stderr_in_order(mw: Persistent) -> None:
    """Past 24 KiB of lines in one answer, the held lines and every later one go to STDERR,
    in the order they were logged: the answer carries none of them."""
    answer = mw.call("before", b'{"action": "log", "lines": 100, "size": 300}')
    assert answer.header_bytes <= 64 * 1024  # the orchestrator's limit for an answer header
    assert "log" not in answer.header
    on_stderr = [line for line in mw.stderr().splitlines() if line.startswith("line ")]
    assert [line.split()[1] for line in on_stderr] == [str(i) for i in range(100)]


def test_ctx_log_of_a_value_that_is_not_a_string(mw: Persistent) -> None:
    assert mw.call("before", b'{"action": "log_value", "value": 5}').header["log"] == ["5"]
    # An object is one structured JSON line, in both SDKs (not a repr, not [object Object]).
    logged = mw.call("before", b'{"action": "log_value", "value": {"user": "\xc3\xa9", "n": [1]}}').header["log"]
    assert [json.loads(line) for line in logged] == [{"user": "\u00e9", "n": [1]}]


@pytest.mark.parametrize("then", ["fail", "bad_state"])
def test_a_failing_hook_keeps_the_lines_it_logged(mw: Persistent, then: str) -> None:
    answer = mw.call("before", json.dumps({"action": "log", "lines": 2, "then": then}).encode())
    assert answer.action == "fail"
    assert answer.header["log"] == ["line 0 ", "line 1 "]
    assert mw.alive()


def test_a_line_logged_after_the_answer_goes_to_stderr(mw: Persistent) -> None:
    answer = mw.call("before", b'{"action": "log", "lines": 1, "later": true}')
    assert answer.header["log"] == ["line 0 "]
    deadline = time.monotonic() + 5
    while "logged after the answer" not in mw.stderr():
        assert time.monotonic() < deadline, "the late line never reached STDERR"
        time.sleep(0.02)
    assert "log" not in mw.call("before", b'{"action": "passthrough"}').header


def test_python_ctx_log_from_a_thread_while_the_answer_is_taken_loses_nothing(spawn: Spawn) -> None:
    """Each line is in the answer or on STDERR, exactly once, never an exception."""
    mw = spawn(FIXTURES / "echo_py")
    in_frames: list[str] = []
    for call in range(6):
        answer = mw.call("before", json.dumps({"action": "log_race", "tag": call}).encode())
        in_frames += answer.header.get("log", [])
    deadline = time.monotonic() + 60  # a switch interval of 1 µs makes the threads slow under load
    while True:
        stderr = mw.stderr()
        seen = in_frames + [line for line in stderr.splitlines() if line.startswith("race ")]
        if len(seen) >= 1800 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert "Traceback" not in stderr
    assert sorted(seen) == sorted(f"race {call} {i}" for call in range(6) for i in range(300))


def sdk_middleware(path: Path, exe_name: str, python: str, node: str) -> Path:
    """An executable on the Python or the Node SDK (as `exe_name` says), with these hooks."""
    lib = Path(__file__).resolve().parents[3] / "middlewares" / "lib"
    if exe_name == "echo_py":
        head = f"#!/usr/bin/env python3\nimport sys\nsys.path.insert(0, {str(lib / 'python')!r})\n"
        path.write_text(head + python + "run()\n")
    else:
        sdk = json.dumps(str(lib / "node" / "openruntime-middleware.js"))
        path.write_text(f"#!/usr/bin/env node\nconst mw = require({sdk});\n" + node + "mw.run();\n")
    path.chmod(0o755)
    return path


def observer(tmp_path: Path, exe_name: str) -> Path:
    """A middleware with only a `done` hook that logs what it saw and returns something."""
    return sdk_middleware(
        tmp_path / "observer", exe_name,
        "from openruntime_middleware import Respond, done, run\n"
        "@done(raw=True)\n"
        "def seen(payload, ctx):\n"
        "    ctx.log(f'{ctx.hook} {ctx.outcome} {len(payload)}')\n"
        "    return Respond({'ignored': True})\n",
        "mw.done((payload, ctx) => { ctx.log(`${ctx.hook} ${ctx.outcome} ${payload.length}`);"
        " return mw.respond({ ignored: true }); }, { raw: true });\n",
    )


@pytest.mark.parametrize("exe", SDKS)
def test_a_done_hook_gets_the_outcome_and_answers_nothing_back(exe: Path, spawn: Spawn, tmp_path: Path) -> None:
    mw = spawn(observer(tmp_path, exe.name))
    assert mw.ready is not None and mw.ready.header["hooks"] == ["done"]
    answer = mw.call("done", b'{"statusCode": 200}', extra={"outcome": "response"})
    # Whatever the hook returned, nothing comes back: the orchestrator would not use it.
    assert (answer.action, answer.payload, answer.header["length"]) == ("continue", b"", 0)
    assert answer.header["log"] == ["done response 19"]
    failed = mw.call("done", b'{"errorType": "X"}', extra={"outcome": "error"})
    assert (failed.action, failed.payload, failed.header["log"]) == ("continue", b"", ["done error 18"])
    assert mw.alive()


def event_observer(tmp_path: Path, exe_name: str) -> Path:
    """`received` keeps the event's size in the state; `done` logs it beside the outcome."""
    return sdk_middleware(
        tmp_path / "event_observer", exe_name,
        "from openruntime_middleware import done, received, run\n"
        "@received(raw=True)\n"
        "def got(event, ctx):\n"
        "    ctx.state = {'eventBytes': len(event)}\n"
        "    return b'not used'\n"
        "@done(raw=True)\n"
        "def seen(payload, ctx):\n"
        "    ctx.log(f\"{ctx.outcome} {ctx.state['eventBytes']}\")\n",
        "mw.received((event, ctx) => { ctx.state = { eventBytes: event.length }; return 'not used'; }, { raw: true });\n"
        "mw.done((payload, ctx) => { ctx.log(`${ctx.outcome} ${ctx.state.eventBytes}`); }, { raw: true });\n",
    )


@pytest.mark.parametrize("exe", SDKS)
def test_received_keeps_state_for_done_and_sends_no_payload_back(exe: Path, spawn: Spawn, tmp_path: Path) -> None:
    mw = spawn(event_observer(tmp_path, exe.name))
    assert mw.ready is not None and mw.ready.header["hooks"] == ["received", "done"]
    got = mw.call("received", b'{"event": "as delivered"}')
    assert (got.action, got.payload, got.header["state"]) == ("continue", b"", {"eventBytes": 25})
    answer = mw.call("done", b'{"ok": 1}', state=got.header["state"], extra={"outcome": "response"})
    assert (answer.payload, answer.header["log"]) == (b"", ["response 25"])
