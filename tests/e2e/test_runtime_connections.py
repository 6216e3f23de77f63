"""However a runtime uses its connections to the proxy, each event reaches it once and its
answer reaches the caller at once.

In classic mode the proxy serves a runtime's kept-alive connection from the orchestrator's
own thread (runtime_api/server.py, "the lane"); a runtime that talks on several
connections, streams its answer, or trickles it, must lose nothing to that: these runtimes
(tests/e2e/clients/connection_patterns_runtime.py) are real processes behind the real
orchestrator and emulator. A lane that kept waiting on the wrong connection would show as
a Sandbox.Timedout at the function's timeout.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.conftest import orchestrated, write_pipeline

CLIENT = Path(__file__).parent / "clients" / "connection_patterns_runtime.py"
TIMEOUT_S = 10.0  # far above any answer here: reaching it is the failure


def patterned(tmp_path: Path, pattern: str, **env: str) -> Path:
    return write_pipeline(tmp_path, yaml.safe_dump({"runtime": {
        "command": [sys.executable, str(CLIENT)], "task_root": str(tmp_path), "grace_ms": 500,
        "env": {"PATTERN": pattern, **env}}}))


@pytest.mark.parametrize("pattern", ["pool", "alternate", "cross", "close"])
def test_a_runtime_on_several_connections_gets_every_answer_through(tmp_path: Path, pattern: str) -> None:
    with orchestrated(patterned(tmp_path, pattern), timeout_s=TIMEOUT_S) as emulator:
        results = [emulator.invoke(json.dumps({"n": n}).encode()) for n in range(6)]
    assert [r.function_error for r in results] == [None] * 6, [r.body for r in results]
    assert [r.json() for r in results] == [{"n": n, "pattern": pattern} for n in range(6)]


def test_two_pollers_in_classic_mode_run_each_event_once(tmp_path: Path) -> None:
    executions = tmp_path / "executions"
    executions.touch()
    pipeline = patterned(tmp_path, "two-pollers", EXECUTIONS=str(executions))
    with orchestrated(pipeline, timeout_s=TIMEOUT_S) as emulator:
        results = [emulator.invoke(json.dumps({"n": n}).encode()) for n in range(10)]
    assert [r.json() for r in results] == [{"n": n, "pattern": "two-pollers"} for n in range(10)]
    runs = Counter(line.split()[0] for line in executions.read_text().splitlines())
    assert sorted(runs) == sorted(r.request_id for r in results)
    assert set(runs.values()) == {1}  # no event ran twice


def test_an_answer_trickled_past_the_deadline_is_a_timeout_and_the_next_event_is_served(tmp_path: Path) -> None:
    # The answer's ~200 bytes at 0.1 s each, on the connection the event came on, take ~20 s;
    # the function's timeout is 2 s, and the orchestrator answers it (grace_ms early) and
    # replaces the runtime, alive: Lambda's own timeout does not fire.
    with orchestrated(patterned(tmp_path, "trickle"), timeout_s=2.0) as emulator:
        first = emulator.invoke(b'{"n": 0}')
        pid = emulator.runtime_pid
        slow = emulator.invoke(b'{"trickle": true}')
        after = emulator.invoke(b'{"n": 2}')
        assert emulator.runtime_pid == pid
    assert first.json() == {"n": 0, "pattern": "trickle"}
    assert slow.function_error == "Unhandled" and slow.json()["errorType"] == "Sandbox.Timedout"
    assert after.function_error is None and after.json() == {"n": 2, "pattern": "trickle"}


def test_a_streamed_answer_on_the_runtimes_one_connection_arrives_whole(tmp_path: Path) -> None:
    with orchestrated(patterned(tmp_path, "stream"), timeout_s=TIMEOUT_S) as emulator:
        results = [emulator.invoke(json.dumps({"chunks": n}).encode()) for n in (3, 1, 5)]
    assert [r.function_error for r in results] == [None] * 3, [r.body for r in results]
    assert [r.body for r in results] == [
        b"".join(b"chunk %d;" % i for i in range(n)) for n in (3, 1, 5)]


RAW_CLIENT = Path(__file__).parent / "clients" / "raw_lane_runtime.py"


def raw(tmp_path: Path, pattern: str) -> Path:
    return write_pipeline(tmp_path, yaml.safe_dump({"runtime": {
        "command": [sys.executable, str(RAW_CLIENT)], "task_root": str(tmp_path), "grace_ms": 500,
        "env": {"PATTERN": pattern}}}))


@pytest.mark.parametrize("pattern", ["lost-wake", "lost-head"])
def test_a_request_on_another_connection_mid_request_loses_nothing(tmp_path: Path, pattern: str) -> None:
    # lost-wake: a /next on a second connection while a request on the first is half sent;
    # lost-head: a post on a second connection while the answer's head is read and its body
    # awaited. Either, mishandled, is a Sandbox.Timedout at 4 s.
    with orchestrated(raw(tmp_path, pattern), timeout_s=4.0) as emulator:
        results = [emulator.invoke(json.dumps({"n": n}).encode()) for n in range(3)]
    assert [r.function_error for r in results] == [None] * 3, [r.body for r in results]
    assert [r.json() for r in results] == [{"n": n} for n in range(3)]


def test_a_content_length_in_unicode_digits_is_a_400_and_the_orchestrator_lives_on(tmp_path: Path) -> None:
    log = tmp_path / "function.log"
    with orchestrated(raw(tmp_path, "bad-length"), timeout_s=3.0, stderr_file=log) as emulator:
        first = emulator.invoke(b'{"n": 1}')
        pid = emulator.runtime_pid
        bad = emulator.invoke(b'{"bad": true}')
        after = emulator.invoke(b'{"n": 3}')
        assert emulator.runtime_pid == pid
    assert first.json() == {"n": 1} and after.json() == {"n": 3}
    assert bad.json()["errorType"] == "Sandbox.Timedout"  # its answer was refused; it gave no other
    assert "Traceback" not in log.read_text()


def test_an_answer_that_never_ends_is_cut_at_the_deadline(tmp_path: Path) -> None:
    # A Content-Length of 10^15 and data always ready: the orchestrator answers the timeout
    # itself (alive), instead of reading on until Lambda's own timeout kills the sandbox.
    with orchestrated(raw(tmp_path, "flood"), timeout_s=3.0) as emulator:
        assert emulator.invoke(b'{"n": 1}').json() == {"n": 1}
        pid = emulator.runtime_pid
        flood = emulator.invoke(b'{"flood": true}')
        after = emulator.invoke(b'{"n": 3}')
        assert emulator.runtime_pid == pid
    assert flood.function_error == "Unhandled" and flood.json()["errorType"] == "Sandbox.Timedout"
    assert after.json() == {"n": 3}
