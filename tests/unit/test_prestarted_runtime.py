"""Taking over the runtime /opt/bootstrap started (orchestrator/launch.py, Prestarted): with
real processes and sockets; the end-to-end runs are in tests/layers/test_layer_prestart.py."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openruntime.orchestrator.launch import Prestarted, RuntimeLaunch, take_prestarted
from openruntime.processes import adopt_started, kill_group

COMMAND = ["/opt/runtimes/python/bootstrap", "app.handler"]


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A process in this test's own process group, as a runtime /opt/bootstrap started is
    in the orchestrator's until it takes a session of its own."""
    process = subprocess.Popen(["sleep", "30"])
    yield process
    process.kill()
    process.wait()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def test_the_planned_runtime_gets_the_port_and_the_plan(tmp_path: Path, child: subprocess.Popen[bytes]) -> None:
    launch = RuntimeLaunch(list(COMMAND), {"A": "1", "_HANDLER": "app.handler"}, str(tmp_path))
    port = free_port()
    go = tmp_path / "go"
    # The orchestrator's environment, as the script left it: what it started the runtime
    # with, plus what it exported after (the layer's Python path, the PYTHONPATH it made).
    environ = {"A": "1", "_HANDLER": "lambda_function.handler", "OPENRUNTIME_LAYER_PYTHONPATH": "/opt/python",
               "PYTHONPATH": "/opt/python"}
    early = take_prestarted(Prestarted(child.pid, port, list(COMMAND), str(go)), launch, None, environ)
    assert early is not None and early.by_script is not None
    try:
        assert early.listener.getsockname() == ("127.0.0.1", port)
        assert early.launch.env == {"A": "1", "_HANDLER": "app.handler", "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}"}
        assert early.process is not None and early.process.pid == child.pid and early.process.poll() is None
        # What the runtime waits for: this plan, for this pid, readable by this user alone.
        assert json.loads(go.read_bytes()) == {"pid": child.pid, "env": early.launch.env, "cwd": str(tmp_path)}
        assert stat.S_IMODE(go.stat().st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir()] == ["go"]  # no partial file left
    finally:
        early.listener.close()


@pytest.mark.parametrize("differs", ["handler", "runtime", "port taken", "exec wrapper", "start-up environment",
                                     "start-up variable gone"])
def test_anything_else_is_killed_while_it_waits_and_told_nothing(
        tmp_path: Path, child: subprocess.Popen[bytes], differs: str) -> None:
    launch = RuntimeLaunch(list(COMMAND), {"TZ": "UTC", "LAMBDA_TASK_ROOT": "/var/task"}, str(tmp_path))
    environ = {"TZ": "UTC"}
    command, override = list(COMMAND), None
    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1] if differs == "port taken" else free_port()
    if differs == "handler":
        command[-1] = "other.handler"
    elif differs == "runtime":
        command[0] = "/opt/runtimes/node/bootstrap"
    elif differs == "exec wrapper":
        override = ["/var/runtime/bootstrap"]
    elif differs == "start-up environment":  # read as the process starts (the C library's clock)
        launch = RuntimeLaunch(launch.command, {**launch.env, "TZ": "Asia/Tokyo"}, launch.cwd)
    elif differs == "start-up variable gone":
        environ["LD_PRELOAD"] = "/opt/lib/libjemalloc.so"
    go = tmp_path / "go"
    try:
        assert take_prestarted(Prestarted(child.pid, port, command, str(go)), launch, override, environ) is None
        assert gone(child.pid)  # killed and reaped
        assert not go.exists()
    finally:
        taken.close()


def test_what_bootstrap_said_is_taken_out_of_the_environment(child: subprocess.Popen[bytes]) -> None:
    environ = {"OPENRUNTIME_PRESTARTED": f"{child.pid} 20456",
               "OPENRUNTIME_PRESTARTED_RUNTIME": "/opt/runtimes/python/bootstrap",
               "OPENRUNTIME_PRESTARTED_HANDLER": "app.handler", "OPENRUNTIME_PRESTARTED_GO": "/tmp/openruntime-prestart-9",
               "_HANDLER": "lambda_function.handler", "KEEP": "x"}
    said = Prestarted.from_environ(environ)
    assert said is not None
    assert (said.pid, said.port, said.command, said.go) == (
        child.pid, 20456, ["/opt/runtimes/python/bootstrap", "app.handler"], "/tmp/openruntime-prestart-9")
    assert environ == {"_HANDLER": "lambda_function.handler", "KEEP": "x"}  # Lambda's own, untouched
    # A pid that is not this process's child (set by anyone but /opt/bootstrap): ignored, not killed.
    stranger = {"OPENRUNTIME_PRESTARTED": f"{os.getppid()} 20456", "OPENRUNTIME_PRESTARTED_RUNTIME": "x",
                "OPENRUNTIME_PRESTARTED_GO": "g"}
    assert Prestarted.from_environ(stranger) is None and not gone(os.getppid())
    assert Prestarted.from_environ({"OPENRUNTIME_PRESTARTED": "garbage", "OPENRUNTIME_PRESTARTED_RUNTIME": "x",
                                    "OPENRUNTIME_PRESTARTED_GO": "g"}) is None
    assert Prestarted.from_environ({}) is None


def test_a_process_that_leads_no_group_is_signalled_alone(child: subprocess.Popen[bytes]) -> None:
    """Its group is the orchestrator's (here: this test's): signalling the group would end us."""
    assert os.getpgid(child.pid) == os.getpgid(0)
    kill_group(adopt_started(["sleep", "30"], child.pid))
    assert child.wait(5) == -9


def test_a_group_whose_leader_is_gone_is_still_signalled() -> None:
    """The leader exited, its child lingers in the group: the group gets the signal."""
    leader = subprocess.Popen(["sh", "-c", "sleep 30 & echo $!"], stdout=subprocess.PIPE, start_new_session=True)
    assert leader.stdout is not None
    lingering = int(leader.stdout.readline())
    leader.wait(5)
    try:
        kill_group(leader)
        deadline = time.monotonic() + 5
        while not (gone(lingering) or _zombie(lingering)):
            if time.monotonic() > deadline:
                pytest.fail("the lingering member was not signalled")
            time.sleep(0.01)
    finally:
        try:
            os.kill(lingering, 9)
        except ProcessLookupError:
            pass


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
