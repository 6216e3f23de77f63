"""The cold path before the runtime is spawned: what it imports, how it spawns.

`openruntime bootstrap` starts the sub-runtime before it imports the orchestrator, so what
runs before that spawn is every cold start's fixed cost (docs/benchmarks.md).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from openruntime.config import MiddlewareConfig, Pipeline, RuntimeConfig
from openruntime.processes import adopt, fork_exec

REPO = Path(__file__).resolve().parents[2]
# Each of these costs milliseconds of a `python -S` start (re and enum most of all).
HEAVY = ("typing", "dataclasses", "pathlib", "json", "re", "enum", "socket", "subprocess", "signal",
         "ctypes", "threading", "collections", "yaml")


def test_the_pre_spawn_path_imports_nothing_heavy(tmp_path: Path) -> None:
    pipeline = tmp_path / "pipeline.json"
    pipeline.write_text(Pipeline(RuntimeConfig(name="python", handler="app.handler", env={"A": "1"})).to_json())
    script = (
        "import os, sys\n"
        "from openruntime.orchestrator.bootstrap import load_bootstrap_pipeline\n"
        "from openruntime.orchestrator.launch import plan_runtime\n"
        "p = load_bootstrap_pipeline(sys.argv[1])\n"
        "plan_runtime(p, {**os.environ, 'OPENRUNTIME_RUNTIME_PATH': sys.argv[2]})\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    runtimes = tmp_path / "runtimes"
    (runtimes / "python").mkdir(parents=True)
    (runtimes / "python" / "bootstrap").write_text("#!/bin/sh\n")
    (runtimes / "python" / "bootstrap").chmod(0o755)
    done = subprocess.run(
        [sys.executable, "-S", "-c", script, str(pipeline), str(runtimes)],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, check=True,
    )
    loaded = set(done.stdout.split())
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_fork_exec_gives_a_process_with_stderr_on_a_pipe(tmp_path: Path) -> None:
    child = fork_exec(["sh", "-c", "pwd; echo said >&2; read x || echo no-stdin; exit 3"], dict(os.environ),
                      str(tmp_path))
    process = adopt(child)
    assert process.pid == child.pid
    assert process.stderr is not None and process.stderr.read() == b"said\n"
    assert process.wait(5) == 3
    assert process.poll() == 3


def test_an_adopted_child_waits_polls_and_dies_like_popen(tmp_path: Path) -> None:
    """One thread blocks in wait() (the runtime's watcher) while another polls and kills."""
    import threading

    from openruntime.processes import stop_group, wait_at_most

    process = adopt(fork_exec(["sleep", "30"], dict(os.environ), str(tmp_path)))
    assert process.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(0.05)
    assert wait_at_most(process, 0.05) is None
    seen: list[int] = []
    watcher = threading.Thread(target=lambda: seen.append(process.wait()))
    watcher.start()
    assert process.poll() is None  # the watcher holds the waitpid lock: no second reaper
    assert stop_group(process, grace_s=1.0) == -15  # SIGTERM was enough
    watcher.join(5)
    assert seen == [-15] and process.returncode == -15 and process.poll() == -15
    process.kill()  # gone: a no-op, as with Popen


@pytest.mark.parametrize("command, cwd, error", [
    (["/nonexistent/program"], None, FileNotFoundError),
    (["no-such-program-on-path"], None, FileNotFoundError),
    (["{tmp}/plain-file"], None, PermissionError),  # not executable
    (["true"], "/nonexistent-dir", FileNotFoundError),
])
def test_fork_exec_reports_what_popen_would(
    command: list[str], cwd: str | None, error: type[OSError], tmp_path: Path
) -> None:
    (tmp_path / "plain-file").write_text("data\n")
    command = [part.format(tmp=tmp_path) for part in command]
    with pytest.raises(error) as ours:
        adopt(fork_exec(command, dict(os.environ), cwd))
    with pytest.raises(error) as popen:
        subprocess.Popen(command, cwd=cwd, env=dict(os.environ))
    assert str(ours.value) == str(popen.value)


def test_config_records_keep_the_frozen_dataclass_semantics() -> None:
    m = MiddlewareConfig("auth", command=("./auth",), env={"A": "1"})
    assert m == MiddlewareConfig(name="auth", command=("./auth",), env={"A": "1"})
    assert m != MiddlewareConfig("other")
    assert MiddlewareConfig("x").env == {} and MiddlewareConfig("x").env is not MiddlewareConfig("y").env
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.name = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        hash(m)  # env is a dict, as with @dataclass(frozen=True)
    changed = m.replace(mode="persistent")
    assert (changed.name, changed.mode, m.mode) == ("auth", "persistent", "exec")
    assert pickle.loads(pickle.dumps(m)) == m
    assert repr(RuntimeConfig(name="python")) == (
        "RuntimeConfig(name='python', command=None, handler=None, task_root=None, env={}, grace_ms=200)")
    pipeline = Pipeline(RuntimeConfig(name="python"), (m,), "/base")
    assert json.loads(pipeline.to_json())["middlewares"][0]["env"] == {"A": "1"}


def test_the_openruntime_command_takes_the_short_way_to_bootstrap() -> None:
    """The console script (`openruntime bootstrap`, as from a wheel) loads no argparse or CLI."""
    script = (
        "import sys\n"
        "sys.argv = ['openruntime', 'bootstrap']\n"
        "from openruntime.command import main\n"
        "status = main()\n"
        "print(status, ' '.join(sorted(m for m in sys.modules if m in ('argparse', 'openruntime.cli.main'))))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"}
    done = subprocess.run([sys.executable, "-S", "-c", script], env={**env, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["1"]  # refused (no Runtime API here), with nothing else loaded
    assert "AWS_LAMBDA_RUNTIME_API is not set" in done.stderr


def test_the_orchestrator_imports_nothing_it_does_not_use() -> None:
    """What loads while the runtime boots (on Lambda's fractional vCPU, in series with it):
    no enum, re, typing, json, subprocess or socket.py. A pipeline without exec middlewares
    never needs them; sockets go through _socket, signals through _signal."""
    script = (
        "import sys\n"
        "import openruntime.orchestrator.bootstrap, openruntime.orchestrator.loop, openruntime.runtime_api.client\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-S", "-c", script], env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, check=True)
    unused = ("typing", "enum", "re", "json", "subprocess", "socket", "signal", "selectors", "locale",
              "contextlib", "dataclasses", "pathlib", "ctypes", "yaml")
    loaded = set(done.stdout.split())
    assert not loaded & set(unused), sorted(loaded & set(unused))


def test_connecting_upstream_loads_no_codec() -> None:
    """The upstream connect happens while the runtime boots: a str host would load the idna
    codec (encodings.idna → re, enum, stringprep, unicodedata: ~7 ms of CPU); an ASCII
    address needs none."""
    script = (
        "import sys, _socket\n"
        "from openruntime.runtime_api.netio import connect, listen_loopback\n"
        "server = listen_loopback(0)\n"
        "connect('127.0.0.1', server.getsockname()[1]).close()\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-S", "-c", script], env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert not loaded & {"encodings.idna", "re", "enum", "unicodedata"}, sorted(loaded)
