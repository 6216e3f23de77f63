"""The two runners the chain calls (ExecMiddleware, PersistentMiddleware), driven directly.

Real processes over real pipes, but without the emulator: the corners of the framing and
of process supervision that a whole pipeline makes hard to reach.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openruntime.config import MiddlewareConfig
from openruntime.invocation import Invocation
from openruntime.errors import MiddlewareFailure
from openruntime.middleware.exec import ExecMiddleware
from openruntime.middleware.protocol import InvocationScope
from openruntime.middleware.persistent import PersistentMiddleware
from tests.conftest import wait_gone, write_executable

HEADER = "import json, os, sys, time\nout, inp = sys.stdout.buffer, sys.stdin.buffer\n"
READY = 'out.write(b\'{"ready":true,"protocol":2,"length":0}\\n\'); out.flush()\n'
READ_FRAME = "h = json.loads(inp.readline()); p = inp.read(h['length'])\n"


def invocation(body: bytes = b"{}") -> Invocation:
    return Invocation("req-1", int(time.time() * 1000) + 60_000, "arn:fn", None, None, "application/json", body)


def persistent_mw(tmp_path: Path, body: str, name: str = "pm", **config: object) -> PersistentMiddleware:
    exe = write_executable(tmp_path / name, "#!/usr/bin/env python3\n" + HEADER + body)
    return PersistentMiddleware(MiddlewareConfig(name=name, **config), [str(exe)], dict(os.environ))  # type: ignore[arg-type]


@pytest.fixture
def started() -> Iterator[list[PersistentMiddleware]]:
    """Middlewares to stop at the end of the test."""
    running: list[PersistentMiddleware] = []
    yield running
    for mw in running:
        mw.stop()


def call(mw: ExecMiddleware | PersistentMiddleware, payload: bytes = b"{}", hook: str = "before",
         timeout_s: float = 5.0, content_type: str = "application/json") -> bytes:
    return mw.call(hook, payload, content_type, invocation(payload), InvocationScope(), timeout_s).payload


ECHO = READY + "while True:\n    " + READ_FRAME + (
    "    out.write(json.dumps({'action': 'continue', 'length': len(p)}).encode() + b'\\n' + p); out.flush()\n")


def test_large_payload_both_ways_in_one_exchange(tmp_path: Path, started: list[PersistentMiddleware]) -> None:
    mw = persistent_mw(tmp_path, ECHO)
    started.append(mw)
    mw.start()
    mw.await_ready()
    payload = os.urandom(6 * 1024 * 1024)
    assert call(mw, payload, content_type="application/octet-stream") == payload
    assert call(mw, b'{"small": 1}') == b'{"small": 1}'  # still in step after the big one
    assert mw.starts == 1


def test_header_fields_are_valid_compact_json(tmp_path: Path, started: list[PersistentMiddleware]) -> None:
    seen = tmp_path / "headers.jsonl"
    mw = persistent_mw(tmp_path, READY + "while True:\n    line = inp.readline()\n"
                       f"    open({str(seen)!r}, 'ab').write(line)\n"
                       "    h = json.loads(line); p = inp.read(h['length'])\n"
                       "    out.write(json.dumps({'action': 'continue', 'length': len(p), 'state': {'s': 'é\\n\"'}}).encode() + b'\\n' + p); out.flush()\n",
                       name='we"ird\nname')
    started.append(mw)
    inv = Invocation('r"1\n', 1234, "arn:\u00e9", 'Root=1;"x"', None, "application/json", b"{}")
    scope = InvocationScope()
    mw.call("before", b"{}", 'application/json; charset="utf-8"', inv, scope, 5.0)
    mw.call("after", b"{}", "application/json", inv, scope, 5.0)
    first, second = [json.loads(line) for line in seen.read_bytes().splitlines()]
    assert first == {"hook": "before", "request_id": 'r"1\n', "deadline_ms": 1234, "function_arn": "arn:\u00e9",
                     "trace_id": 'Root=1;"x"', "tenant_id": None, "content_type": 'application/json; charset="utf-8"',
                     "middleware": 'we"ird\nname', "state": None, "stages": [], "event_bytes": 2,
                     "length": 2}
    assert second["state"] == {"s": 'é\n"'}  # handed back as given


def test_stages_are_compact_json_whatever_the_middleware_is_called() -> None:
    scope = InvocationScope()
    scope.add_stage('we"ird\nname', "before", 1_700_000_000_123_456_789, 2_500_999)
    scope.add_stage("log", "before", 1_700_000_000_126_000_000, 1_000)
    scope.add_stage(None, "handler", 1_700_000_000_127_000_000, 40_000_000)
    assert json.loads(scope.stages_json()) == [['we"ird\nname', "before", 1_700_000_000_123_456, 2_500],
                                               ["log", "before", 1_700_000_000_126_000, 1],
                                               [None, "handler", 1_700_000_000_127_000, 40_000]]


@pytest.mark.parametrize("answer, expected", [
    (b"[1, 2]\n", "without a valid length"),
    (b'{"action": "continue", "length": -1}\n', "without a valid length"),
    (b'{"action": "continue", "length": "2"}\n', "without a valid length"),
    (b'{"action": "continue", "length": true}\n', "without a valid length"),
    (b'{"action": "dance", "length": 0}\n', "unknown action 'dance'"),
    (b'{"action": ["continue"], "length": 0}\n', "unknown action ['continue']"),
    (b'{"action": "continue", "length": 0, "content_type": 7}\n', "content_type 7"),
    (b"x" * 70_000, "header line over 64 KiB"),
    (b'{"length": 0, "pad": "' + b"x" * (64 * 1024 - 24) + b'"}\n', "header line over 64 KiB"),
], ids=["not-an-object", "negative-length", "string-length", "bool-length", "unknown-action", "list-action", "bad-content-type",
        "endless-header", "header-one-byte-over-the-limit"])
def test_malformed_answers_are_invalid_frame_and_the_process_is_replaced(
    tmp_path: Path, started: list[PersistentMiddleware], answer: bytes, expected: str
) -> None:
    flag = tmp_path / "answered-badly"  # only the first process misbehaves
    mw = persistent_mw(tmp_path, READY + "while True:\n    " + READ_FRAME +
                       f"    first = not os.path.exists({str(flag)!r}); open({str(flag)!r}, 'w').close()\n"
                       f"    out.write({answer!r} if first else b'{{\"length\": 2}}\\n' + p); out.flush()\n")
    started.append(mw)
    with pytest.raises(MiddlewareFailure) as failure:
        call(mw)
    assert failure.value.error_type == "Middleware.InvalidFrame"
    assert expected in failure.value.message
    assert call(mw) == b"{}" and mw.starts == 2


def test_a_middleware_that_exits_between_invocations_is_restarted_without_failing_one(
    tmp_path: Path, started: list[PersistentMiddleware], capfd: pytest.CaptureFixture[str]
) -> None:
    mw = persistent_mw(tmp_path, READY + "while True:\n    " + READ_FRAME +
                       "    out.write(b'{\"length\": %d}\\n' % len(p) + p); out.flush()\n"
                       "    if p == b'\"bye\"': sys.exit(4)\n")
    started.append(mw)
    assert call(mw, b'"bye"') == b'"bye"'
    assert mw._child is not None
    assert wait_gone([mw._child.process.pid]) == []  # it exited between the invocations (a zombie counts)
    assert call(mw, b'"again"') == b'"again"'
    assert mw.starts == 2
    assert "exited between invocations (exit status 4); restarted" in capfd.readouterr().err


def test_a_header_line_of_exactly_64_kib_is_accepted(tmp_path: Path, started: list[PersistentMiddleware]) -> None:
    line = b'{"length": 2, "pad": "' + b"x" * (64 * 1024 - 25) + b'"}'
    assert len(line) + 1 == 64 * 1024
    mw = persistent_mw(tmp_path, READY + "while True:\n    " + READ_FRAME + f"    out.write({line!r} + b'\\n' + p); out.flush()\n")
    started.append(mw)
    assert call(mw) == b"{}" and mw.starts == 1


def test_an_extra_frame_does_not_answer_the_next_call(
    tmp_path: Path, started: list[PersistentMiddleware], capfd: pytest.CaptureFixture[str]
) -> None:
    """A middleware that answers twice: left in the pipe, the second frame would be read as
    the answer to the next call (another invocation's payload). It is replaced instead."""
    mw = persistent_mw(tmp_path, READY + "while True:\n    " + READ_FRAME +
                       "    stray = b'{\"length\": 7}\\n\"stray\"' if p == b'\"twice\"' else b''\n"
                       "    os.write(1, b'{\"length\": %d}\\n' % len(p) + p + stray)\n")
    started.append(mw)
    # One write(2), whatever PYTHONUNBUFFERED says: the stray frame is there with the answer.
    assert call(mw, b'"twice"') == b'"twice"'
    assert call(mw, b'"next"') == b'"next"'  # not b'"stray"'
    assert call(mw, b'"after"') == b'"after"'
    assert mw.starts == 2
    assert "wrote to its STDOUT outside a call" in capfd.readouterr().err


def test_a_state_over_32_kib_fails_the_call_but_keeps_the_process(
    tmp_path: Path, started: list[PersistentMiddleware]
) -> None:
    mw = persistent_mw(tmp_path, READY + "while True:\n    " + READ_FRAME +
                       "    state = 'x' * (40000 if p == b'\"big\"' else 10)\n"
                       "    out.write(json.dumps({'length': len(p), 'state': state}).encode() + b'\\n' + p); out.flush()\n")
    started.append(mw)
    with pytest.raises(MiddlewareFailure) as failure:
        call(mw, b'"big"')
    assert failure.value.error_type == "Middleware.InvalidFrame"
    assert "state of 40002 bytes" in failure.value.message and "32 KiB" in failure.value.message
    assert call(mw, b'"small"') == b'"small"' and mw.starts == 1


def test_a_middleware_that_never_reads_a_big_payload_times_out(
    tmp_path: Path, started: list[PersistentMiddleware]
) -> None:
    mw = persistent_mw(tmp_path, READY + "time.sleep(300)\n")
    started.append(mw)
    with pytest.raises(MiddlewareFailure) as failure:  # blocked writing, cut off at the deadline
        call(mw, os.urandom(4 * 1024 * 1024), timeout_s=0.5, content_type="application/octet-stream")
    assert failure.value.error_type == "Middleware.Timeout"
    assert "did not answer within 500 ms" in failure.value.message


def test_a_middleware_that_fails_to_start_reports_its_stderr(tmp_path: Path) -> None:
    mw = persistent_mw(tmp_path, "print('cannot import thing', file=sys.stderr); sys.exit(2)\n")
    mw.start()
    with pytest.raises(MiddlewareFailure) as failure:
        mw.await_ready(5)
    assert failure.value.error_type == "Middleware.Crashed"
    assert "did not start" in failure.value.message and "exit status 2" in failure.value.message
    assert "cannot import thing" in failure.value.message


def test_a_wrong_first_frame_or_protocol_is_an_init_failure(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    mw = persistent_mw(tmp_path, f"open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
                       "out.write(b'{\"ready\": true, \"protocol\": 3, \"length\": 0}\\n'); out.flush(); time.sleep(30)\n")
    mw.start()
    with pytest.raises(MiddlewareFailure) as failure:
        mw.await_ready(5)
    assert failure.value.error_type == "Middleware.InvalidFrame" and "protocol 3" in failure.value.message
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left running
        os.kill(int(pidfile.read_text()), 0)


def test_a_missing_executable_fails_the_call_not_the_orchestrator(tmp_path: Path) -> None:
    mw = PersistentMiddleware(MiddlewareConfig(name="gone"), [str(tmp_path / "gone")], dict(os.environ))
    with pytest.raises(MiddlewareFailure) as failure:
        call(mw)
    assert failure.value.error_type == "Middleware.NotFound" and "could not be started" in failure.value.message


def test_after_stop_a_call_starts_no_new_process(tmp_path: Path, started: list[PersistentMiddleware]) -> None:
    """At shutdown, a call still coming (another poller's, in Managed Instances mode) fails
    saying why; it does not start a process the shutdown would then leave behind."""
    mw = persistent_mw(tmp_path, ECHO)
    started.append(mw)
    mw.start()
    mw.await_ready(5)
    assert call(mw, b'{"n":1}') == b'{"n":1}'
    mw.stop()
    with pytest.raises(MiddlewareFailure) as failure:
        call(mw)
    assert "the orchestrator is shutting down" in failure.value.message
    assert mw.starts == 1


def test_exec_middleware_that_ignores_its_stdin_still_succeeds(tmp_path: Path) -> None:
    exe = write_executable(tmp_path / "ignore", "#!/bin/sh\nprintf '{\"ignored\": true}'\n")
    mw = ExecMiddleware(MiddlewareConfig(name="ignore"), [str(exe)], dict(os.environ))
    assert call(mw, os.urandom(2 * 1024 * 1024), content_type="application/octet-stream") == b'{"ignored": true}'


def test_exec_middleware_large_payload_round_trip(tmp_path: Path) -> None:
    exe = write_executable(tmp_path / "cat", "#!/bin/sh\nexec cat\n")
    mw = ExecMiddleware(MiddlewareConfig(name="cat"), [str(exe)], dict(os.environ))
    payload = os.urandom(6 * 1024 * 1024)
    assert call(mw, payload, content_type="application/octet-stream") == payload


def test_exec_middleware_killed_by_a_signal(tmp_path: Path) -> None:
    exe = write_executable(tmp_path / "die", "#!/bin/sh\necho dying >&2\nkill -9 $$\n")
    mw = ExecMiddleware(MiddlewareConfig(name="die"), [str(exe)], dict(os.environ))
    with pytest.raises(MiddlewareFailure) as failure:
        call(mw)
    assert failure.value.error_type == "Middleware.ExitError"
    assert "killed by signal 9" in failure.value.message and failure.value.details["stderrTail"] == "dying"


@pytest.mark.parametrize(("content_type", "stdin", "expected"), [
    ("application/json", b'{"a":1}', b'{"a":1}'),  # `echo` adds a newline: forgiven
    ("text/plain; charset=utf-8", b"hello", b"hello"),
    ("application/json", b'{"a":1}\n', b'{"a":1}\n\n'),  # the input had one: nothing forgiven
    ("application/octet-stream", b"\x00\x01", b"\x00\x01\n"),  # bytes: passed on exactly
    ("image/png", b"\x89PNG", b"\x89PNG\n"),
])
def test_exec_trailing_newline_is_forgiven_only_for_text_and_json(
    tmp_path: Path, content_type: str, stdin: bytes, expected: bytes
) -> None:
    exe = write_executable(tmp_path / "echoer", "#!/bin/sh\ncat\necho\n")  # what it read, then a newline
    mw = ExecMiddleware(MiddlewareConfig(name="echoer"), [str(exe)], dict(os.environ))
    out = mw.call("before", stdin, content_type, invocation(stdin), InvocationScope(), 5.0).payload
    assert out == expected


def test_exec_timeout_keeps_what_the_middleware_said_on_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    exe = write_executable(tmp_path / "hangs", "#!/bin/sh\necho 'waiting for the database' >&2\nexec sleep 30\n")
    mw = ExecMiddleware(MiddlewareConfig(name="hangs"), [str(exe)], dict(os.environ))
    with pytest.raises(MiddlewareFailure) as failure:
        call(mw, timeout_s=1.0)
    assert failure.value.error_type == "Middleware.Timeout"
    assert failure.value.details["stderrTail"] == "waiting for the database"
    assert "[hangs] req-1 waiting for the database" in capfd.readouterr().err


def test_exec_own_error_as_text_and_stderr_lines_split_at_newlines_only(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    exe = write_executable(tmp_path / "denies", "#!/bin/sh\nprintf 'progress 1\\rprogress 2\\n' >&2\necho 'token missing'\nexit 4\n")
    mw = ExecMiddleware(MiddlewareConfig(name="denies"), [str(exe)], dict(os.environ))
    with pytest.raises(MiddlewareFailure) as failure:
        call(mw)
    assert (failure.value.error_type, failure.value.message) == ("Middleware.Failed", "token missing")
    assert "[denies] req-1 progress 1\rprogress 2\n" in capfd.readouterr().err


def test_a_bare_continue_has_length_zero_and_empties_the_payload(
        tmp_path: Path, started: list[PersistentMiddleware]) -> None:
    """As documented: `length` defaults to 0, so `{"action":"continue"}` alone continues
    with no bytes (to keep the payload, send it back)."""
    mw = persistent_mw(tmp_path, READY + "while True:\n    " + READ_FRAME +
                       "    out.write(b'{\"action\": \"continue\"}\\n'); out.flush()\n")
    started.append(mw)
    assert mw.call("before", b'{"kept": false}', "text/plain", invocation(), InvocationScope(), 5.0).payload == b""


def test_answer_log_lines_are_logged_for_the_call_before_it_returns(
        tmp_path: Path, started: list[PersistentMiddleware], capfd: pytest.CaptureFixture[str]) -> None:
    """An answer's `log` lines are in the function's log when `call` returns (inside the
    invocation, before END), tagged with that call's request id; a JSON line stays JSON."""
    answer = {"action": "continue", "length": 2,
              "log": ["plain line", "two\nlines\n", '{"metric": 1}', "x" * 40_000]}
    mw = persistent_mw(tmp_path, READY + "while True:\n    " + READ_FRAME +
                       f"    out.write({json.dumps(answer).encode()!r} + b'\\n{{}}'); out.flush()\n")
    started.append(mw)
    assert call(mw) == b"{}"
    err = capfd.readouterr().err
    assert "[pm] req-1 plain line\n[pm] req-1 two\n[pm] req-1 lines\n" in err
    assert '{"metric":1,"middleware":"pm","requestId":"req-1"}\n' in err
    assert f"[pm] req-1 {'x' * 32768}\n[pm] req-1 {'x' * (40_000 - 32768)}\n" in err  # split as STDERR lines are


@pytest.mark.parametrize("log_value", ['"one line"', '[1, 2]', '{"line": "x"}'])
def test_an_answer_log_that_is_not_a_list_of_strings_is_an_invalid_frame(
        tmp_path: Path, started: list[PersistentMiddleware], log_value: str) -> None:
    mw = persistent_mw(tmp_path, READY + "while True:\n    " + READ_FRAME +
                       f"    out.write(b'{{\"action\":\"continue\",\"length\":0,\"log\":{log_value}}}\\n'); out.flush()\n")
    started.append(mw)
    with pytest.raises(MiddlewareFailure) as failure:
        call(mw)
    assert failure.value.error_type == "Middleware.InvalidFrame"
    assert "a log that is not a list of strings" in failure.value.message


def test_an_answer_log_of_empty_lines_cannot_multiply_into_megabytes_of_log(
        tmp_path: Path, started: list[PersistentMiddleware], capfd: pytest.CaptureFixture[str]) -> None:
    newlines = "\\\\n" * 30_000  # 30,000 empty lines (JSON "\\n") in one 60 KB header: 360 KB once tagged
    mw = persistent_mw(tmp_path, READY + "while True:\n    " + READ_FRAME +
                       f"    out.write(b'{{\"action\":\"continue\",\"length\":2,\"log\":[\"first\",\"{newlines}\"]}}\\n{{}}'); out.flush()\n")
    started.append(mw)
    assert call(mw) == b"{}"
    err = capfd.readouterr().err
    assert err.startswith("[pm] req-1 first\n[pm] req-1 \n")
    assert len(err) <= 256 * 1024 + 200
    assert err.endswith("more lines of this answer's log not logged (over 256 KiB once tagged)\n")
    assert call(mw) == b"{}"  # the process is kept: it did nothing the protocol forbids
