"""Shared test helpers: paths, and a pipeline run on the real emulator + orchestrator."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import textwrap
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from openruntime.emulator.sandbox import Emulator, FunctionSettings

REPO = Path(__file__).resolve().parent.parent
# Real AWS event samples, copied with their sources and licences (SOURCES.md beside them),
# so the suite runs from a plain clone.
AWS_EVENTS = REPO / "tests" / "fixtures" / "aws-events"
ORCHESTRATOR = [sys.executable, "-m", "openruntime", "bootstrap"]
# The AWS SAM CLI for the deploy tests: named by OPENRUNTIME_SAM (.ci/run installs it in a
# venv of its own), on PATH, or beside this Python.
SAM = (os.environ.get("OPENRUNTIME_SAM") or shutil.which("sam")
       or shutil.which("sam", path=sysconfig.get_path("scripts")))


def write_executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    path.chmod(0o755)
    return path


def write_pipeline(folder: Path, text: str, name: str = "pipeline.yml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@contextmanager
def orchestrated(
    pipeline: Path, timeout_s: float = 20.0, env: dict[str, str] | None = None, handler: str | None = None,
    stderr_file: Path | None = None,
) -> Iterator[Emulator]:
    """The real orchestrator as the bootstrap of the real emulator, over real sockets;
    with `stderr_file`, the orchestrator's STDERR (the function's log) goes there."""
    full_env = {"OPENRUNTIME_PIPELINE": str(pipeline), **(env or {})}
    with ExitStack() as stack:
        sink = stack.enter_context(open(stderr_file, "wb")) if stderr_file is not None else None
        yield stack.enter_context(Emulator(
            command=ORCHESTRATOR,
            cwd=pipeline.parent,
            env=full_env,
            function=FunctionSettings(timeout_s=timeout_s, handler=handler),
            log=lambda line: None,
            child_stderr=sink,
        ))


def alive(pid: int) -> bool:
    """Running (a zombie counts as gone: it only waits for its parent to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone, or reaped between open and read
        return False


def wait_gone(pids: list[int], within_s: float = 3.0) -> list[int]:
    """The pids still alive after waiting up to `within_s` for them to go."""
    end = time.monotonic() + within_s
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < end:
        time.sleep(0.02)
    return left


@pytest.fixture
def hello_app(tmp_path: Path) -> Path:
    """A task root with handlers that show what they were given."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(textwrap.dedent('''
        import os, time

        def handler(event, context):
            return {"event": event, "requestId": context.aws_request_id,
                    "remainingMs": context.get_remaining_time_in_millis(),
                    "functionArn": context.invoked_function_arn,
                    "traceEnv": os.environ.get("_X_AMZN_TRACE_ID")}

        def boom(event, context):
            raise ValueError("the handler failed on purpose")

        def sleepy(event, context):
            time.sleep(float(event.get("sleep", 5)))
            return {"slept": True}
    '''))
    return app


@contextmanager
def serving_cli(folder: Path, *options: str, env: dict[str, str] | None = None, drop_pipeline: bool = False
                ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`openruntime serve --pipeline pipeline.yml OPTIONS…` in `folder` on a free loopback
    port, ready; yields its endpoint (`http://127.0.0.1:PORT`) and process; its STDERR goes
    to `folder/serve.log`. Stopped with SIGTERM at the end."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pipeline = [] if drop_pipeline else ["--pipeline", "pipeline.yml"]
    serve = subprocess.Popen([sys.executable, "-m", "openruntime", "serve", "--port", str(port), *pipeline, *options],
                             cwd=folder, stdout=subprocess.DEVNULL, stderr=open(folder / "serve.log", "wb"),
                             env={**os.environ, "OPENRUNTIME_PYTHON": sys.executable, **(env or {})})
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and serve.poll() is None, "serve did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", serve
    finally:
        serve.terminate()
        serve.wait(30)


@pytest.fixture(autouse=True)
def dev_null_stays_a_device() -> Iterator[None]:
    """Every child here writes to /dev/null; a test that replaced it (a rename or an unlink
    of a path that ended up there) would break every later test, far from its cause."""
    yield
    import stat

    assert stat.S_ISCHR(os.stat(os.devnull).st_mode), "this test left /dev/null a regular file"


# Pieces of the Python test extensions (str.format templates: braces doubled; `api` is the
# Runtime API's address): register for INVOKE and SHUTDOWN under the file's name, and serve
# events until SHUTDOWN.
EXTENSION_REGISTER = """\
request = urllib.request.Request(f"http://{{api}}/2020-01-01/extension/register",
    data=json.dumps({{"events": ["INVOKE", "SHUTDOWN"]}}).encode(), method="POST",
    headers={{"Lambda-Extension-Name": os.path.basename(sys.argv[0])}})
with urllib.request.urlopen(request) as answer:
    identifier = answer.headers["Lambda-Extension-Identifier"]
"""
EXTENSION_UNTIL_SHUTDOWN = """\
while True:
    request = urllib.request.Request(f"http://{{api}}/2020-01-01/extension/event/next",
                                     headers={{"Lambda-Extension-Identifier": identifier}})
    with urllib.request.urlopen(request) as answer:
        if json.loads(answer.read())["eventType"] == "SHUTDOWN":
            sys.exit(0)
"""
