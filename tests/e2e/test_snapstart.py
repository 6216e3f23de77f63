"""SnapStart: AWS's own Python client (awslambdaric, with snapshot_restore_py hooks) behind
the orchestrator, under the emulator's `snapstart` mode: before-snapshot hooks, restore/next
(through the orchestrator's proxy to the emulator), after-restore hooks, then invocations."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from openruntime.emulator.sandbox import Emulator, FunctionSettings
from tests.conftest import write_pipeline

pytest.importorskip("snapshot_restore_py", reason="awslambdaric's SnapStart hooks (snapshot_restore_py) are not installed")

APP = """\
import os
from snapshot_restore_py import register_after_restore, register_before_snapshot

LOG = os.environ["HOOK_LOG"]

def note(text):
    with open(LOG, "a") as f:
        f.write(text + "\\n")

@register_before_snapshot
def before():
    note("before-snapshot " + os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"])

@register_after_restore
def after():
    if os.environ.get("FAIL_AFTER_RESTORE"):
        raise RuntimeError("could not reconnect after restore")
    note("after-restore")

def handler(event, context):
    note("handler")
    return {"restored": True}
"""


def snapstart_function(tmp_path: Path, lines: list[str], **env: str) -> Emulator:
    (tmp_path / "app.py").write_text(APP)
    pipeline = write_pipeline(tmp_path, f"runtime: {{command: [{sys.executable}, -m, awslambdaric], "
                                        "handler: app.handler, task_root: .}\n")
    return Emulator(command=[sys.executable, "-m", "openruntime", "bootstrap"], cwd=tmp_path,
                    env={"OPENRUNTIME_PIPELINE": str(pipeline), "HOOK_LOG": str(tmp_path / "hooks"), **env},
                    function=FunctionSettings(timeout_s=20), snapstart=True, log=lines.append,
                    child_stderr=open(tmp_path / "function.log", "wb"))


def test_the_snapstart_flow_runs_through_the_orchestrator(tmp_path: Path) -> None:
    lines: list[str] = []
    with snapstart_function(tmp_path, lines) as emulator:
        first = emulator.invoke(b"{}")
        second = emulator.invoke(b"{}")
    assert json.loads(first.body) == json.loads(second.body) == {"restored": True}
    assert (tmp_path / "hooks").read_text().splitlines() == [
        "before-snapshot snap-start", "after-restore", "handler", "handler"]
    reports = [line for line in lines if line.startswith("REPORT")]
    assert "Restore Duration" in reports[0] and "Init Duration" not in reports[0]
    assert "Restore Duration" not in reports[1]
    assert "SNAPSTART snapshot taken and restored" in lines


def test_a_failing_after_restore_hook_is_the_invocations_error(tmp_path: Path) -> None:
    """awslambdaric posts the hook's exception to restore/error (header
    Runtime.AfterRestoreError) through the orchestrator; the caller gets it, and the handler
    never runs."""
    lines: list[str] = []
    with snapstart_function(tmp_path, lines, FAIL_AFTER_RESTORE="1") as emulator:
        result = emulator.invoke(b"{}")
    error = json.loads(result.body)
    assert result.function_error and error["errorMessage"] == "could not reconnect after restore"
    assert (tmp_path / "hooks").read_text().splitlines() == ["before-snapshot snap-start"]


RECONNECTING_MIDDLEWARE = """\
#!{python}
import json, sys
inp, out = sys.stdin.buffer, sys.stdout.buffer
out.write(b'{{"ready":true,"protocol":2,"hooks":["before","before_snapshot","after_restore"],"length":0}}\\n')
out.flush()
while line := inp.readline():
    header = json.loads(line)
    payload = inp.read(header["length"])
    with open({log!r}, "a") as f:
        f.write("middleware " + header["hook"] + "\\n")
    out.write(b'{{"action":"continue","length":%d}}\\n' % len(payload) + payload)
    out.flush()
"""


def test_middlewares_drop_and_reopen_around_the_snapshot(tmp_path: Path) -> None:
    """A persistent middleware listing before_snapshot and after_restore is called once
    each, around Lambda's snapshot: after the runtime's own before-snapshot hooks, before
    its after-restore hooks, and before any invocation."""
    from tests.conftest import write_executable

    log = tmp_path / "hooks"
    write_executable(tmp_path / "middlewares" / "pool" / "pool",
                     RECONNECTING_MIDDLEWARE.format(python=sys.executable, log=str(log)))
    (tmp_path / "app.py").write_text(APP)
    pipeline = write_pipeline(tmp_path, f"""runtime: {{command: [{sys.executable}, -m, awslambdaric], handler: app.handler, task_root: .}}
middlewares:
  - {{name: pool, mode: persistent, hooks: [before, before_snapshot, after_restore]}}
""")
    lines: list[str] = []
    with Emulator(command=[sys.executable, "-m", "openruntime", "bootstrap"], cwd=tmp_path,
                  env={"OPENRUNTIME_PIPELINE": str(pipeline), "HOOK_LOG": str(log)},
                  function=FunctionSettings(timeout_s=20), snapstart=True, log=lines.append,
                  child_stderr=open(tmp_path / "function.log", "wb")) as emulator:
        emulator.invoke(b"{}")
        emulator.invoke(b"{}")
    assert log.read_text().splitlines() == [
        "before-snapshot snap-start", "middleware before_snapshot", "middleware after_restore", "after-restore",
        "middleware before", "handler", "middleware before", "handler"]
