"""The sub-runtime's launch plan, and starting it before the orchestrator is imported.

This is the cold path of every sandbox: `openruntime bootstrap` reads the pipeline, binds
the Runtime API proxy's socket and starts the runtime first, then imports the rest of
the orchestrator (HTTP client, middlewares, chain) while the runtime boots on another
core. So this module imports only what that needs: no http.client, no threads.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from openruntime import lambda_errors as errors
from openruntime.config import Pipeline
from openruntime.locate import find_runtime, runtime_dirs
from openruntime.processes import spawn


class InitFailure(Exception):
    def __init__(self, error_type: str, message: str, body: bytes | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.body = body if body is not None else errors.error_body(error_type, message)


@dataclass(frozen=True)
class RuntimeLaunch:
    command: list[str]
    env: dict[str, str]
    cwd: str


def plan_runtime(
    pipeline: Pipeline, environ: Mapping[str, str], override: Sequence[str] | None = None
) -> RuntimeLaunch:
    """The sub-runtime's command line, environment and working directory."""
    rt = pipeline.runtime
    handler = rt.handler or environ.get("_HANDLER", "")
    task_root = (
        pipeline.resolve_path(rt.task_root) if rt.task_root else environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    )
    if override:
        command = list(override)  # exec wrapper: the managed runtime's own command line
    elif rt.command:
        # Official clients take the handler as their argument (awslambdaric, aws-lambda-ric).
        command = pipeline.resolve_command(rt.command) + ([handler] if handler else [])
    else:
        assert rt.name is not None
        try:
            bootstrap = find_runtime(rt.name, runtime_dirs(environ))
        except LookupError as exc:
            raise InitFailure("Runtime.InvalidEntrypoint", str(exc)) from None
        command = [str(bootstrap)] + ([handler] if handler else [])
    if not os.path.isdir(task_root):
        raise InitFailure("Runtime.InvalidWorkingDir", f"task root {task_root!r} is not a directory")
    env = dict(environ)
    _drop_layer_python_path(env)
    env.update(rt.env)
    env["LAMBDA_TASK_ROOT"] = task_root
    if handler:
        env["_HANDLER"] = handler
    return RuntimeLaunch(command, env, task_root)


def _drop_layer_python_path(env: dict[str, str]) -> None:
    """The runtime must not import our vendored packages (they would shadow the user's)."""
    ours = env.pop("OPENRUNTIME_LAYER_PYTHONPATH", None)
    if not ours or "PYTHONPATH" not in env:
        return
    kept = [entry for entry in env["PYTHONPATH"].split(":") if entry and entry != ours]
    if kept:
        env["PYTHONPATH"] = ":".join(kept)
    else:
        del env["PYTHONPATH"]


@dataclass
class EarlyStart:
    """The proxy's listening socket and the runtime process, started before the heavy imports."""

    listener: socket.socket
    launch: RuntimeLaunch
    process: subprocess.Popen[bytes] | None
    error: OSError | None = None


def start_early(
    pipeline: Pipeline, environ: Mapping[str, str], override: Sequence[str] | None = None
) -> EarlyStart:
    """Bind the proxy's port and start the runtime on it; it connects when it is ready,
    and the kernel holds that connection in the backlog until the proxy accepts it."""
    launch = plan_runtime(pipeline, environ, override)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    env = dict(launch.env)
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{listener.getsockname()[1]}"
    launch = RuntimeLaunch(launch.command, env, launch.cwd)
    try:
        process = spawn(launch.command, env, cwd=launch.cwd, stderr=subprocess.PIPE, die_with_parent=True)
    except OSError as exc:
        return EarlyStart(listener, launch, None, exc)
    return EarlyStart(listener, launch, process)
