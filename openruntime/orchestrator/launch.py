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
from openruntime.processes import EarlyChild, PIPE, adopt, adopt_started, fork_exec, spawn

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from openruntime.processes import Process
    from _socket import socket as _RawSocket
    from collections.abc import Mapping, MutableMapping, Sequence

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
        by_script: bool = False,
    ) -> None:
        self._listener = listener
        self.launch = launch
        self._process = process
        self._error = error
        self._child = child
        # Started by /opt/bootstrap before this interpreter (see take_prestarted): if it
        # dies before it asks for anything, it is started again, the usual way.
        self.by_script = by_script

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
    pipeline: Pipeline, environ: Mapping[str, str], override: Sequence[str] | None = None,
    prestarted: Prestarted | None = None,
) -> EarlyStart:
    """Bind the proxy's port and start the runtime on it; it connects when it is ready,
    and the kernel holds that connection in the backlog until the proxy accepts it. With
    `prestarted`, the runtime the layer's /opt/bootstrap already started is taken over
    when it is what the pipeline plans, on the port it was told."""
    try:
        launch = plan_runtime(pipeline, environ, override)
    except InitFailure:
        if prestarted is not None:
            prestarted.kill()
        raise
    from openruntime.runtime_api.netio import listen_loopback  # _socket only: socket.py costs ~8 ms

    if prestarted is not None:
        early = take_prestarted(prestarted, launch, pipeline, override)
        if early is not None:
            return early
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


class Prestarted:
    """The runtime /opt/bootstrap started before exec'ing into Python (the layer's
    `prestart` file: docs/layers.md), from OPENRUNTIME_PRESTARTED="PID PORT": its
    command is what the script ran (`[RUNTIME, _HANDLER]`), its working directory
    LAMBDA_TASK_ROOT, its environment the script's own minus what it exported after."""

    __slots__ = ("pid", "port", "command", "cwd")

    def __init__(self, pid: int, port: int, command: list[str], cwd: str) -> None:
        self.pid, self.port, self.command, self.cwd = pid, port, command, cwd

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str]) -> Prestarted | None:
        """Taken out of `environ` (nothing after this sees it); None when there is none."""
        said = environ.pop("OPENRUNTIME_PRESTARTED", None)
        runtime = environ.pop("OPENRUNTIME_PRESTARTED_RUNTIME", None)
        if not said or not runtime:
            return None
        try:
            pid_text, port_text = said.split()
            pid, port = int(pid_text), int(port_text)
        except ValueError:
            return None
        handler = environ.get("_HANDLER", "")
        return cls(pid, port, [runtime] + ([handler] if handler else []), environ.get("LAMBDA_TASK_ROOT", ""))

    def kill(self) -> None:
        """Not the runtime the pipeline plans, or no port for it: it goes, before it asks
        anything (it boots for tens of ms before its first request)."""
        try:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def take_prestarted(
    prestarted: Prestarted, launch: RuntimeLaunch, pipeline: Pipeline, override: Sequence[str] | None
) -> EarlyStart | None:
    """The runtime /opt/bootstrap started, with the proxy listening on the port it was
    given, if it is exactly the planned one: same command, working directory and
    environment (the plan adds nothing to the script's environment but LAMBDA_TASK_ROOT
    and _HANDLER, which the script exported, when the pipeline's runtime has no `env`).
    Else None, after killing it: the caller starts the runtime the usual way."""
    planned = (not override and not pipeline.runtime.env and launch.command == prestarted.command
               and launch.cwd == prestarted.cwd)
    if planned:
        from openruntime.runtime_api.netio import listen_loopback

        try:
            listener = listen_loopback(prestarted.port)
        except OSError:
            planned = False  # the port is taken: the runtime would talk to someone else
    if not planned:
        prestarted.kill()
        return None
    env = dict(launch.env)
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{prestarted.port}"
    process = adopt_started(launch.command, prestarted.pid)
    return EarlyStart(listener, RuntimeLaunch(launch.command, env, launch.cwd), process, by_script=True)


def _single_threaded() -> bool:
    """fork() without exec is only safe while this process has one thread, as at a cold
    start (nothing has imported threading yet, or nothing started a thread)."""
    import sys

    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1
