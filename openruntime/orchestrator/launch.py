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
from openruntime.processes import SIGKILL, EarlyChild, PIPE, adopt, adopt_started, fork_exec, parent_of, spawn

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
    env.pop("OPENRUNTIME_PRESTART_GO", None)  # the python runtime's, from /opt/bootstrap only
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
        by_script: Prestarted | None = None,
    ) -> None:
        self._listener = listener
        self.launch = launch
        self._process = process
        self._error = error
        self._child = child
        # Started by /opt/bootstrap before this interpreter (see take_prestarted): if it
        # dies before it asks for anything, it is started again, the usual way.
        self.by_script: Prestarted | None = by_script

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
        early = take_prestarted(prestarted, launch, override, environ)
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
    `prestart` file: docs/layers.md, "The runtime first"), as the script tells it:
    OPENRUNTIME_PRESTARTED="PID PORT", the command it ran (OPENRUNTIME_PRESTARTED_RUNTIME,
    OPENRUNTIME_PRESTARTED_HANDLER) and the file the runtime waits for (…_GO). The runtime
    runs nothing of the function and asks nothing of the Runtime API until that file holds
    the orchestrator's plan for it (runtimes/python/openruntime_python_runtime/prestart.py)."""

    __slots__ = ("pid", "port", "command", "go")
    ENVIRON = ("OPENRUNTIME_PRESTARTED", "OPENRUNTIME_PRESTARTED_RUNTIME", "OPENRUNTIME_PRESTARTED_HANDLER",
               "OPENRUNTIME_PRESTARTED_GO")

    def __init__(self, pid: int, port: int, command: list[str], go: str) -> None:
        self.pid, self.port, self.command, self.go = pid, port, command, go

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str]) -> Prestarted | None:
        """Taken out of `environ` (nothing after this sees it); None when there is none, or
        when the pid it names is not a child of this process (only /opt/bootstrap, which
        became this process, can have started it: whatever else set these is ignored)."""
        said, runtime, handler, go = (environ.pop(name, None) for name in cls.ENVIRON)
        if not said or not runtime or not go:
            return None
        try:
            pid_text, port_text = said.split()
            pid, port = int(pid_text), int(port_text)
        except ValueError:
            return None
        if parent_of(pid) != os.getpid():
            return None
        return cls(pid, port, [runtime] + ([handler] if handler else []), go)

    def kill(self) -> None:
        """Not the runtime the pipeline plans, or no port for it: it goes, while it waits
        for the plan (before any of the function's code)."""
        try:
            os.kill(self.pid, SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass

    def send_plan(self, launch: RuntimeLaunch) -> None:
        """The plan the runtime waits for, written whole (renamed into place) and private,
        through a file of a new, unguessable name (never into one that was there). JSON by
        the C encoder alone: the json package imports re and enum (~13 ms under -S), paid
        in full by a sandbox with one CPU or less."""
        from _json import encode_basestring_ascii as quoted

        env = ",".join(f"{quoted(name)}:{quoted(value)}" for name, value in launch.env.items())
        data = f'{{"pid":{int(self.pid)},"env":{{{env}}},"cwd":{quoted(launch.cwd)}}}'.encode()
        partial = f"{self.go}.{os.urandom(8).hex()}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            os.rename(partial, self.go)
        except OSError:
            _unlink(partial)
            raise

    def refused_plan(self) -> bool:
        """The runtime read the plan and could not take it (runtimes/python prestart.py
        leaves `GO.refused`): it exited before any of the function ran."""
        refused = os.path.exists(f"{self.go}.refused")
        _unlink(f"{self.go}.refused")
        _unlink(self.go)  # a plan it never read
        return refused


# What the runtime reads only after it has the plan (its runtime code, not its interpreter,
# its shell script or the C library as they start): the plan may set these otherwise than
# they were at the runtime's start. Any other difference and the runtime cannot become
# the planned one (LD_LIBRARY_PATH, TZ, PYTHON*… act as a process starts).
SET_AFTER_START = frozenset({"AWS_LAMBDA_RUNTIME_API", "_HANDLER", "LAMBDA_TASK_ROOT"})


def started_with(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment /opt/bootstrap started the runtime with, from this process's (the
    script's, which it exported further before it exec'd Python): less the layer's Python
    path and the PYTHONPATH it made (the script starts nothing when PYTHONPATH was set)."""
    env = dict(environ)
    for name in ("OPENRUNTIME_LAYER_PYTHONPATH", "PYTHONPATH", *Prestarted.ENVIRON):
        env.pop(name, None)
    return env


def not_settable(started: Mapping[str, str], planned: Mapping[str, str]) -> list[str]:
    """The variables the plan sets otherwise than the runtime was started with, that it
    cannot take any more (all but SET_AFTER_START)."""
    return sorted(name for name in started.keys() | planned.keys()
                  if name not in SET_AFTER_START and started.get(name) != planned.get(name))


def take_prestarted(
    prestarted: Prestarted, launch: RuntimeLaunch, override: Sequence[str] | None, environ: Mapping[str, str]
) -> EarlyStart | None:
    """The runtime /opt/bootstrap started, once the proxy listens on the port it was given
    and it is told the plan, if it runs the planned command and was started with the
    planned environment (but what it reads after the plan); else None, after killing it,
    and the caller starts the runtime the usual way. Its folder need not match: the
    runtime takes the plan's before anything of the function runs."""
    if override or launch.command != prestarted.command or not_settable(started_with(environ), launch.env):
        prestarted.kill()
        return None
    from openruntime.runtime_api.netio import listen_loopback

    try:
        listener = listen_loopback(prestarted.port)
    except OSError:  # the port is taken: whoever has it is not our proxy
        prestarted.kill()
        return None
    env = dict(launch.env)
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{prestarted.port}"
    launch = RuntimeLaunch(launch.command, env, launch.cwd)
    try:
        prestarted.send_plan(launch)
    except OSError:  # a GO file of someone else's in its place, a full disk: no plan
        listener.close()
        prestarted.kill()
        return None
    process = adopt_started(launch.command, prestarted.pid)
    return EarlyStart(listener, launch, process, by_script=prestarted)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _single_threaded() -> bool:
    """fork() without exec is only safe while this process has one thread, as at a cold
    start (nothing has imported threading yet, or nothing started a thread)."""
    import sys

    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1
