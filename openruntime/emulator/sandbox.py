"""One local Lambda execution environment: the bootstrap's process, its Runtime API,
invocations one at a time, and the START/END/REPORT lines Lambda writes.

Faithful to Lambda and to AWS's Runtime Interface Emulator (RIE), see docs/emulator.md:
the bootstrap (ours or anybody's) is started lazily on the first invoke in its own
process group, with the environment Lambda gives; the function timeout is enforced by
killing the bootstrap and answering with Lambda's timeout error; a bootstrap that dies is
started again on the next invoke. With `max_concurrency` above 1 (the CLI takes it from
`AWS_LAMBDA_MAX_CONCURRENCY`, as AWS's RIE selects that mode) it is a Lambda Managed
Instances environment: up to that many invocations at once in the one sandbox, the
bootstrap told so (`AWS_LAMBDA_MAX_CONCURRENCY`, `AWS_LAMBDA_INITIALIZATION_TYPE=
lambda-managed-instances`, JSON logs, as Lambda allows only those there), no freeze
between invocations (END and REPORT as each is answered), a timeout failing that
invocation only; callers beyond that many wait for a free slot (a queue, not Lambda's 429:
locally every call is answered). What the bootstrap polls is the Runtime API server core
(runtime_api/server.py), the same one the orchestrator's proxy is; Lambda's Invoke API
over HTTP is emulator/invoke_api.py.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

from openruntime import errors
from openruntime.emulator.extensions import ExtensionsAPI
from openruntime.emulator.output import LogTail, OutputTee, target_fd
from openruntime.emulator.telemetry import PATH as TELEMETRY_PATH
from openruntime.emulator.telemetry import TelemetryAPI
from openruntime.errors import RuntimeGone
from openruntime.invocation import EMPTY_PAYLOAD, JSON, Outcome
from openruntime.processes import kill_tree, spawn
from openruntime.response_stream import ResponseStream
from openruntime.runtime_api.http import LoopbackHTTPServer, Request, Response
from openruntime.runtime_api.server import Pending, RuntimeAPIServer

ACCOUNT_ID = "012345678912"
INIT_BUDGET_S = 10.0  # Lambda gives init 10 s of its own, outside the function timeout
# Lambda's streaming bandwidth: the first 6 MB uncapped, the rest at about 2 MB/s.
LAMBDA_STREAM_BANDWIDTH = (6 * 1024 * 1024, 2 * 1024 * 1024)


@dataclass(frozen=True)
class FunctionSettings:
    """What Lambda knows about the function (and puts in the bootstrap's environment)."""

    name: str = "test_function"
    version: str = "$LATEST"
    memory_mb: int = 3008
    timeout_s: float = 300.0
    region: str = "us-east-1"
    handler: str | None = None
    aliases: tuple[str, ...] = ()  # qualifiers served besides $LATEST (a template's AutoPublishAlias)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.name}"


class StreamedBody:
    """A streamed response as a caller of InvokeWithResponseStream gets it: iterate for
    the chunks as the function writes them; then `error_type`/`error_body` say how it
    ended (None: cleanly). A stream still running at the function's deadline ends there
    with Sandbox.Timedout, and the environment is reset, as Lambda does."""

    def __init__(self, stream: ResponseStream, until: float, request_id: str, timeout_s: float,
                 on_timeout: Callable[[], None], bandwidth: tuple[int, float] | None = None) -> None:
        self.content_type = stream.content_type
        self.error_type: str | None = None
        self.error_body: bytes | None = None
        self._stream, self._until, self._request_id = stream, until, request_id
        self._timeout_s, self._on_timeout = timeout_s, on_timeout
        self._bandwidth = bandwidth
        # LogType=Tail: the log, once the stream is over (its REPORT comes at the next /next).
        self.log_result: Callable[[], str] | None = None

    def __iter__(self) -> Iterator[bytes]:
        from openruntime.response_stream import StreamTimeout

        try:
            chunks = self._stream.chunks(self._until)
            yield from chunks if self._bandwidth is None else _throttled(chunks, *self._bandwidth)
        except StreamTimeout:
            self._stream.abandon()
            self.error_type = errors.SANDBOX_TIMEDOUT
            self.error_body = errors.error_body(errors.SANDBOX_TIMEDOUT,
                                                errors.timeout_message(self._request_id, self._timeout_s))
            self._on_timeout()
            return
        finally:
            self._stream.abandon()  # a caller that went away: the runtime's writes stop here
        self.error_type, self.error_body = self._stream.error_type, self._stream.error_body


@dataclass
class InvokeResult:
    """What a caller of Lambda's Invoke API gets back (`stream`: when it asked for a
    streamed response and the function streamed one; `body` is empty then)."""

    status: int
    body: bytes
    headers: dict[str, str]
    request_id: str
    stream: StreamedBody | None = None

    @property
    def function_error(self) -> str | None:
        return self.headers.get("x-amz-function-error")

    def json(self) -> Any:
        return json.loads(self.body)


class _Runtime:
    """One bootstrap process: its Runtime API generation, and what its REPORT lines need."""

    __slots__ = ("process", "generation", "started_at", "init_duration_ms", "exit_status", "restored_at",
                 "restore_duration_ms")

    def __init__(self, generation: int, started_at: float) -> None:
        self.process: subprocess.Popen[bytes] | None = None  # None while it is being spawned
        self.generation = generation
        self.started_at = started_at
        self.init_duration_ms: float | None = None  # from its start to its first /next, reported once
        self.restored_at: float | None = None  # SnapStart: when its restore/next was answered
        self.restore_duration_ms: float | None = None  # from restore/next to its first /next, reported once
        self.exit_status: int | None = None


class _Phase:
    """An invocation answered but not yet over: its bootstrap (or an extension registered
    for INVOKE) has not called /next again."""

    __slots__ = ("request_id", "runtime", "began", "deadline", "runtime_done", "tenant_id")

    def __init__(self, request_id: str, runtime: _Runtime, began: float, deadline: float,
                 tenant_id: str | None = None) -> None:
        self.request_id, self.runtime, self.began, self.deadline = request_id, runtime, began, deadline
        self.tenant_id = tenant_id  # the invocation's, for platform.report
        self.runtime_done = False  # its bootstrap has called /next again


LogFn = Callable[[str], None]


def colour_wanted(stream: IO[Any]) -> bool:
    """Colour on a terminal, unless NO_COLOR says otherwise (https://no-color.org)."""
    return not os.environ.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty()


_LINE_COLOURS = (("REPORT ", "\033[36m"), ("START ", "\033[2m"), ("END ", "\033[2m"),
                 ("SNAPSTART ", "\033[35m"), ("EXTENSION ", "\033[35m"))


def stderr_log(line: str) -> None:
    """The emulator's own lines (START, END, REPORT…), to STDERR: coloured on a terminal."""
    if colour_wanted(sys.stderr):
        for prefix, colour in _LINE_COLOURS:
            if line.startswith(prefix) or line.split("] ", 1)[-1].startswith(prefix):
                line = f"{colour}{line}\033[0m"
                break
        if "Status: timeout" in line:
            line = f"\033[31m{line}\033[0m"
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


@dataclass
class Emulator:
    """A single Lambda execution environment on loopback.

    Use as a context manager; `invoke()` is the in-process Invoke API and
    `serve_invoke_api()` exposes it over HTTP like the RIE's port 8080.
    """

    command: Sequence[str]
    cwd: str | os.PathLike[str] | None = None
    env: Mapping[str, str] | None = None
    timeout_s: float = 300.0
    function: FunctionSettings | None = None
    runtime_api_port: int = 0
    inherit_env: bool = True
    child_stdout: int | IO[Any] | None = None
    child_stderr: int | IO[Any] | None = None
    log: LogFn = stderr_log
    # (bytes uncapped, bytes/s after): Lambda's throttle on streamed responses; None: none.
    stream_bandwidth: tuple[int, float] | None = None
    max_concurrency: int = 1  # above 1: Managed Instances mode (module docstring)
    # When every slot is busy: "queue" (wait for one), "throttle" (Lambda's 429
    # TooManyRequestsException), "strict-rie" (AWS RIE's 400 Runtime.Unavailable as soon as
    # no worker waits on /next, in Managed Instances mode).
    when_busy: str = "queue"
    # Lambda's /opt/extensions: external extensions started before the bootstrap (default:
    # `$OPENRUNTIME_OPT/extensions` of a --layer stack, when there is one).
    extensions_dir: str | None = None
    # SnapStart: the bootstrap is told `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`; its
    # restore/next is the snapshot and the restore (at once, here), and REPORT gives
    # Restore Duration (restore to the first /next) where a cold start gives Init Duration.
    snapstart: bool = False
    # Read the bootstrap's output line by line (it still goes where it went), so that an
    # invoke with `log_tail` gets its log (Lambda's LogType Tail); on with extensions too.
    capture_output: bool = False
    # Init's own time (Lambda's 10 s); a debugger attached before the handler loads needs more.
    init_budget_s: float = INIT_BUDGET_S
    _invoke_server: LoopbackHTTPServer | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.function is None:
            self.function = FunctionSettings(timeout_s=self.timeout_s)
        self._api = RuntimeAPIServer(port=self.runtime_api_port, name="runtime-api", on_poll=self._on_poll,
                                     on_deliver=self._on_deliver, on_restore=self._on_restore,
                                     more_routes=self._more_routes)
        self._cond = self._api.cond  # one lock for the Runtime API's state and this sandbox's
        self._telemetry = TelemetryAPI()
        self._extensions = ExtensionsAPI(
            self._cond, self.function, self.log, on_next=self._maybe_end_phase,
            on_register=lambda name, events: self._telemetry.emit(
                "platform", "platform.extension", {"name": name, "state": "Ready", "events": list(events)}),
            on_init_error=self._extension_init_error)
        self._invoke_lock = threading.BoundedSemaphore(self.max_concurrency)  # the free slots
        self._start_lock = threading.Lock()  # concurrent invokes start one bootstrap
        self._runtime: _Runtime | None = None
        # The invocation whose answer is in but whose phase is not over: Lambda ends an
        # invoke phase (END, and REPORT's duration) when the bootstrap calls /next again.
        self._ending: _Phase | None = None
        # Bootstraps start from this one long-lived thread: PR_SET_PDEATHSIG fires when the
        # *thread* that forked the child ends, so spawned from an Invoke API connection's
        # thread a bootstrap would die when that connection closed (one `curl`); from here,
        # it dies with the emulator only.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emulator-spawner")
        self._has_extensions = False
        self._tail: LogTail | None = None  # the log of a LogType=Tail invocation, while it runs
        self._tail_done: LogTail | None = None  # ...and once its REPORT is in
        self._stale = False  # `serve --watch` saw a change: the next invoke starts afresh
        self._tees: list[OutputTee] = []  # the bootstraps' output, drained before each line of ours

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> Emulator:
        self._api.start()
        return self

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def runtime_api(self) -> str:
        return self._api.address

    @property
    def stats(self) -> Counter[str]:
        """What the runtime posted: accepted answers by kind, and refused posts."""
        return self._api.stats

    def close(self) -> None:
        with self._cond:
            # The last invocation's phase first (its extensions' share), as a sandbox that
            # spins down does; not past its deadline, nor more than a moment.
            until = time.monotonic() + 2.0
            while self._ending is not None and (left := min(self._ending.deadline, until) - time.monotonic()) > 0:
                self._cond.wait(left)
            self._end_phase(None)
        self._telemetry.close()  # the last batches, while their destinations still listen
        self._extensions.shutdown("spindown", kill_tree)
        # Stopped before the emulator says it is closed: a runtime being shut down is not
        # also answered "500, reset" on its next /next (awslambdaric would log a failure).
        runtime = self._runtime
        if runtime is not None and runtime.process is not None:
            kill_tree(runtime.process, grace_s=0.5)  # Lambda's: SIGTERM, then 500 ms
        with self._cond:
            leftover, self._runtime = self._runtime, None  # one an invoke started meanwhile
        self._api.close()
        if leftover is not None and leftover is not runtime and leftover.process is not None:
            kill_tree(leftover.process)
        for tee in self._tees:  # what the bootstrap wrote is where it goes before close() returns
            tee.thread.join(1.0)
        if self._invoke_server is not None:
            self._invoke_server.close()
        self._spawner.shutdown(wait=False)

    def restart(self) -> None:
        """The next invocation starts a fresh bootstrap (cold), after the ones in flight."""
        self._stale = True

    def reconfigure(self, env: dict[str, str], function: FunctionSettings) -> None:
        """New settings (serve --watch: the environment file or the template changed), for
        the next invocation, which starts a fresh environment with them."""
        self.env, self.function = env, function
        self._stale = True

    @property
    def runtime_pid(self) -> int | None:
        runtime = self._runtime
        return runtime.process.pid if runtime and runtime.process else None

    # -- the bootstrap process ------------------------------------------------------

    def _child_env(self) -> dict[str, str]:
        fn = self.function
        assert fn is not None
        env: dict[str, str] = dict(os.environ) if self.inherit_env else {}
        # The RIE forwards its own environment; Lambda's reserved variables win over it.
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": fn.name,
                "AWS_LAMBDA_FUNCTION_VERSION": fn.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/")
                + f"[{fn.version}]{secrets.token_hex(16)}",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start" if self.snapstart
                else "on-demand" if self.max_concurrency == 1 else "lambda-managed-instances",
                "AWS_REGION": env.get("AWS_REGION", fn.region),
                "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", fn.region),
                "LAMBDA_TASK_ROOT": os.fspath(self.cwd or os.getcwd()),
                "LAMBDA_RUNTIME_DIR": env.get("LAMBDA_RUNTIME_DIR", "/var/runtime"),
                "TZ": env.get("TZ", "UTC"),
            }
        )
        if fn.handler:
            env["_HANDLER"] = fn.handler
        if self.max_concurrency > 1:
            env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(self.max_concurrency)
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"  # the only format Lambda allows in this mode
        env.update(self.env or {})
        env["AWS_LAMBDA_RUNTIME_API"] = self.runtime_api
        return env

    def _start_runtime(self) -> _Runtime:
        # The new generation and its record exist before the process does: a bootstrap that
        # calls /next at once (before spawn() returns here) is this generation's.
        self._new_environment()
        self._extensions.registration_closed = False
        runtime = _Runtime(self._api.new_generation(), time.monotonic())
        with self._cond:
            self._runtime = runtime
        env = self._child_env()
        self._telemetry.emit("platform", "platform.initStart", {
            "initializationType": self._init_type(), "phase": "init",
            "functionName": self.function.name if self.function else "", "functionVersion": "$LATEST"})
        self._start_extensions(env)
        if self._extensions.processes and not self._extensions_registered(runtime):
            return runtime  # init failed before the runtime's turn: it is not started
        tee = self._has_extensions or self.capture_output  # for a Telemetry subscriber, or LogType Tail
        try:
            # die_with_parent: a killed emulator (`serve` sent SIGKILL) takes the bootstrap, and
            # with it everything the bootstrap started, instead of leaving them running.
            process = self._spawner.submit(
                spawn, self.command, env=env, cwd=self.cwd,
                stdout=subprocess.PIPE if tee else self.child_stdout,
                stderr=subprocess.PIPE if tee else self.child_stderr,
                die_with_parent=True,
            ).result()
            if tee:
                self._tees = [t for t in self._tees if t.thread.is_alive()]  # a previous bootstrap's, ended
                epoch = self._telemetry.epoch  # a reset environment's late lines go nowhere
                for source, target in ((process.stdout, self.child_stdout), (process.stderr, self.child_stderr)):
                    assert source is not None
                    self._tees.append(OutputTee(source, target_fd(target),
                                                lambda text: self._function_line(text, epoch)).start())
        except BaseException:
            with self._cond:
                if self._runtime is runtime:
                    self._runtime = None
            self._api.runtime_exited(None, runtime.generation)
            raise
        with self._cond:
            runtime.process = process
        threading.Thread(target=self._watch_runtime, args=(runtime, process), name="runtime-watch", daemon=True).start()
        return runtime

    def _extensions_registered(self, runtime: _Runtime) -> bool:
        """Lambda starts the runtime once every external extension has registered (their
        init comes first, within init's budget). False when one did not (it crashed, or
        the budget ran out): the init error is set then."""
        with self._cond:
            problem = self._extensions.wait_registered(runtime.started_at + self.init_budget_s)
            if problem is not None and self._api.init_error is None:
                self._api.init_error = Outcome.error(errors.error_body(errors.EXTENSION_CRASH, problem),
                                                     errors.EXTENSION_CRASH)
        return problem is None

    def _new_environment(self) -> None:
        """Before a bootstrap starts: what is left of the previous execution environment (its
        extensions, when its bootstrap exited; its telemetry subscriptions and records) goes,
        as Lambda's re-initialisation starts from nothing."""
        if self._extensions.processes or self._extensions.registered:
            self._extensions.shutdown("failure", kill_tree)
        self._telemetry.reset()

    def _more_routes(self, request: Request) -> Response | None:
        """The Extensions and Telemetry APIs, on the Runtime API's port."""
        if request.path == TELEMETRY_PATH:
            return self._telemetry.handle(request, self._extensions.name_of(request.header("lambda-extension-identifier")))
        return self._extensions.handle(request)

    def _init_type(self) -> str:
        return "snap-start" if self.snapstart else "on-demand" if self.max_concurrency == 1 else "lambda-managed-instances"

    def _function_line(self, text: str, epoch: int) -> None:
        """A line of the bootstrap's output: to the Telemetry API (unless its environment was
        reset since: `epoch`), and to a Tail invocation's log."""
        self._telemetry.emit("function", "function", text, epoch)
        tail = self._tail
        if tail is not None:
            tail.add(text)

    def _start_extensions(self, env: dict[str, str]) -> None:
        """The external extensions, each in its own process group, before the bootstrap."""
        folder = self.extensions_dir
        if folder is None and (self.env or {}).get("OPENRUNTIME_OPT"):
            folder = os.path.join((self.env or {})["OPENRUNTIME_OPT"], "extensions")
        epoch = self._telemetry.epoch  # a reset environment's late lines go nowhere
        for path in self._extensions.found(folder):
            process = self._spawner.submit(
                spawn, [path], env=env, cwd=self.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                die_with_parent=True,
            ).result()
            for source, target in ((process.stdout, self.child_stdout), (process.stderr, self.child_stderr)):
                assert source is not None
                OutputTee(source, target_fd(target),
                          lambda text: self._telemetry.emit("extension", "extension", text, epoch)).start()
            self._extensions.processes.append((path, process))
            threading.Thread(target=self._watch_extension, args=(process,), name="extension-watch", daemon=True).start()
        self._has_extensions = bool(self._extensions.processes)

    def _watch_extension(self, process: subprocess.Popen[bytes]) -> None:
        """An external extension that exits on its own (not at SHUTDOWN) breaks the
        environment, as on Lambda: the invocation in flight fails with Extension.Crash, an
        invoke phase waiting for that extension ends now, and the environment is reset
        before the next invocation (which re-initialises it, extensions included)."""
        status = process.wait()
        with self._cond:
            if not self._extensions.exited(process, status):
                return
            for pending in list(self._api.in_flight.values()):
                if pending.outcome is None:
                    pending.outcome = self._crash_outcome(pending.request_id)
            phase, self._ending = self._ending, None
            if phase is not None:
                self._log_phase_end(phase)
            self._cond.notify_all()

    def _extension_init_error(self, name: str, error_type: str) -> None:
        """An extension posted /init/error: init fails, as AWS's documentation says, with AWS
        RIE's error type (Extension.InitError; the type it posted is in the message), and
        the invocations waiting for this init get it; the environment is then reset (see
        `_invoke_locked`). Lock held."""
        if self._api.init_error is not None:
            return
        message = f"extension {name!r} reported an init error: {error_type}"
        self._api.init_error = Outcome.error(errors.error_body(errors.EXTENSION_INIT_ERROR, message),
                                             errors.EXTENSION_INIT_ERROR)
        for pending in list(self._api.in_flight.values()):
            if pending.outcome is None:
                pending.outcome = self._api.init_error
        self._cond.notify_all()

    def _crash_outcome(self, request_id: str) -> Outcome:
        """Extension.Crash for `request_id`, in the words of AWS's RIE (`RequestId: … Error:`
        and the process's end: `exit code 0`, `exit status N`, `signal: NAME`). Lock held."""
        crash = self._extensions.crash
        status = crash[1] if crash is not None else 0
        end = ("exit code 0" if status == 0 else f"exit status {status}" if status > 0
               else f"signal: {errors.signal_text(-status)}")
        return Outcome.error(errors.error_body(errors.EXTENSION_CRASH, f"RequestId: {request_id} Error: {end}"),
                             errors.EXTENSION_CRASH)

    def _watch_runtime(self, runtime: _Runtime, process: subprocess.Popen[bytes]) -> None:
        status = process.wait()
        with self._cond:
            self._end_phase(runtime)  # it ended its invocation by exiting
            runtime.exit_status = status
            if self._runtime is runtime:
                self._runtime = None
            request_id = self._api.current_request_id()
            self._api.runtime_exited(self._exit_outcome(request_id, status), runtime.generation)

    def _exit_outcome(self, request_id: str | None, status: int | None) -> Outcome:
        """What the caller gets when the bootstrap died during its invocation (or its init)."""
        return self._api.init_error or Outcome.error(
            errors.error_body(errors.RUNTIME_EXIT_ERROR, errors.exit_error_message(request_id, status)),
            errors.RUNTIME_EXIT_ERROR,
        )

    def _reset_runtime(self, only: _Runtime | None = None, reason: str = "failure") -> None:
        """Kill the bootstrap and everything it started, as a sandbox reset does; the next
        invoke starts it again. `only`: if that one is still the bootstrap (a late reset must
        not hit its successor). `reason`: the extensions' SHUTDOWN shutdownReason (Lambda's
        values: spindown, timeout, failure)."""
        with self._cond:
            runtime = self._runtime
            if only is not None and runtime is not only:
                return
        self._telemetry.close()  # the old environment's last batches (its report), to its subscribers
        self._extensions.shutdown(reason, kill_tree)
        self._telemetry.reset()
        if runtime is not None and runtime.process is not None:  # killed first: its pending /next is never answered
            kill_tree(runtime.process)
            runtime.process.wait()
        with self._cond:
            if self._runtime is runtime:
                self._runtime = None
        self._api.runtime_exited(None, runtime.generation if runtime is not None else None)

    def _on_poll(self, generation: int) -> None:
        """A /next from the bootstrap of `generation` (the Runtime API's lock is held): its
        previous invocation's phase is over; the first one ends its init."""
        runtime = self._runtime
        if runtime is None or runtime.generation != generation:
            return
        if self._ending is not None and self._ending.runtime is runtime:
            self._ending.runtime_done = True
            self._maybe_end_phase()
        if not self._api.polled:
            self._extensions.registration_closed = True  # the runtime is ready: as AWS's RIE
            if runtime.restored_at is not None:  # SnapStart: the init was the snapshot's
                runtime.restore_duration_ms = (time.monotonic() - runtime.restored_at) * 1000
            else:
                runtime.init_duration_ms = (time.monotonic() - runtime.started_at) * 1000
            init = {"initializationType": self._init_type(), "phase": "init"}
            self._telemetry.emit("platform", "platform.initRuntimeDone", {**init, "status": "success"})
            self._telemetry.emit("platform", "platform.initReport", {
                **init, "status": "success",
                "metrics": {"durationMs": round((time.monotonic() - runtime.started_at) * 1000, 3)}})

    def _on_restore(self) -> None:
        """SnapStart: the bootstrap's restore/next. The snapshot is taken and restored at
        once here; the restore phase runs from now to its first /next."""
        with self._cond:
            if self._runtime is not None:
                self._runtime.restored_at = time.monotonic()
        self.log("SNAPSTART snapshot taken and restored")

    def _on_deliver(self, pending: Pending) -> None:
        """The runtime took an event: its invoke phase starts, and the extensions registered
        for INVOKE get theirs, with the same deadline (the lock is held)."""
        fn = self.function
        assert fn is not None
        headers = dict(pending.headers)
        start: dict[str, Any] = {"requestId": pending.request_id, "version": fn.version,
                                 "tracing": {"type": "X-Amzn-Trace-Id", "value": headers.get("Lambda-Runtime-Trace-Id", "")}}
        if "Lambda-Runtime-Aws-Tenant-Id" in headers:
            start["tenantId"] = headers["Lambda-Runtime-Aws-Tenant-Id"]
        self._telemetry.emit("platform", "platform.start", start)
        self._extensions.invoke(pending.request_id, int(headers.get("Lambda-Runtime-Deadline-Ms", "0")), fn.arn,
                                headers.get("Lambda-Runtime-Trace-Id", ""))

    # -- the Invoke API --------------------------------------------------------------

    def invoke(
        self,
        payload: bytes,
        *,
        client_context: str | None = None,
        cognito_identity: str | None = None,
        trace_id: str | None = None,
        tenant_id: str | None = None,
        content_type: str = JSON,
        timeout_s: float | None = None,
        extra_headers: Sequence[tuple[str, str]] = (),
        request_id: str | None = None,
        stream: bool = False,
        log_tail: bool = False,
        qualifier: str | None = None,
    ) -> InvokeResult:
        """One synchronous invocation, as `aws lambda invoke` would do it.

        `qualifier`: the alias or version the caller named; the function's
        `invoked_function_arn` then ends with it, as Lambda's does.

        `extra_headers` are added to the runtime's `/next` answer: headers that a future
        Lambda may send, for checking that a runtime (or proxy) passes them on. `stream`:
        as InvokeWithResponseStream, a streamed response comes back as it is written
        (`InvokeResult.stream`); without it, it is buffered, up to Lambda's 6 MB.
        """
        fn = self.function
        assert fn is not None
        request_id = request_id or str(uuid.uuid4())
        # Lambda hands the function {} when the caller sent no payload (aws-lambda-dotnet#834:
        # AWS's own test tool changed to match the service); every way in comes through here.
        payload = payload or EMPTY_PAYLOAD
        if len(payload) > errors.MAX_REQUEST_BYTES:
            body = errors.error_body(
                errors.REQUEST_TOO_LARGE_EXCEPTION,
                f"Request must be smaller than {errors.MAX_REQUEST_BYTES} bytes for the "
                "InvokeFunction operation",
            )
            return InvokeResult(413, body, {"content-type": JSON}, request_id)
        timeout = fn.timeout_s if timeout_s is None else timeout_s
        if self._api.is_in_flight(request_id):
            body = json.dumps({"Type": "User", "message": f"Invoke id {request_id} is already in progress"}).encode()
            return InvokeResult(400, body, {"content-type": JSON, "x-amzn-errortype": errors.DUPLICATED_INVOKE_ID},
                                request_id)
        refused = self._refused_when_busy(request_id)
        if refused is not None:
            return refused
        if not self._invoke_lock.acquire(blocking=self.when_busy != "throttle"):
            body = json.dumps({"Type": "User", "message": "Rate Exceeded.",
                               "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}).encode()
            return InvokeResult(429, body, {"content-type": JSON, "x-amzn-errortype": errors.TOO_MANY_REQUESTS},
                                request_id)
        try:
            return self._invoke_locked(
                request_id,
                payload,
                content_type,
                timeout,
                client_context,
                cognito_identity,
                trace_id or _new_trace_id(),
                tenant_id,
                extra_headers,
                stream,
                log_tail,
                qualifier,
            )
        finally:
            self._invoke_lock.release()

    def _refused_when_busy(self, request_id: str) -> InvokeResult | None:
        """The answer `when_busy` gives a caller who finds no free slot (None: go ahead)."""
        if self.when_busy == "strict-rie" and self.max_concurrency > 1 and self._runtime is not None:
            if self._api.waiting == 0:
                # The service's error shape, which the SDKs read the message from.
                body = json.dumps({"Type": "Service", "message": "no runtime worker is waiting for an event"}).encode()
                return InvokeResult(400, body, {"content-type": JSON, "x-amzn-errortype": errors.RUNTIME_UNAVAILABLE},
                                    request_id)
        return None

    def _invoke_locked(
        self,
        request_id: str,
        payload: bytes,
        content_type: str,
        timeout: float,
        client_context: str | None,
        cognito_identity: str | None,
        trace_id: str,
        tenant_id: str | None,
        extra_headers: Sequence[tuple[str, str]],
        want_stream: bool = False,
        log_tail: bool = False,
        qualifier: str | None = None,
    ) -> InvokeResult:
        fn = self.function
        assert fn is not None
        concurrent = self.max_concurrency > 1
        if not concurrent:
            self._await_phase_end()
        if self._stale:
            self._stale = False
            self._reset_runtime(reason="spindown")  # the code changed (serve --watch): a cold start loads it
        elif self._extensions.crash is not None:
            self._reset_runtime(reason="failure")  # an extension crashed since the last invocation
        began = time.monotonic()
        with self._start_lock:
            cold = self._runtime is None
            runtime = self._runtime or self._start_runtime()
        invocation_id = secrets.token_hex(16)
        invoked_arn = f"{fn.arn}:{qualifier}" if qualifier else fn.arn
        headers = _next_headers(request_id, invoked_arn, trace_id, invocation_id, content_type,
                                client_context, cognito_identity, tenant_id, extra_headers)
        pending = Pending(request_id, payload, headers, invocation_id, timeout_s=timeout)
        self._say(f"START RequestId: {request_id} Version: {fn.version}", start=True,
                  tail=LogTail() if log_tail else None)

        def until() -> float:
            # The function's time runs from the event's delivery; before it, a cold start
            # also has Lambda's init budget.
            return (pending.delivered_at or began + (self.init_budget_s if cold else 0)) + timeout

        outcome: Outcome | None = None
        with self._cond:
            if cold and self._extensions.processes and self._api.init_error is None:  # init waits for them
                problem = self._extensions.wait_ready(began + self.init_budget_s)
                if problem is not None and self._api.init_error is None:  # not an init error posted meanwhile
                    self._api.init_error = Outcome.error(errors.error_body(errors.EXTENSION_CRASH, problem),
                                                         errors.EXTENSION_CRASH)
            self._offer(pending)
            while True:
                try:
                    outcome = self._api.wait_answer(pending, until)
                except RuntimeGone:
                    if not cold and self._api.init_error is None:
                        # A warm runtime that exited between two events (after its last
                        # answer): Lambda re-initialises and this event goes to the new one.
                        self._cond.release()
                        try:
                            with self._start_lock:  # a concurrent invoke may have started it
                                runtime, cold = self._runtime or self._start_runtime(), True
                        finally:
                            self._cond.acquire()
                        self._offer(pending)  # to the new one
                        continue
                    outcome = self._exit_outcome(request_id, runtime.exit_status)
                break
            timed_out = outcome is None and not self._api.closed
            self._api.finish(pending)
        streamed: StreamedBody | None = None
        if outcome is not None and outcome.stream is not None:
            deadline = (pending.delivered_at or began) + timeout
            if want_stream:
                streamed = StreamedBody(outcome.stream, deadline, request_id, timeout,
                                        lambda: self._reset_runtime(only=runtime, reason="timeout"), self.stream_bandwidth)
            else:
                outcome = outcome.stream.collect(deadline, request_id)
                timed_out = outcome is None
        if outcome is None:
            outcome = Outcome.error(
                errors.error_body(errors.SANDBOX_TIMEDOUT, errors.timeout_message(request_id, timeout)),
                errors.SANDBOX_TIMEDOUT,
            )
        # The phase (REPORT's Duration) runs from the event's delivery: a cold start's init is
        # Init Duration, not the function's.
        delivered = pending.delivered_at or began
        self._telemetry.emit("platform", "platform.runtimeDone", {
            "requestId": request_id,
            "status": "timeout" if timed_out else "error" if outcome.is_error else "success",
            "metrics": {"durationMs": round((time.monotonic() - delivered) * 1000, 3),
                        "producedBytes": len(outcome.body)}})
        with self._cond:
            init_failed = self._api.init_error is not None or self._extensions.crash is not None
        self._close_phase(_Phase(request_id, runtime, delivered, delivered + timeout, tenant_id),
                          pending, over=timed_out or init_failed or concurrent, status="timeout" if timed_out else None)
        if init_failed or (timed_out and not concurrent):
            # Lambda re-initialises the environment after both; its records (the report
            # above) were the old environment's, and go with it.
            self._reset_runtime(reason="timeout" if timed_out else "failure")
        headers_out = {
            "content-type": outcome.content_type or JSON,
            "x-amz-executed-version": fn.version,
            "x-amzn-requestid": request_id,
        }
        if outcome.is_error:
            headers_out["x-amz-function-error"] = "Unhandled"
        if log_tail and streamed is not None:  # taken after the last chunk: waiting now would buffer the stream
            streamed.log_result = lambda: self._log_result(delivered + timeout)
        elif log_tail:
            headers_out["x-amz-log-result"] = self._log_result(delivered + timeout)
        return InvokeResult(200, outcome.body, headers_out, request_id, streamed)

    def _offer(self, pending: Pending) -> None:
        """`pending` to the runtime, unless the environment failed already: its init (an
        error posted, extensions that did not register) or an extension that crashed since
        the last look. Lock held."""
        if pending.outcome is None and self._api.init_error is not None:
            pending.outcome = self._api.init_error
        elif pending.outcome is None and self._extensions.crash is not None:
            pending.outcome = self._crash_outcome(pending.request_id)
        self._api.offer(pending)

    def _close_phase(self, phase: _Phase, pending: Pending, over: bool, status: str | None = None) -> None:
        """An answered invocation's phase: over already if its bootstrap has polled again (and
        every extension registered for INVOKE too), exited, or is being reset (`over`); else
        it ends at the last of those /next calls (`_maybe_end_phase`)."""
        runtime = phase.runtime
        with self._cond:
            phase.runtime_done = (runtime.generation == self._api.generation
                                  and self._api.polls > pending.polls_at_delivery)
            if over or runtime.exit_status is not None or self._api.closed or self._extensions.crash is not None:
                self._log_phase_end(phase, status)
            elif phase.runtime_done and self._extensions.idle():
                self._log_phase_end(phase, until=None if self._extensions.registered else self._api.last_poll)
            else:
                self._ending = phase  # over when they have polled again, it exits, or overruns

    def _maybe_end_phase(self) -> None:
        """A /next from the bootstrap or an extension: the phase ends once both are back.
        Called with the lock held."""
        phase = self._ending
        if phase is not None and phase.runtime_done and self._extensions.idle():
            self._ending = None
            self._log_phase_end(phase)
            self._cond.notify_all()  # the next invoke waits for this

    def _end_phase(self, runtime: _Runtime | None) -> None:
        """The pending invoke phase is over (its bootstrap polled, exited, or the emulator
        closes): END and REPORT, with the time until now. Called with the lock held."""
        phase = self._ending
        if phase is not None and (runtime is None or phase.runtime is runtime):
            self._ending = None
            self._log_phase_end(phase)
            self._cond.notify_all()  # the next invoke waits for this

    def _log_phase_end(self, phase: _Phase, status: str | None = None, until: float | None = None) -> None:
        self._say(f"END RequestId: {phase.request_id}")
        ended = time.monotonic() if until is None else until
        duration_ms = (ended - phase.began) * 1000
        init_ms = phase.runtime.init_duration_ms  # the first invocation after init reports it, once
        line = self._report_line(phase.request_id, phase.runtime, duration_ms)
        self._say(line + (f"\tStatus: {status}" if status else ""))
        if self._tail is not None:  # its log is complete: what comes after is not its own
            self._tail_done, self._tail = self._tail, None
        self._telemetry.emit("platform", "platform.report", self._report_record(phase, status, duration_ms, init_ms))

    def _report_record(self, phase: _Phase, status: str | None, duration_ms: float,
                       init_ms: float | None) -> dict[str, Any]:
        """platform.report (schema 2022-12-13): initDurationMs on the first invocation after
        init, tenantId when the invocation has one. maxMemoryUsedMB is left out: the
        emulator does not measure memory (REPORT has no Max Memory Used either)."""
        fn = self.function
        metrics: dict[str, Any] = {"durationMs": round(duration_ms, 3),
                                   "billedDurationMs": max(1, int(duration_ms + 0.999)),
                                   "memorySizeMB": fn.memory_mb if fn else 0}
        if init_ms is not None:
            metrics["initDurationMs"] = round(init_ms, 3)
        record: dict[str, Any] = {"requestId": phase.request_id, "status": status or "success", "metrics": metrics}
        if phase.tenant_id is not None:
            record["tenantId"] = phase.tenant_id
        return record

    def _say(self, line: str, start: bool = False, tail: LogTail | None = None) -> None:
        """One of the emulator's own log lines (START, END, REPORT), after what the bootstrap
        wrote before it (drained first), and in a LogType=Tail invocation's log. `start`: an
        invocation's first line, which begins its `tail` (None: nobody asked for it)."""
        for tee in self._tees:
            tee.drain()
        if start:
            self._tail, self._tail_done = tail, None
        self.log(line)
        if self._tail is not None:
            self._tail.add(line)

    def _log_result(self, phase_deadline: float) -> str:
        """The invocation's log as Lambda's X-Amz-Log-Result: base64 of its last 4 KB, START
        to REPORT (the phase ends at the bootstrap's next /next: waited for, within the
        invocation's time)."""
        with self._cond:
            while self._ending is not None and (left := phase_deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            tail = self._tail_done or self._tail
            self._tail = self._tail_done = None
        return base64.b64encode(tail.result() if tail is not None else b"").decode("ascii")

    def _await_phase_end(self) -> None:
        """Before the next invoke: the previous one's bootstrap must have called /next. One
        that does not within that invocation's time overran it: Lambda reports a timeout and
        resets the environment."""
        with self._cond:
            while self._ending is not None and (left := self._ending.deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            overrun, self._ending = self._ending, None
            if overrun is not None:
                self._log_phase_end(overrun, "timeout")
        if overrun is not None:
            self._reset_runtime(reason="timeout")

    def _report_line(self, request_id: str, runtime: _Runtime, duration_ms: float) -> str:
        fn = self.function
        assert fn is not None
        parts = [f"REPORT RequestId: {request_id}"]
        if runtime.init_duration_ms is not None:
            parts.append(f"Init Duration: {runtime.init_duration_ms:.2f} ms")
            runtime.init_duration_ms = None  # reported once, with the first invoke
        if runtime.restore_duration_ms is not None:
            parts.append(f"Restore Duration: {runtime.restore_duration_ms:.2f} ms")
            parts.append(f"Billed Restore Duration: {max(1, int(runtime.restore_duration_ms + 0.999))} ms")
            runtime.restore_duration_ms = None
        parts.append(f"Duration: {duration_ms:.2f} ms")
        parts.append(f"Billed Duration: {max(1, int(duration_ms + 0.999))} ms")
        parts.append(f"Memory Size: {fn.memory_mb} MB")
        return "\t".join(parts)

    # -- the Invoke API over HTTP ----------------------------------------------------------

    def serve_invoke_api(self, port: int = 8080) -> LoopbackHTTPServer:
        """Lambda's Invoke API on 127.0.0.1:`port` (emulator/invoke_api.py)."""
        from openruntime.emulator.invoke_api import invoke_api_server

        self._invoke_server = invoke_api_server(self, port).start()
        return self._invoke_server


def _throttled(chunks: Iterator[bytes], free: int, rate: float) -> Iterator[bytes]:
    """`chunks`, the bytes past the first `free` at no more than `rate` bytes/s on average."""
    sent = 0
    capped_since: float | None = None
    for chunk in chunks:
        if sent + len(chunk) > free:
            if capped_since is None:
                capped_since = time.monotonic()
            ahead = (sent + len(chunk) - free) / rate - (time.monotonic() - capped_since)
            if ahead > 0:
                time.sleep(ahead)
        sent += len(chunk)
        yield chunk


def _next_headers(
    request_id: str, function_arn: str, trace_id: str, invocation_id: str, content_type: str,
    client_context: str | None, cognito_identity: str | None, tenant_id: str | None,
    extra_headers: Sequence[tuple[str, str]],
) -> list[tuple[str, str]]:
    """The `/next` answer's headers, as Lambda sends them (the deadline joins at delivery)."""
    headers = [
        ("Lambda-Runtime-Aws-Request-Id", request_id),
        ("Lambda-Runtime-Invoked-Function-Arn", function_arn),
        ("Lambda-Runtime-Trace-Id", trace_id),
    ]
    if client_context is not None:
        headers.append(("Lambda-Runtime-Client-Context", client_context))
    if cognito_identity is not None:
        headers.append(("Lambda-Runtime-Cognito-Identity", cognito_identity))
    if tenant_id is not None:
        headers.append(("Lambda-Runtime-Aws-Tenant-Id", tenant_id))
    headers.append(("Lambda-Runtime-Invocation-Id", invocation_id))
    headers.extend(extra_headers)
    headers.append(("Content-Type", content_type))
    return headers


def _new_trace_id() -> str:
    return (
        f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
        f"Parent={secrets.token_hex(8)};Sampled=0"
    )
