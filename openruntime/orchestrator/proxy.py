"""The loopback Runtime API that the sub-runtime polls (the "Runtime API proxy" pattern).

The orchestrator hands it one invocation at a time (`dispatch`) and waits for the
sub-runtime's answer (`wait_outcome`). To the sub-runtime it answers exactly as Lambda's
Runtime API would: every `Lambda-Runtime-*` header passed through, 202 for accepted
posts, 400 for an unknown request id, 403 for a second answer or a late init error, 413
for a response over 6 MB (and the caller then gets `Function.ResponseSizeTooLarge`).

Each sub-runtime process is a "generation": a `/next` still waiting from a process that
was killed is answered 500 and never handed an event, so no event is lost to a dead
connection.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from openruntime import errors
from openruntime.errors import RuntimeGone
from openruntime.invocation import Invocation, Outcome
from openruntime.runtime_api.http import LoopbackHTTPServer, Request, Response
from openruntime.runtime_api.netio import Socket
from openruntime.runtime_api.server import (
    ACCEPTED,
    JSON,
    error_response,
    invalid_state,
    posted_error,
    route,
    too_large,
)



class InitState:
    """How the sub-runtime's init ended (plain strings: enum costs ~4 ms of the cold start)."""

    READY = "ready"  # the sub-runtime polled /next: its init is over
    INIT_ERROR = "init_error"  # it posted /init/error
    EXITED = "exited"  # it died first
    TIMED_OUT = "timed_out"


class _InFlight:
    __slots__ = ("invocation", "payload", "headers", "delivered", "outcome")

    def __init__(self, invocation: Invocation, payload: bytes, headers: list[tuple[str, str]]) -> None:
        self.invocation = invocation
        self.payload = payload
        self.headers = headers
        self.delivered = False
        self.outcome: Outcome | None = None


class RuntimeAPIProxy:
    def __init__(self, listener: Socket | None = None) -> None:
        self._cond = threading.Condition()
        self._generation = 0
        self._polled = False
        self._exited = False
        self._init_error: Outcome | None = None
        self._current: _InFlight | None = None
        self._answered: deque[str] = deque(maxlen=64)
        self._closed = False
        self._server = LoopbackHTTPServer(
            lambda request: route(request, self), max_body=errors.MAX_RESPONSE_BYTES, name="runtime-proxy", listener=listener
        )

    @property
    def address(self) -> str:
        return self._server.address

    def start(self) -> "RuntimeAPIProxy":
        self._server.start()
        return self

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._server.close()

    # -- orchestrator side ------------------------------------------------------------

    def new_generation(self) -> None:
        """A new sub-runtime process is about to start; forget the old one."""
        with self._cond:
            self._generation += 1
            self._polled = False
            self._exited = False
            self._init_error = None
            self._cond.notify_all()

    def runtime_exited(self, exit_outcome: Outcome | None) -> None:
        """The sub-runtime died; the invocation it was handling fails with `exit_outcome`.

        An event it never took (it exited right after its previous answer, as some
        runtimes do after an error) is not failed: `wait_outcome` raises RuntimeGone so
        that the orchestrator restarts the runtime and hands the event to the new one.
        """
        with self._cond:
            self._exited = True
            self._generation += 1  # its pending /next (if any) must not get an event
            current = self._current
            if current is not None and current.outcome is None and current.delivered and exit_outcome:
                current.outcome = exit_outcome
            self._cond.notify_all()

    @property
    def runtime_gone(self) -> bool:
        """The sub-runtime of this generation died (or was killed): the one place that says so."""
        with self._cond:
            return self._exited

    def current_request_id(self) -> str | None:
        current = self._current
        return current.invocation.request_id if current else None

    def wait_ready(self, timeout_s: float | None = None) -> tuple[str, Outcome | None]:
        end = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while True:
                if self._init_error is not None:
                    return InitState.INIT_ERROR, self._init_error
                if self._polled:
                    return InitState.READY, None
                if self._exited:
                    return InitState.EXITED, None
                remaining = None if end is None else end - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return InitState.TIMED_OUT, None
                self._cond.wait(remaining)

    def dispatch(self, invocation: Invocation, payload: bytes, content_type: str) -> None:
        headers = list(invocation.runtime_headers)
        headers.append(("Content-Type", content_type))
        with self._cond:
            self._current = _InFlight(invocation, payload, headers)
            self._cond.notify_all()

    def wait_outcome(self, until_monotonic: float) -> Outcome | None:
        """The sub-runtime's answer, or None when `until_monotonic` passed first."""
        with self._cond:
            current = self._current
            assert current is not None, "dispatch() first"
            while current.outcome is None:
                if self._exited and not current.delivered:
                    self._current = None
                    raise RuntimeGone()
                remaining = until_monotonic - time.monotonic()
                if remaining <= 0 or self._closed:
                    break
                self._cond.wait(remaining)
            self._current = None
            self._answered.append(current.invocation.request_id)
            return current.outcome

    # -- sub-runtime side ----------------------------------------------------------------

    def next_event(self, request: Request) -> Response:
        with self._cond:
            generation = self._generation
            if not self._polled:
                self._polled = True
                self._cond.notify_all()
            while True:
                if self._closed or generation != self._generation:
                    return error_response(500, errors.RUNTIME_RESET, "this runtime process was replaced; exit")
                current = self._current
                if current is not None and current.outcome is None and not current.delivered:
                    if request.peer_closed():
                        return error_response(500, errors.RUNTIME_RESET, "client went away")
                    # To this /next only: another one (awslambdaric's workers under
                    # AWS_LAMBDA_MAX_CONCURRENCY all poll) waits for the next event. One
                    # event, one execution of the handler.
                    current.delivered = True
                    return Response(200, current.payload, current.headers)
                self._cond.wait()

    def post_result(self, request: Request, request_id: str, is_error: bool) -> Response:
        with self._cond:
            current = self._current
            if current is None or current.invocation.request_id != request_id or not current.delivered:
                if request_id in self._answered:
                    return invalid_state(is_error)
                return error_response(400, errors.INVALID_REQUEST_ID, "Invalid request ID")
            if current.outcome is not None:
                return invalid_state(is_error)
            size = request.oversize if request.oversize is not None else len(request.body)
            response = ACCEPTED
            if is_error:
                current.outcome = Outcome.error(*posted_error(request, request_id))
            elif size > errors.MAX_RESPONSE_BYTES:
                current.outcome = Outcome.error(
                    errors.error_body(
                        errors.FUNCTION_RESPONSE_TOO_LARGE, errors.response_too_large_message(size)
                    ),
                    errors.FUNCTION_RESPONSE_TOO_LARGE,
                )
                response = too_large()
            else:
                current.outcome = Outcome(request.body, request.header("content-type") or JSON)
            self._cond.notify_all()
            return response

    def post_init_error(self, request: Request) -> Response:
        with self._cond:
            if self._polled:
                return invalid_state()
            self._init_error = Outcome.error(*posted_error(request))
            self._cond.notify_all()
        return ACCEPTED


