"""The runtime started by /opt/bootstrap before the orchestrator (prestart.py): it waits for
the orchestrator's plan, takes it whole, or leaves saying it refused it. A real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO

WAITER = f"""
import json, os, signal, sys
sys.path.insert(0, {str(REPO / "runtimes" / "python")!r})
from openruntime_python_runtime.prestart import await_plan
extra = os.open("/dev/null", os.O_RDONLY)  # inherited by a runtime a shell started: closed by the plan
await_plan(sys.argv[1])
print(json.dumps({{"cwd": os.getcwd(), "env": dict(os.environ), "session_leader": os.getsid(0) == os.getpid(),
                  "extra_open": os.path.exists(f"/proc/self/fd/{{extra}}"),
                  "sigint": signal.getsignal(signal.SIGINT) is signal.default_int_handler}}))
"""


def waiting(go: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", WAITER, str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env if env is not None else {"PATH": os.environ["PATH"]},
                            preexec_fn=lambda: __import__("signal").signal(2, 1))  # SIGINT ignored, as `cmd &` gives


def send(go: Path, plan: dict) -> None:  # type: ignore[type-arg]
    partial = go.with_name(go.name + ".partial")
    partial.write_text(json.dumps(plan))
    partial.chmod(0o600)
    os.rename(partial, go)


def test_it_takes_the_plan_whole_and_only_its_own(tmp_path: Path) -> None:
    go = tmp_path / "go"
    folder = tmp_path / "task"
    folder.mkdir()
    process = waiting(go)
    # A plan left by an earlier sandbox, for another pid: not taken, not removed.
    send(go, {"pid": process.pid + 1, "env": {"STALE": "1"}, "cwd": "/"})
    time.sleep(0.1)
    assert process.poll() is None and go.exists()
    plan_env = {"PATH": os.environ["PATH"], "LAMBDA_TASK_ROOT": str(folder), "PWD": "/elsewhere", "A": "é"}
    send(go, {"pid": process.pid, "env": plan_env, "cwd": str(folder)})
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    became = json.loads(out)
    assert became["cwd"] == str(folder)
    # Exactly the plan's variables (PWD: where it runs, as a shell started there says).
    assert {k: v for k, v in became["env"].items() if k != "LC_CTYPE"} == {**plan_env, "PWD": str(folder)}
    assert became["session_leader"] and became["sigint"] and not became["extra_open"]
    assert not go.exists()  # taken


def test_a_plan_it_cannot_become_is_refused_before_anything_runs(tmp_path: Path) -> None:
    go = tmp_path / "go"
    process = waiting(go, {"PATH": os.environ["PATH"], "PYTHONPATH": "/opt/python"})
    send(go, {"pid": process.pid, "env": {"PATH": os.environ["PATH"]}, "cwd": str(tmp_path)})
    out, err = process.communicate(timeout=10)
    assert process.returncode == 3 and out == ""
    assert "other interpreter settings (PYTHONPATH)" in err
    assert go.with_name("go.refused").exists()  # how the orchestrator tells it from a failed init


def test_a_plan_file_of_anyone_else_is_not_taken(tmp_path: Path) -> None:
    go = tmp_path / "go"
    process = waiting(go)
    go.write_text(json.dumps({"pid": process.pid, "env": {}, "cwd": "/"}))
    go.chmod(0o644)  # readable by others: not the orchestrator's private file
    out, err = process.communicate(timeout=10)
    assert process.returncode == 3 and "not this user's private file" in err and out == ""
