"""A middleware that writes without limits cannot take the orchestrator's memory.

Each case runs the real orchestrator with a middleware that floods a pipe or lies about a
frame's size, and reads the orchestrator's peak resident memory (VmHWM) from /proc: a bound,
not a timing. The invocation fails (or succeeds) as the protocol says, and the next one works.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import orchestrated, write_executable, write_pipeline

pytestmark = pytest.mark.slow

PEAK_BOUND_MB = 150  # DESIGN.md's goal is 64 MB; measured ~20 MB in every case here
FLOOD = 200_000_000  # bytes a hostile middleware writes
LIMIT = 6 * 1024 * 1024 + 100  # Lambda's payload limit

# A persistent middleware (raw frames, no SDK) whose `before` does one hostile thing,
# chosen by the event's "do", and otherwise answers `continue` with the payload.
PERSISTENT = r'''#!/usr/bin/env python3
import json, os, sys
inp = os.fdopen(0, "rb")
out = os.fdopen(1, "wb")
err = os.fdopen(2, "wb")
out.write(b'{"ready":true,"protocol":2,"hooks":["before"],"length":0}\n'); out.flush()
while True:
    line = inp.readline()
    if not line:
        sys.exit(0)
    length = json.loads(line)["length"]
    payload = inp.read(length) if length else b""
    do = json.loads(payload).get("do")
    if do == "huge-length":
        out.write(b'{"action":"continue","length":1000000000}\nabc'); out.flush()
    elif do == "absurd-length":
        out.write(b'{"action":"continue","length":1000000000000000}\nabc'); out.flush()
    elif do == "big-output":
        out.write(b'{"action":"continue","length":%d}\n' % (%(flood)d))
        chunk = b"x" * (1 << 20)
        for _ in range(%(flood)d >> 20):
            out.write(chunk)
        out.flush()
    else:
        if do == "stderr-no-newline":
            chunk = b"e" * (1 << 20)
            for _ in range(%(flood)d >> 20):
                err.write(chunk)
            err.flush()
        out.write(b'{"action":"continue","length":%%d}\n' %% len(payload) + payload); out.flush()
'''.replace("%(flood)d", str(FLOOD)).replace("%%", "%")

# An exec middleware: `before` does one hostile thing, chosen by the event.
EXEC = r'''#!/bin/sh
payload=$(cat)
case $payload in
  *stderr-lines*) head -c %(flood)d /dev/zero | tr '\0' 'a' | fold -w 100 >&2 ;;
  *stderr-one-line*) head -c %(flood)d /dev/zero | tr '\0' 'b' >&2 ;;
  *exec-big-output*) head -c %(flood)d /dev/zero | tr '\0' '7'; exit 0 ;;
  *exec-big-garbage*) head -c %(flood)d /dev/zero; exit 0 ;;
esac
printf '%%s' "$payload"
'''.replace("%(flood)d", str(FLOOD)).replace("%%", "%")


def peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return {'handled': event}\n")
    write_executable(tmp_path / "middlewares" / "flood" / "flood", PERSISTENT)
    write_executable(tmp_path / "middlewares" / "floodexec" / "floodexec", EXEC)
    return write_pipeline(tmp_path, """
        runtime:
          name: python
          handler: app.handler
          task_root: .
        middlewares:
          - name: flood
            mode: persistent
            hooks: [before]
            timeout_ms: 20000
          - name: floodexec
            mode: exec
            hooks: [before]
            timeout_ms: 20000
    """)


def invoke(emulator, do: str) -> dict:  # type: ignore[no-untyped-def]
    result = emulator.invoke(json.dumps({"do": do}).encode())
    return {"status": result.status, "error": result.function_error, "body": result.json()}


@pytest.mark.parametrize(("do", "error_type", "says"), [
    ("huge-length", "Middleware.OutputTooLarge", "announced a 1000000000-byte payload"),
    ("absurd-length", "Middleware.OutputTooLarge", "announced a 1000000000000000-byte payload"),
    ("big-output", "Middleware.OutputTooLarge", f"over {LIMIT} bytes"),
])
def test_a_persistent_answer_over_the_limit_is_refused_unread(
        pipeline: Path, tmp_path: Path, do: str, error_type: str, says: str) -> None:
    with orchestrated(pipeline, timeout_s=60, stderr_file=tmp_path / "log") as emulator:
        answer = invoke(emulator, do)
        assert answer["error"] == "Unhandled", answer
        assert answer["body"]["errorType"] == error_type and says in answer["body"]["errorMessage"]
        assert answer["body"]["middleware"]["name"] == "flood"
        assert peak_mb(emulator.runtime_pid) < PEAK_BOUND_MB
        # The middleware was replaced: the next invocation goes through it as usual.
        assert invoke(emulator, "nothing")["body"] == {"handled": {"do": "nothing"}}


@pytest.mark.parametrize("do", ["exec-big-output", "exec-big-garbage"])
def test_exec_output_over_the_limit_stops_the_middleware_there(pipeline: Path, tmp_path: Path, do: str) -> None:
    with orchestrated(pipeline, timeout_s=60, stderr_file=tmp_path / "log") as emulator:
        answer = invoke(emulator, do)
        assert answer["body"]["errorType"] == "Middleware.OutputTooLarge", answer
        assert f"more than {LIMIT} bytes to STDOUT" in answer["body"]["errorMessage"]
        assert answer["body"]["middleware"]["name"] == "floodexec"
        assert peak_mb(emulator.runtime_pid) < PEAK_BOUND_MB


@pytest.mark.parametrize("do", ["stderr-lines", "stderr-one-line", "stderr-no-newline"])
def test_a_stderr_flood_is_logged_in_bounded_lines_and_the_rest_counted(
        pipeline: Path, tmp_path: Path, do: str) -> None:
    log = tmp_path / "log"
    with orchestrated(pipeline, timeout_s=60, stderr_file=log) as emulator:
        answer = invoke(emulator, do)
        assert answer["body"] == {"handled": {"do": do}}, answer  # STDERR is only a log
        assert peak_mb(emulator.runtime_pid) < PEAK_BOUND_MB
        # How much was dropped is said by the end of the invocation that flooded, not at the
        # middleware's next write or when the sandbox stops (which may be hours later).
        text = log.read_bytes()
        notes = [line for line in text.split(b"\n") if b"more bytes of STDERR not logged" in line]
        assert notes, "the drop is reported with the invocation"
        assert all(b"(over 1024 KiB in one invocation)" in note for note in notes)
        dropped = sum(int(note.split(b"[openruntime] ")[1].split()[0]) for note in notes)
        logged = sum(len(line) for line in text.split(b"\n") if line.endswith(b"eeee") or line.endswith(b"aaaa")
                     or line.endswith(b"bbbb"))
        assert dropped + logged > FLOOD * 0.99, "what is not logged is counted"
        assert invoke(emulator, "nothing")["body"] == {"handled": {"do": "nothing"}}
    assert len(text) < 4 * 1024 * 1024, "the log holds the budget, not the flood"
    lines = text.split(b"\n")
    assert max(len(line) for line in lines) < 40 * 1024, "long lines are split"
