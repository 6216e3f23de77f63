"""A local Lambda: the Runtime API a bootstrap polls, and the Invoke API callers use.

Faithful to Lambda and to AWS's Runtime Interface Emulator (RIE), see
docs/emulator.md: the bootstrap (ours or anybody's) is started lazily on the first invoke
in its own process group, with the environment Lambda gives; invocations are served one
at a time; the function timeout is enforced by killing the bootstrap and answering with
Lambda's timeout error; a bootstrap that dies is started again on the next invoke.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

from openruntime import errors
from openruntime.invocation import JSON
from openruntime.processes import kill_tree, spawn
from openruntime.runtime_api.http import LoopbackHTTPServer, Request, Response
from openruntime.runtime_api.server import ACCEPTED, error_response, invalid_state, posted_error, route, too_large

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
ACCOUNT_ID = "012345678912"
INIT_BUDGET_S = 10.0  # Lambda gives init 10 s of its own, outside the function timeout


@dataclass(frozen=True)
class FunctionSettings:
    """What Lambda knows about the function (and puts in the bootstrap's environment)."""

    name: str = "test_function"
    version: str = "$LATEST"
    memory_mb: int = 3008
    timeout_s: float = 300.0
    region: str = "us-east-1"
    handler: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.name}"


class _Phase:
    """An invocation answered but not yet over: its bootstrap has not called /next again."""

    __slots__ = ("request_id", "runtime", "began", "deadline")

    def __init__(self, request_id: str, runtime: _Runtime, began: float, deadline: float) -> None:
        self.request_id, self.runtime, self.began, self.deadline = request_id, runtime, began, deadline


@dataclass
class InvokeResult:
    """What a caller of Lambda's Invoke API gets back."""

    status: int
    body: bytes
    headers: dict[str, str]
    request_id: str

    @property
    def function_error(self) -> str | None:
        return self.headers.get("x-amz-function-error")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Outcome:
    body: bytes
    content_type: str
    function_error: bool


@dataclass
class _Invocation:
    request_id: str
    invocation_id: str
    payload: bytes
    timeout_s: float
    headers: list[tuple[str, str]]  # the deadline joins them when the event is delivered
    delivered_at: float | None = None  # monotonic; the function's time runs from here
    polls_at_delivery: int = 0  # the runtime's /next count when it took this event
    outcome: _Outcome | None = None

    @property
    def delivered(self) -> bool:
        return self.delivered_at is not None

    def deliver(self) -> list[tuple[str, str]]:
        """The `/next` headers. As on Lambda, the timeout runs from the event's delivery,
        not from the invoke: a cold start's init is not charged to the function."""
        if self.delivered_at is None:
            self.delivered_at = time.monotonic()
            deadline_ms = int(time.time() * 1000 + self.timeout_s * 1000)
            self.headers.insert(1, ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)))
        return self.headers


@dataclass
class _Runtime:
    process: subprocess.Popen[bytes]
    generation: int
    started_at: float
    polled: bool = False  # has called /next: init is over, /init/error no longer allowed
    init_error: _Outcome | None = None
    init_duration_ms: float | None = None
    exit_status: int | None = None
    polls: int = 0  # /next calls so far, and when the last one came: where an invoke phase ends
    last_poll: float = 0.0


LogFn = Callable[[str], None]


def _stderr_log(line: str) -> None:
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
    log: LogFn = _stderr_log
    _server: LoopbackHTTPServer | None = field(default=None, init=False)
    _invoke_server: LoopbackHTTPServer | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.function is None:
            self.function = FunctionSettings(timeout_s=self.timeout_s)
        self._cond = threading.Condition()
        self._invoke_lock = threading.Lock()
        self._runtime: _Runtime | None = None
        self._starting = False  # a bootstrap is being spawned: its record is not there yet
        # The invocation whose answer is in but whose phase is not over: Lambda ends an
        # invoke phase (END, and REPORT's duration) when the bootstrap calls /next again.
        self._ending: _Phase | None = None
        self._generation = 0
        self._current: _Invocation | None = None
        self._answered: deque[str] = deque(maxlen=64)
        self._closed = False
        # Bootstraps start from this one long-lived thread: PR_SET_PDEATHSIG fires when the
        # *thread* that forked the child ends, so spawned from an Invoke API connection's
        # thread a bootstrap would die when that connection closed (one `curl`); from here,
        # it dies with the emulator only.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emulator-spawner")
        # What the runtime posted: accepted answers by kind, and refused posts.
        self.stats: Counter[str] = Counter()

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> "Emulator":
        self._server = LoopbackHTTPServer(
            self._handle_runtime_api,
            port=self.runtime_api_port,
            max_body=errors.MAX_RESPONSE_BYTES,
            name="runtime-api",
        ).start()
        return self

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def runtime_api(self) -> str:
        assert self._server is not None, "start() the emulator first"
        return self._server.address

    def close(self) -> None:
        with self._cond:
            self._end_phase(None)
        # Stopped before the emulator says it is closed: a runtime being shut down is not
        # also answered "500, reset" on its next /next (awslambdaric would log a failure).
        runtime = self._runtime
        if runtime is not None:
            kill_tree(runtime.process, grace_s=0.3)
        with self._cond:
            self._closed = True
            leftover, self._runtime = self._runtime, None  # one an invoke started meanwhile
            self._generation += 1
            self._cond.notify_all()
        if leftover is not None and leftover is not runtime:
            kill_tree(leftover.process)
        for server in (self._invoke_server, self._server):
            if server is not None:
                server.close()
        self._spawner.shutdown(wait=False)

    @property
    def runtime_pid(self) -> int | None:
        runtime = self._runtime
        return runtime.process.pid if runtime else None

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
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_REGION": env.get("AWS_REGION", fn.region),
                "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", fn.region),
                "LAMBDA_TASK_ROOT": os.fspath(self.cwd or os.getcwd()),
                "LAMBDA_RUNTIME_DIR": env.get("LAMBDA_RUNTIME_DIR", "/var/runtime"),
                "TZ": env.get("TZ", "UTC"),
            }
        )
        if fn.handler:
            env["_HANDLER"] = fn.handler
        env.update(self.env or {})
        env["AWS_LAMBDA_RUNTIME_API"] = self.runtime_api
        return env

    def _start_runtime(self) -> _Runtime:
        # The new generation exists before the process does: a bootstrap that calls /next
        # at once (before spawn() returns here) waits for its record instead of being
        # answered as a process that was replaced.
        with self._cond:
            self._generation += 1
            generation = self._generation
            self._runtime = None
            self._starting = True
        started_at = time.monotonic()
        env = self._child_env()
        try:
            # die_with_parent: a killed emulator (`serve` sent SIGKILL) takes the bootstrap, and
            # with it everything the bootstrap started, instead of leaving them running.
            process = self._spawner.submit(
                spawn, self.command, env=env, cwd=self.cwd, stdout=self.child_stdout, stderr=self.child_stderr,
                die_with_parent=True,
            ).result()
        except BaseException:
            with self._cond:
                self._starting = False
                self._cond.notify_all()
            raise
        with self._cond:
            self._starting = False
            runtime = _Runtime(process, generation, started_at)
            if self._generation == generation:
                self._runtime = runtime
            self._cond.notify_all()
        threading.Thread(
            target=self._watch_runtime, args=(runtime,), name="runtime-watch", daemon=True
        ).start()
        return runtime

    def _watch_runtime(self, runtime: _Runtime) -> None:
        status = runtime.process.wait()
        with self._cond:
            self._end_phase(runtime)  # it ended its invocation by exiting
            runtime.exit_status = status
            if self._runtime is runtime:
                self._runtime = None
                self._generation += 1
            self._cond.notify_all()

    @staticmethod
    def _exit_outcome(runtime: _Runtime, request_id: str) -> _Outcome:
        """What the caller gets when the bootstrap died during its invocation."""
        return runtime.init_error or _Outcome(
            errors.error_body(
                errors.RUNTIME_EXIT_ERROR, errors.exit_error_message(request_id, runtime.exit_status)
            ),
            JSON,
            True,
        )

    def _reset_runtime(self) -> None:
        """Kill the bootstrap and everything it started, as a sandbox reset does; the next
        invoke starts it again."""
        with self._cond:
            runtime = self._runtime
        if runtime is not None:  # killed first, so that its pending /next is never answered
            kill_tree(runtime.process)
            runtime.process.wait()
        with self._cond:
            if self._runtime is runtime:
                self._runtime = None
            self._generation += 1
            self._cond.notify_all()

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
    ) -> InvokeResult:
        """One synchronous invocation, as `aws lambda invoke` would do it.

        `extra_headers` are added to the runtime's `/next` answer: headers that a future
        Lambda may send, for checking that a runtime (or proxy) passes them on.
        """
        fn = self.function
        assert fn is not None
        request_id = request_id or str(uuid.uuid4())
        if len(payload) > errors.MAX_REQUEST_BYTES:
            body = errors.error_body(
                errors.REQUEST_TOO_LARGE_EXCEPTION,
                f"Request must be smaller than {errors.MAX_REQUEST_BYTES} bytes for the "
                "InvokeFunction operation",
            )
            return InvokeResult(413, body, {"content-type": JSON}, request_id)
        timeout = fn.timeout_s if timeout_s is None else timeout_s
        with self._invoke_lock:
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
            )

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
    ) -> InvokeResult:
        fn = self.function
        assert fn is not None
        self._await_phase_end()
        began = time.monotonic()
        cold = self._runtime is None
        runtime = self._runtime or self._start_runtime()
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", request_id),
            ("Lambda-Runtime-Invoked-Function-Arn", fn.arn),
            ("Lambda-Runtime-Trace-Id", trace_id),
        ]
        if client_context is not None:
            headers.append(("Lambda-Runtime-Client-Context", client_context))
        if cognito_identity is not None:
            headers.append(("Lambda-Runtime-Cognito-Identity", cognito_identity))
        if tenant_id is not None:
            headers.append(("Lambda-Runtime-Aws-Tenant-Id", tenant_id))
        invocation_id = secrets.token_hex(16)
        headers.append(("Lambda-Runtime-Invocation-Id", invocation_id))
        headers.extend(extra_headers)
        headers.append(("Content-Type", content_type))
        invocation = _Invocation(request_id, invocation_id, payload, timeout, headers)
        self.log(f"START RequestId: {request_id} Version: {fn.version}")
        timed_out = False
        with self._cond:
            self._current = invocation
            self._cond.notify_all()
            while invocation.outcome is None and not self._closed:
                if runtime.exit_status is not None:
                    if not invocation.delivered and not cold and runtime.init_error is None:
                        # A warm runtime that exited between two events (after its last
                        # answer): Lambda re-initialises and this event goes to the new one.
                        self._cond.release()
                        try:
                            runtime, cold = self._start_runtime(), True
                        finally:
                            self._cond.acquire()
                        continue
                    invocation.outcome = self._exit_outcome(runtime, request_id)
                    break
                # Before delivery, a cold start also has Lambda's init budget.
                start = invocation.delivered_at or began + (INIT_BUDGET_S if cold else 0)
                remaining = start + timeout - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                self._cond.wait(remaining)
            self._current = None
            self._answered.append(request_id)
        outcome = invocation.outcome
        if timed_out or outcome is None:
            outcome = _Outcome(
                errors.error_body(errors.SANDBOX_TIMEDOUT, errors.timeout_message(request_id, timeout)),
                JSON,
                True,
            )
        if timed_out or runtime.init_error is not None:
            self._reset_runtime()  # Lambda re-initialises the environment after both
        phase = _Phase(request_id, runtime, began, (invocation.delivered_at or began) + timeout)
        with self._cond:
            if runtime.polls > invocation.polls_at_delivery:  # it called /next already
                self._log_phase_end(phase, until=runtime.last_poll)
            elif timed_out or runtime.init_error is not None or runtime.exit_status is not None or self._closed:
                self._log_phase_end(phase)
            else:
                self._ending = phase  # over when it polls again (next_event), exits, or overruns
        headers_out = {
            "content-type": outcome.content_type or JSON,
            "x-amz-executed-version": fn.version,
            "x-amzn-requestid": request_id,
        }
        if outcome.function_error:
            headers_out["x-amz-function-error"] = "Unhandled"
        return InvokeResult(200, outcome.body, headers_out, request_id)

    def _end_phase(self, runtime: _Runtime | None) -> None:
        """The pending invoke phase is over (its bootstrap polled, exited, or the emulator
        closes): END and REPORT, with the time until now. Called with the lock held."""
        phase = self._ending
        if phase is not None and (runtime is None or phase.runtime is runtime):
            self._ending = None
            self._log_phase_end(phase)
            self._cond.notify_all()  # the next invoke waits for this

    def _log_phase_end(self, phase: _Phase, status: str | None = None, until: float | None = None) -> None:
        self.log(f"END RequestId: {phase.request_id}")
        ended = time.monotonic() if until is None else until
        line = self._report_line(phase.request_id, phase.runtime, (ended - phase.began) * 1000)
        self.log(line + (f"\tStatus: {status}" if status else ""))

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
            self._reset_runtime()

    def _report_line(self, request_id: str, runtime: _Runtime, duration_ms: float) -> str:
        fn = self.function
        assert fn is not None
        parts = [f"REPORT RequestId: {request_id}"]
        if runtime.init_duration_ms is not None:
            parts.append(f"Init Duration: {runtime.init_duration_ms:.2f} ms")
            runtime.init_duration_ms = None  # reported once, with the first invoke
        parts.append(f"Duration: {duration_ms:.2f} ms")
        parts.append(f"Billed Duration: {max(1, int(duration_ms + 0.999))} ms")
        parts.append(f"Memory Size: {fn.memory_mb} MB")
        return "\t".join(parts)

    # -- the Runtime API ----------------------------------------------------------------

    def _handle_runtime_api(self, request: Request) -> Response:
        if request.path == "/2018-06-01/ping":  # the RIE keeps this undocumented probe
            return Response(200, b"pong")
        return route(request, self)

    def next_event(self, request: Request) -> Response:
        with self._cond:
            generation = self._generation
            runtime = self._runtime
            while runtime is None and generation == self._generation and not self._closed and self._starting:
                self._cond.wait()  # its process is spawned; its record is on the way
                runtime = self._runtime
            if runtime is not None:
                runtime.polls += 1
                runtime.last_poll = time.monotonic()
                self._end_phase(runtime)  # /next again: its previous invocation is over
                if not runtime.polled:
                    runtime.polled = True
                    runtime.init_duration_ms = (time.monotonic() - runtime.started_at) * 1000
            while True:
                if self._closed or self._generation != generation:
                    # The process that asked is gone (killed or reset): answer nobody.
                    return error_response(500, errors.RUNTIME_RESET, "the environment was reset")
                current = self._current
                if current is not None and current.outcome is None:
                    if request.peer_closed():
                        return error_response(500, errors.RUNTIME_RESET, "client went away")
                    # A second /next while one is in flight renders the same event (RAPID).
                    if not current.delivered:
                        self._cond.notify_all()  # the invoke's clock now runs from here
                    current.polls_at_delivery = runtime.polls if runtime is not None else 0
                    return Response(200, current.payload, current.deliver())
                self._cond.wait()

    def post_result(self, request: Request, request_id: str, is_error: bool) -> Response:
        response = self._accept_result(request, request_id, is_error)
        with self._cond:
            self.stats["error" if is_error else "response"] += 1
            if response.status >= 300:
                self.stats["refused"] += 1
        return response

    def _accept_result(self, request: Request, request_id: str, is_error: bool) -> Response:
        mode = request.header("lambda-runtime-function-response-mode")
        with self._cond:
            current = self._current
            if current is None or current.request_id != request_id or not current.delivered:
                if request_id in self._answered or (current and current.outcome is not None):
                    return invalid_state(is_error)
                return error_response(400, errors.INVALID_REQUEST_ID, "Invalid request ID")
            if current.outcome is not None:
                return invalid_state(is_error)
            echoed = request.header("lambda-runtime-invocation-id")
            if echoed is not None and echoed != current.invocation_id:
                return error_response(410, errors.INVALID_INVOCATION_ID, "Invocation ID is stale")
            size = request.oversize if request.oversize is not None else len(request.body)
            if is_error:
                current.outcome = _Outcome(
                    posted_error(request)[0], JSON, True
                )
                response = ACCEPTED
            elif mode and mode != "streaming":
                current.outcome = _Outcome(
                    errors.error_body(
                        errors.RUNTIME_INVALID_RESPONSE_MODE,
                        f"Invalid response mode header value: {mode}",
                    ),
                    JSON,
                    True,
                )
                response = error_response(
                    400, errors.INVALID_RESPONSE_MODE, f"invalid response mode {mode!r}"
                )
            elif size > errors.MAX_RESPONSE_BYTES:
                current.outcome = _Outcome(
                    errors.error_body(
                        errors.FUNCTION_RESPONSE_TOO_LARGE, errors.response_too_large_message(size)
                    ),
                    JSON,
                    True,
                )
                response = too_large()
            else:
                current.outcome = _Outcome(
                    request.body, request.header("content-type") or JSON, False
                )
                response = ACCEPTED
            self._cond.notify_all()
            return response

    def post_init_error(self, request: Request) -> Response:
        with self._cond:
            runtime = self._runtime
            if runtime is None or runtime.polled:
                return invalid_state()
            runtime.init_error = _Outcome(posted_error(request)[0], JSON, True)
            current = self._current
            if current is not None and current.outcome is None:
                current.outcome = runtime.init_error
            self._cond.notify_all()
        return ACCEPTED

    # -- the Invoke API over HTTP ----------------------------------------------------------

    def serve_invoke_api(self, port: int = 8080) -> LoopbackHTTPServer:
        self._invoke_server = LoopbackHTTPServer(
            self._handle_invoke_api, port=port, max_body=errors.MAX_REQUEST_BYTES, name="invoke-api"
        ).start()
        return self._invoke_server

    def _handle_invoke_api(self, request: Request) -> Response:
        if INVOKE_PATH.match(request.path) is None:
            return service_error(
                404, errors.RESOURCE_NOT_FOUND, f"no route for {request.method} {request.path}"
            )
        if request.oversize is not None:
            return service_error(
                413,
                errors.REQUEST_TOO_LARGE_EXCEPTION,
                f"Request must be smaller than {errors.MAX_REQUEST_BYTES} bytes for the "
                "InvokeFunction operation",
            )
        client_context = request.header("x-amz-client-context")
        if client_context is not None:
            try:
                client_context = base64.b64decode(client_context, validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                return service_error(
                    400, errors.INVALID_REQUEST_CONTENT, "X-Amz-Client-Context must be base64 JSON"
                )
        if request.body:  # Lambda parses the payload before any code runs (an empty one is let through)
            try:
                json.loads(request.body)
            except ValueError as exc:
                return service_error(
                    400, errors.INVALID_REQUEST_CONTENT,
                    f"Could not parse request body into json: Could not parse payload into json: {exc}",
                )
        kwargs: dict[str, Any] = {
            "client_context": client_context,
            "trace_id": request.header("x-amzn-trace-id"),
            "tenant_id": request.header("x-amz-tenant-id"),
        }
        invocation_type = request.header("x-amz-invocation-type") or "RequestResponse"
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            return service_error(
                400, errors.VALIDATION_EXCEPTION,
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to "
                "satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
            )
        if invocation_type != "RequestResponse":
            request_id = str(uuid.uuid4())
            assert self.function is not None
            ids = [("X-Amzn-RequestId", request_id), ("X-Amz-Executed-Version", self.function.version)]
            if invocation_type == "DryRun":
                return Response(204, b"", ids)
            threading.Thread(
                target=self.invoke, args=(request.body,), kwargs={**kwargs, "request_id": request_id}, daemon=True
            ).start()
            return Response(202, b"", ids)
        result = self.invoke(request.body, **kwargs)
        headers = [(_canonical(k), v) for k, v in result.headers.items()]
        return Response(result.status, result.body, headers)


def service_error(status: int, code: str, message: str) -> Response:
    """An error of the Lambda service itself (the Invoke API), shaped as the SDKs parse it:
    the code in X-Amzn-ErrorType, `{"Type": "User", "message": …}` as the body."""
    body = json.dumps({"Type": "User", "message": message}).encode()
    return Response(status, body, [("Content-Type", JSON), ("X-Amzn-ErrorType", code),
                                   ("X-Amzn-RequestId", str(uuid.uuid4()))])


def _canonical(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-")).replace("Amzn-Requestid", "Amzn-RequestId")



def _new_trace_id() -> str:
    return (
        f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
        f"Parent={secrets.token_hex(8)};Sampled=0"
    )
