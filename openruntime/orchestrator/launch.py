"""The sub-runtime's launch plan, and starting it before the orchestrator is imported.

This is the cold path of every sandbox: `openruntime bootstrap` reads the pipeline, binds
the Runtime API proxy's socket and starts the runtime first, then imports the rest of
the orchestrator (HTTP client, middlewares, chain) while the runtime boots on another
core. So this module imports only what that needs, and in its cheapest form: no
http.client, no threads, not even socket or subprocess (see EarlyStart).
"""

from __future__ import annotations

import os

from openruntime import errors
from openruntime.config import Frozen
from openruntime.errors import InitFailure
from openruntime.locate import find_runtime, runtime_dirs
from openruntime.processes import EarlyChild, PIPE, adopt, fork_exec, spawn

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from openruntime.processes import Process
    from _socket import socket as _RawSocket
    from collections.abc import Mapping, Sequence

    from openruntime.config import Pipeline


class RuntimeLaunch(Frozen):
    """The sub-runtime's command line, environment and working directory (frozen)."""

    __slots__ = _fields = __match_args__ = ("command", "env", "cwd")
    command: list[str]
    env: dict[str, str]
    cwd: str

    def __init__(self, command: list[str], env: dict[str, str], cwd: str) -> None:
        object.__setattr__(self, "command", command)
        object.__setattr__(self, "env", env)
        object.__setattr__(self, "cwd", cwd)


def plan_runtime(
    pipeline: Pipeline, environ: Mapping[str, str], override: Sequence[str] | None = None
) -> RuntimeLaunch:
    """The sub-runtime's command line, environment and working directory."""
    rt = pipeline.runtime
    # OPENRUNTIME_HANDLER: `invoke/serve --handler`, which overrides the pipeline's.
    handler = environ.get("OPENRUNTIME_HANDLER") or rt.handler or environ.get("_HANDLER", "")
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
            raise InitFailure(errors.RUNTIME_INVALID_ENTRYPOINT, f"{pipeline.where('runtime.name')}: {exc}") from None
        command = [str(bootstrap)] + ([handler] if handler else [])
    if not os.path.isdir(task_root):
        where = f"{pipeline.where('runtime.task_root')}: " if rt.task_root else ""
        raise InitFailure(errors.RUNTIME_INVALID_WORKING_DIR, f"{where}task root {task_root!r} is not a directory")
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


class EarlyStart:
    """The proxy's listening socket and the runtime process, started before the heavy imports.

    `start_early` keeps them in their cheapest form (a `_socket.socket`, a forked child)
    and the child becomes a process object when first asked for (the proxy serves on the
    raw socket as it is: netio.py). `error` is the
    `OSError` of a runtime that could not be started (its exec failed), else None.
    """

    def __init__(
        self,
        listener: _RawSocket,
        launch: RuntimeLaunch,
        process: Process | None = None,
        error: OSError | None = None,
        child: EarlyChild | None = None,
    ) -> None:
        self._listener = listener
        self.launch = launch
        self._process = process
        self._error = error
        self._child = child

    @property
    def listener(self) -> _RawSocket:
        return self._listener

    @property
    def process(self) -> Process | None:
        self._adopt()
        return self._process

    @property
    def error(self) -> OSError | None:
        self._adopt()
        return self._error

    def _adopt(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            try:
                self._process = adopt(child)
            except OSError as exc:
                self._error = exc


def start_early(
    pipeline: Pipeline, environ: Mapping[str, str], override: Sequence[str] | None = None
) -> EarlyStart:
    """Bind the proxy's port and start the runtime on it; it connects when it is ready,
    and the kernel holds that connection in the backlog until the proxy accepts it."""
    launch = plan_runtime(pipeline, environ, override)
    from openruntime.runtime_api.netio import listen_loopback  # _socket only: socket.py costs ~8 ms

    listener = listen_loopback()
    env = dict(launch.env)
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{listener.getsockname()[1]}"
    launch = RuntimeLaunch(launch.command, env, launch.cwd)
    try:
        if _single_threaded():
            return EarlyStart(listener, launch, child=fork_exec(launch.command, env, launch.cwd))
        process = spawn(launch.command, env, cwd=launch.cwd, stderr=PIPE, die_with_parent=True)
    except OSError as exc:
        return EarlyStart(listener, launch, None, exc)
    return EarlyStart(listener, launch, process)


def _single_threaded() -> bool:
    """fork() without exec is only safe while this process has one thread, as at a cold
    start (nothing has imported threading yet, or nothing started a thread)."""
    import sys

    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1
