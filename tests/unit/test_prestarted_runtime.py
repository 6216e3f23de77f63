"""Taking over the runtime /opt/bootstrap started (orchestrator/launch.py, Prestarted): with
real processes and sockets; the end-to-end runs are in tests/layers/test_layer_prestart.py."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from openruntime.config import load_pipeline
from openruntime.orchestrator.launch import Prestarted, RuntimeLaunch, take_prestarted
from openruntime.processes import adopt_started, kill_group


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A process in this test's own process group, as a runtime /opt/bootstrap started is
    in the orchestrator's."""
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


def plan(tmp_path: Path) -> tuple[RuntimeLaunch, object]:
    (tmp_path / "pipeline.yml").write_text("runtime: {name: python, handler: app.handler}\n")
    pipeline = load_pipeline(str(tmp_path / "pipeline.yml"))
    return RuntimeLaunch(["/opt/runtimes/python/bootstrap", "app.handler"], {"A": "1"}, str(tmp_path)), pipeline


def test_the_planned_runtime_is_taken_over_on_its_port(tmp_path: Path, child: subprocess.Popen[bytes]) -> None:
    launch, pipeline = plan(tmp_path)
    port = free_port()
    early = take_prestarted(Prestarted(child.pid, port, list(launch.command), launch.cwd), launch, pipeline, None)
    assert early is not None and early.by_script
    try:
        assert early.listener.getsockname() == ("127.0.0.1", port)
        assert early.launch.env == {"A": "1", "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}"}
        assert early.process is not None and early.process.pid == child.pid and early.process.poll() is None
    finally:
        early.listener.close()


@pytest.mark.parametrize("differs", ["command", "cwd", "port taken", "wrapper"])
def test_anything_else_is_killed_before_it_can_ask(tmp_path: Path, child: subprocess.Popen[bytes],
                                                   differs: str) -> None:
    launch, pipeline = plan(tmp_path)
    command, cwd, override = list(launch.command), launch.cwd, None
    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1] if differs == "port taken" else free_port()
    if differs == "command":
        command[-1] = "other.handler"
    elif differs == "cwd":
        cwd = "/"
    elif differs == "wrapper":
        override = ["/var/runtime/bootstrap"]
    try:
        assert take_prestarted(Prestarted(child.pid, port, command, cwd), launch, pipeline, override) is None
        assert gone(child.pid)  # killed and reaped
    finally:
        taken.close()


def test_what_bootstrap_said_is_taken_out_of_the_environment() -> None:
    environ = {"OPENRUNTIME_PRESTARTED": "123 20456", "OPENRUNTIME_PRESTARTED_RUNTIME": "/opt/runtimes/node/bootstrap",
               "_HANDLER": "index.handler", "LAMBDA_TASK_ROOT": "/var/task", "KEEP": "x"}
    said = Prestarted.from_environ(environ)
    assert said is not None
    assert (said.pid, said.port, said.command, said.cwd) == (
        123, 20456, ["/opt/runtimes/node/bootstrap", "index.handler"], "/var/task")
    assert environ == {"_HANDLER": "index.handler", "LAMBDA_TASK_ROOT": "/var/task", "KEEP": "x"}
    assert Prestarted.from_environ({"OPENRUNTIME_PRESTARTED": "garbage", "OPENRUNTIME_PRESTARTED_RUNTIME": "x"}) is None
    assert Prestarted.from_environ({}) is None


def test_a_process_that_leads_no_group_is_signalled_alone(child: subprocess.Popen[bytes]) -> None:
    """Its group is the orchestrator's (here: this test's): signalling the group would end us."""
    assert os.getpgid(child.pid) == os.getpgid(0)
    kill_group(adopt_started(["sleep", "30"], child.pid))
    assert child.wait(5) == -9
