"""Lambda's accounting: an invocation's phase ends when the bootstrap calls /next again.

A runtime that dies (or is killed at a timeout) is replaced, and the replacement's init
must not sit on the failed invocation's path: the orchestrator starts it and calls /next
at once. Shown with a replacement whose init is held at a gate the test opens: the failed
invocation's END comes while the gate is still shut, and its answer is the orchestrator's
own Lambda-shaped error (under AWS's RIE, a restart on that path turned a handler timeout
into the RIE's plain "Task timed out" and a sandbox reset).
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import orchestrated, write_pipeline

pytestmark = pytest.mark.slow

APP = '''
import os, time
gate, first = os.environ["GATE"], os.environ["FIRST_START"]
if os.path.exists(first):  # a replacement: its init waits for the test
    while not os.path.exists(gate):
        time.sleep(0.01)
open(first, "a").close()

def handler(event, context):
    if event.get("do") == "crash":
        os._exit(3)
    if event.get("do") == "hang":
        time.sleep(60)
    return {"ok": True}
'''


@pytest.mark.parametrize(("do", "error_type"), [("crash", "Runtime.ExitError"), ("hang", "Sandbox.Timedout")])
def test_the_replacement_starts_after_the_failed_invocation_has_ended(tmp_path: Path, do: str, error_type: str) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    gate = tmp_path / "gate"
    pipeline = write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")
    lines: list[str] = []
    env = {"GATE": str(gate), "FIRST_START": str(tmp_path / "first-start")}
    with orchestrated(pipeline, timeout_s=2, env=env) as emulator:
        emulator.log = lines.append
        failed = emulator.invoke(b'{"do": "%s"}' % do.encode())
        assert failed.json()["errorType"] == error_type, failed.body
        # The failed invocation's phase is over (the orchestrator polled again) while the
        # replacement is still held in its init.
        deadline = time.monotonic() + 10
        while f"END RequestId: {failed.request_id}" not in lines and time.monotonic() < deadline:
            time.sleep(0.02)
        assert f"END RequestId: {failed.request_id}" in lines, lines
        report = next(line for line in lines if line.startswith(f"REPORT RequestId: {failed.request_id}"))
        assert "Status: timeout" not in report
        gate.touch()
        after = emulator.invoke(b"{}")
    assert after.json() == {"ok": True}, after.body


def test_a_cold_starts_init_is_not_in_reports_duration(tmp_path: Path) -> None:
    """Lambda's REPORT: Init Duration for the init, Duration from the event's delivery. A
    runtime that takes half a second to start and answers at once has a short Duration."""
    (tmp_path / "slow_init.py").write_text("import time\ntime.sleep(0.5)\n\ndef handler(event, context):\n    return 1\n")
    pipeline = write_pipeline(tmp_path, "runtime: {name: python, handler: slow_init.handler, task_root: .}\n")
    lines: list[str] = []
    with orchestrated(pipeline) as emulator:
        emulator.log = lines.append
        assert emulator.invoke(b"{}").body == b"1"
    report = next(line for line in lines if line.startswith("REPORT"))
    fields = dict(part.split(": ", 1) for part in report.split("\t")[1:])
    init_ms = float(fields["Init Duration"].split()[0])
    duration_ms = float(fields["Duration"].split()[0])
    assert init_ms >= 500 and duration_ms < init_ms - 300, report
