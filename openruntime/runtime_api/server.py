"""The server side of Lambda's Runtime API, written once: the orchestrator's proxy and the
emulator's sandbox are both a `RuntimeAPIServer`.

What is the same in both, and so lives here: the routes and Lambda's canned answers
(202, 400 for an unknown request id, 403 for a second answer or a late init error, 410
for a stale invocation id, 413 past 6 MB); the invocations in flight (`Pending`: one at a
time in Lambda's classic mode, up to `AWS_LAMBDA_MAX_CONCURRENCY` in Managed Instances
mode), each delivered to exactly one `/next` in the order offered (a runtime that polls
from several workers, as awslambdaric 4 does in that mode, runs each event once); the ids
already answered; and generations: each runtime process is one, and a `/next` still
waiting from a process that was replaced is answered 500 and never handed an event, so
no event is lost to a dead connection. An event a dying process never took is not
failed: `wait_answer` raises RuntimeGone and the owner resends it to the next process.

The lane (`hand_over=True`: the orchestrator's proxy in classic mode): a runtime's `/next`
that finds no event does not wait on its connection's thread; the connection is handed
over to the owner, whose thread then writes the event on it, reads the answer there and,
at the next event, reads the runtime's next `/next` there too: an invocation crosses no
thread (two thread wake-ups fewer per invocation, about a tenth of the orchestrator's
cost). Whatever does not fit goes back to the threaded path, with nothing lost: a
request on another connection while the owner reads the lane (a runtime with several
connections) shuts the lane, a streamed answer is pumped by a thread again, and a dead
or replaced runtime's lane is closed.

What differs is the owner's: the proxy hands on what Lambda sent, the emulator builds
invocations and times them (its `on_poll` hook ends an invoke phase, as Lambda's does,
when the runtime calls `/next` again).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, deque

from openruntime import errors
from openruntime.errors import MalformedRequest, RuntimeGone
from openruntime.invocation import JSON, Outcome
from openruntime.runtime_api.http import (
    HANDED_OVER, Connection, Interrupted, LoopbackHTTPServer, Request, Response, drain_wakeups,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~3 ms of a cold start)
if TYPE_CHECKING:
    from collections.abc import Callable

    from openruntime.response_stream import ResponseStream
    from openruntime.runtime_api.netio import Socket

PREFIX = "/2018-06-01/runtime/"
ACCEPTED = Response(202, b'{"status":"OK"}', [("Content-Type", JSON)])
ANSWERED_KEPT = 64  # ids remembered for Lambda's 403 to a late second answer
HELD_ANSWER_SEND_S = 1.0  # a runtime that has not taken its 202 by then has stopped reading


class InitState:
    """How a runtime's init ended (plain strings: enum costs ~4 ms of the cold start)."""

    READY = "ready"  # it polled /next: its init is over
    INIT_ERROR = "init_error"  # it posted /init/error
    EXITED = "exited"  # it died first
    TIMED_OUT = "timed_out"


class Pending:
    """One invocation handed to the Runtime API, until its runtime answers (`outcome`).

    `timeout_s`: the emulator's; the deadline header is then stamped at delivery, as
    Lambda does (a cold start's init is not the function's time). The proxy passes on
    Lambda's own deadline among `headers` and leaves it None.
    """

    __slots__ = ("request_id", "payload", "headers", "invocation_id", "timeout_s", "delivered_at",
                 "polls_at_delivery", "outcome")

    def __init__(self, request_id: str, payload: bytes, headers: list[tuple[str, str]],
                 invocation_id: str | None = None, timeout_s: float | None = None) -> None:
        self.request_id = request_id
        self.payload = payload
        self.headers = headers
        self.invocation_id = invocation_id
        self.timeout_s = timeout_s
        self.delivered_at: float | None = None  # monotonic
        self.polls_at_delivery = 0  # the runtime's /next count when it took this event
        self.outcome: Outcome | None = None

    @property
    def delivered(self) -> bool:
        return self.delivered_at is not None

    def deliver(self) -> list[tuple[str, str]]:
        """Mark it delivered; the `/next` answer's headers."""
        if self.delivered_at is None:
            self.delivered_at = time.monotonic()
            if self.timeout_s is not None:
                deadline_ms = int(time.time() * 1000 + self.timeout_s * 1000)
                self.headers.insert(1, ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)))
        return self.headers


class _Lane:
    """A runtime's connection that the owner's thread serves itself (module docstring)."""

    __slots__ = ("connection", "generation", "poll", "busy", "held")

    def __init__(self, connection: Connection, generation: int, poll: Request) -> None:
        self.connection = connection
        self.generation = generation
        self.poll: Request | None = poll  # a `/next` read on it and not answered yet
        self.busy = False  # the owner's thread reads or writes it now
        # Our answer to the runtime's answer (202), held until the owner has passed it on
        # (`send_held_answer`): the caller's answer goes first, the runtime's wake-up after.
        self.held: tuple[Response, bool] | None = None


class RuntimeAPIServer:
    """One execution environment's Runtime API on loopback, one invocation at a time.

    The owner's side (`new_generation`, `runtime_exited`, `offer`, `wait_answer`,
    `wait_ready`) and the runtime's side (`next_event`, `post_result`, `post_init_error`,
    routed by `handle`) meet under one condition, `cond`, which an owner with state of its
    own (the emulator) shares. `stats` counts the runtime's posts: accepted responses and
    errors, and refused posts.
    """

    def __init__(self, *, port: int = 0, listener: Socket | None = None, name: str = "runtime-api",
                 on_poll: Callable[[int], None] | None = None,
                 on_deliver: Callable[[Pending], None] | None = None,
                 more_routes: Callable[[Request], Response | None] | None = None,
                 on_restore: Callable[[], None] | None = None, hand_over: bool = False) -> None:
        self.cond = threading.Condition()
        self._hand_over = hand_over
        self._lane: _Lane | None = None
        # The owner's wait on the lane is cut short by a byte here (`_leave_lane_for`).
        self._wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC) if hand_over else (-1, -1)
        self._woken = False  # a byte may be in the pipe
        self.generation = 0
        self.closed = False
        self.polled = False  # this generation's process has called /next: its init is over
        self.waiting = 0  # /next calls waiting for an event right now (idle workers)
        self.polls = 0  # /next calls of this generation, and when the last one came
        self.last_poll = 0.0
        self.exited = False  # this generation's process died (or was killed)
        self.init_error: Outcome | None = None
        self.in_flight: dict[str, Pending] = {}  # offered and not finished, by request id
        self._undelivered: deque[Pending] = deque()  # offered, waiting for a /next, oldest first
        self.stats: Counter[str] = Counter()
        self._answered: deque[str] = deque(maxlen=ANSWERED_KEPT)
        self._on_poll = on_poll
        self._on_deliver = on_deliver  # the emulator's: the invoke phase starts (INVOKE to extensions)
        self._more_routes = more_routes  # the emulator's Extensions API, on the same port
        self._on_restore = on_restore  # SnapStart: what restoring the environment is, here
        self._http = LoopbackHTTPServer(self.handle, port=port, listener=listener,
                                        max_body=errors.MAX_RESPONSE_BYTES, name=name, stream_if=_streamed_response)

    @property
    def address(self) -> str:
        return self._http.address

    def start(self) -> RuntimeAPIServer:
        self._http.start()
        return self

    def close(self) -> None:
        """No more events: every waiting /next is answered 500 and the socket closes."""
        with self.cond:
            self.closed = True
            self.generation += 1
            self._discard_lane()
            self.cond.notify_all()
        self._http.close()
        if self._wake[0] >= 0:
            for fd in self._wake:
                os.close(fd)
            self._wake = (-1, -1)

    # -- the owner's side ------------------------------------------------------------------

    def new_generation(self) -> int:
        """A new runtime process is about to start; forget the old one."""
        with self.cond:
            self.generation += 1
            self._discard_lane()
            self.polled = self.exited = False
            self.polls = 0
            self.init_error = None
            self.cond.notify_all()
            return self.generation

    def runtime_exited(self, exit_outcome: Outcome | None, generation: int | None = None) -> None:
        """The runtime of `generation` (default: the current one) died. The invocation it had
        taken fails with `exit_outcome`; one it never took is resent (see `wait_answer`)."""
        with self.cond:
            if generation is not None and generation != self.generation:
                return  # an older process: already replaced
            self.exited = True
            self.generation += 1  # its pending /next (if any) must not get an event
            self._discard_lane()
            if exit_outcome is not None:
                for pending in self.in_flight.values():
                    if pending.outcome is None and pending.delivered:
                        pending.outcome = exit_outcome
            self.cond.notify_all()

    @property
    def runtime_gone(self) -> bool:
        """The runtime of this generation died (or was killed): the one place that says so."""
        with self.cond:
            return self.exited

    def current_request_id(self) -> str | None:
        """The request id a runtime works on, when there is exactly one (classic mode)."""
        with self.cond:
            delivered = [p.request_id for p in self.in_flight.values() if p.delivered and p.outcome is None]
            return delivered[0] if len(delivered) == 1 else None

    def wait_ready(self, timeout_s: float | None = None) -> tuple[str, Outcome | None]:
        """How this generation's init ends (an `InitState`), with the error it posted."""
        end = None if timeout_s is None else time.monotonic() + timeout_s
        with self.cond:
            while True:
                if self.init_error is not None:
                    return InitState.INIT_ERROR, self.init_error
                if self.polled:
                    return InitState.READY, None
                if self.exited:
                    return InitState.EXITED, None
                remaining = None if end is None else end - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return InitState.TIMED_OUT, None
                self.cond.wait(remaining)

    def offer(self, pending: Pending) -> None:
        """`pending` goes to the next `/next` (exactly one)."""
        with self.cond:
            self.in_flight[pending.request_id] = pending
            self._undelivered.append(pending)
            self.cond.notify_all()

    def is_in_flight(self, request_id: str) -> bool:
        with self.cond:
            return request_id in self.in_flight

    def wait_answer(self, pending: Pending, until: Callable[[], float]) -> Outcome | None:
        """The runtime's answer to `pending`, or None once the monotonic time `until()`
        (asked again at each wake-up: the emulator's clock starts at delivery) has passed.
        RuntimeGone when the runtime died before it took the event. Call with `cond` held."""
        while pending.outcome is None and not self.closed:
            if self.exited and not pending.delivered:
                self.finish(pending)  # not resent by this server: its owner offers it again
                raise RuntimeGone()
            remaining = until() - time.monotonic()
            if remaining <= 0:
                break
            self.cond.wait(remaining)
        return pending.outcome

    def finish(self, pending: Pending) -> None:
        """`pending` is over (answered, timed out or given up): a late post gets a 403."""
        with self.cond:
            if self.in_flight.get(pending.request_id) is pending:
                del self.in_flight[pending.request_id]
                try:
                    self._undelivered.remove(pending)
                except ValueError:
                    pass  # delivered already
            self._answered.append(pending.request_id)

    # -- the lane: the owner's thread serves the runtime's connection -------------------------

    def take_lane(self) -> _Lane | None:
        """The current runtime's lane, for the owner's thread to serve (`answer_on_lane`);
        None when there is none, or when another `/next` waits on a thread of its own (a
        runtime with several connections): that one gets the event, and the lane's
        connection goes back to a thread, so that nothing it sends goes unread."""
        with self.cond:
            lane = self._lane
            if lane is None:
                return None
            if lane.generation != self.generation or self.closed:
                self._discard_lane()
                return None
            if self.waiting:
                self._lane = None
                if lane.poll is not None:
                    self.polls -= 1  # its thread counts it (`next_event`)
                self._http.serve_from(lane.connection, lane.poll)
                return None
            if self._woken:  # a wake-up meant for an earlier wait (no read(2) otherwise)
                drain_wakeups(self._wake[0])
                self._woken = False
            lane.busy = True
            return lane

    def answer_on_lane(self, lane: _Lane, pending: Pending, until: float, hold: bool = False) -> bool:
        """From the owner's thread: `pending` to the runtime's `/next` on `lane`, and its
        answer read there, by the monotonic time `until`; with `hold`, the 202 for that
        answer waits for `send_held_answer`. True: `pending.outcome` is set.
        False: the lane is over (closed, timed out, or given back to a thread) and the
        threaded path goes on: `offer` it if it is not `delivered`, then `wait_answer`."""
        connection = lane.connection
        keep = False
        with self.cond:
            self.in_flight[pending.request_id] = pending  # offered: it is in flight from here
        try:
            connection.set_deadline(until, self._wake[0])
            if lane.held is not None and not self._send_held(lane):
                return False
            # A /next read a while ago: its client may have given up on it since.
            if lane.poll is not None and connection.peer_closed():
                return False
            if lane.poll is None and not self._read_until_poll(lane):
                return False
            with self.cond:
                if lane is not self._lane or lane.generation != self.generation or self.closed:
                    return False
                pending.polls_at_delivery = self.polls
                headers = pending.deliver()
                if self._on_deliver is not None:
                    self._on_deliver(pending)
                lane.poll = None
            connection.send(Response(200, pending.payload, headers))
            while pending.outcome is None:
                request = self._read_on_lane(lane)
                if request is None:
                    return False
                if _is_poll(request):  # it polls again unanswered: its answer went (or goes) elsewhere
                    keep = self._hold_poll(lane, request)
                    return keep and pending.outcome is not None
                if not self._answer_on_lane(lane, request, pending if hold else None):
                    return False
            keep = True
            return True
        except Interrupted:  # the runtime talks on another connection too: threads serve both
            with self.cond:
                if self._lane is lane:
                    self._lane = None
            self._http.serve_from(connection)
            return False
        except (TimeoutError, OSError):
            return False  # at the deadline the runtime is replaced, its connection with it
        except Exception as exc:  # noqa: BLE001 - what would have ended a connection's thread
            from openruntime.function_log import log

            log(f"the runtime's connection failed: {exc!r}; it is closed", "ERROR", pending.request_id)
            return False
        finally:
            connection.set_deadline(None, self._wake[0])
            with self.cond:
                lane.busy = False
                if not keep and self._lane is lane:
                    self._discard_lane()

    def _read_until_poll(self, lane: _Lane) -> bool:
        """Serve `lane` up to the runtime's next `/next`; False when the lane is over."""
        while True:
            request = self._read_on_lane(lane)
            if request is None:
                return False
            if _is_poll(request):
                return self._hold_poll(lane, request)
            if not self._answer_on_lane(lane, request):
                return False

    def _hold_poll(self, lane: _Lane, request: Request) -> bool:
        """A `/next` read on `lane`, kept there for the next event; False when the lane's
        runtime was replaced meanwhile."""
        with self.cond:
            if lane.generation != self.generation:
                return False
            self._note_poll()
            lane.poll = request
            return True

    def _read_on_lane(self, lane: _Lane) -> Request | None:
        """The next request on `lane`; None at its end (it is then dropped by the caller)."""
        try:
            return lane.connection.read_request(errors.MAX_RESPONSE_BYTES, _streamed_response)
        except MalformedRequest as exc:
            lane.connection.send(error_response(400, "MalformedRequest", str(exc)), keep_alive=False)
            return None

    def send_held_answer(self) -> None:
        """From the owner's thread, once it has passed the runtime's answer on: the
        runtime's 202 for it (held so that the runtime, woken by it, does not compete
        with the owner for the CPU before the caller has its answer)."""
        with self.cond:
            lane = self._lane
            if lane is None or lane.held is None:
                return
            lane.busy = True  # not closed under it meanwhile (`_discard_lane`)
        # A runtime that does not read its 202 (a full socket) must not hold the loop.
        lane.connection.set_deadline(time.monotonic() + HELD_ANSWER_SEND_S, self._wake[0])
        try:
            kept = self._send_held(lane)
        finally:
            lane.connection.set_deadline(None, self._wake[0])
        with self.cond:
            lane.busy = False
            if not kept and self._lane is lane:
                self._discard_lane()

    def _send_held(self, lane: _Lane) -> bool:
        """Send what `lane` holds (its owner's thread, the lane busy); False when the lane
        is over with it."""
        assert lane.held is not None
        response, keep_alive = lane.held
        lane.held = None
        try:
            lane.connection.send(response, keep_alive)
        except OSError:
            return False
        return keep_alive

    def _answer_on_lane(self, lane: _Lane, request: Request, pending: Pending | None = None) -> bool:
        """Any other request on the lane, answered as its thread would (the answer to
        `pending` is held: `send_held_answer`); False when the lane ends with it (a
        streamed answer goes back to a thread, which pumps it)."""
        if request.body_stream is not None:
            with self.cond:
                if self._lane is lane:
                    self._lane = None  # the thread owns it now: not closed, not discarded
            self._http.serve_from(lane.connection, request)
            return False
        unanswered = pending is not None and pending.outcome is None
        response = self.handle(request)
        keep_alive = (request.header("connection") or "").lower() != "close"
        if unanswered and pending is not None and pending.outcome is not None:
            lane.held = (response, keep_alive)
            return True
        lane.connection.send(response, keep_alive)
        return keep_alive

    def _leave_lane_for(self, request: Request) -> None:
        """A request on another connection while the owner's thread waits on the lane: the
        runtime talks on several connections, so the owner's wait is cut short and threads
        serve them all (call with `cond` held)."""
        lane = self._lane
        if lane is not None and lane.busy and request.connection is not lane.connection and not self.closed:
            self._woken = True
            try:
                os.write(self._wake[1], b"!")
            except BlockingIOError:
                pass  # a wake-up is waiting already

    def _discard_lane(self) -> None:
        """The lane is over (call with `cond` held): closed now when idle; when the owner's
        thread is in it, shut, so that it wakes, sees the end and lets it go."""
        lane = self._lane
        if lane is None:
            return
        if lane.busy:
            lane.connection.shutdown()
            return
        self._lane = None
        self._http.forget(lane.connection)

    # -- the runtime's side ------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path == "/2018-06-01/ping":  # the RIE keeps this undocumented probe
            return Response(200, b"pong")
        if self._more_routes is not None and not request.path.startswith(PREFIX):
            answer = self._more_routes(request)
            if answer is not None:
                return answer
        return route(request, self)

    def _note_poll(self) -> None:
        """A `/next` of this generation came (call with `cond` held)."""
        self.polls += 1
        self.last_poll = time.monotonic()
        if self._on_poll is not None:
            self._on_poll(self.generation)
        if not self.polled:
            self.polled = True
            self.cond.notify_all()

    def next_event(self, request: Request) -> Response:
        with self.cond:
            generation = self.generation
            self._note_poll()
            self._leave_lane_for(request)
            while True:
                if self.closed or generation != self.generation:
                    return error_response(500, errors.RUNTIME_RESET, "this runtime process was replaced; exit")
                while self._undelivered and self._undelivered[0].outcome is not None:
                    self._undelivered.popleft()  # answered before delivery (an init error)
                if self._undelivered:
                    if request.peer_closed():
                        return error_response(500, errors.RUNTIME_RESET, "client went away")
                    pending = self._undelivered.popleft()
                    pending.polls_at_delivery = self.polls
                    headers = pending.deliver()
                    if self._on_deliver is not None:
                        self._on_deliver(pending)
                    self.cond.notify_all()  # the emulator's clock now runs from here
                    return Response(200, pending.payload, headers)
                if self._hand_over and self._lane is None and request.connection is not None:
                    self._lane = _Lane(request.connection, generation, request)
                    return HANDED_OVER  # the owner's thread answers it (`answer_on_lane`)
                self.waiting += 1
                try:
                    self.cond.wait()
                finally:
                    self.waiting -= 1

    def post_result(self, request: Request, request_id: str, is_error: bool) -> Response:
        with self.cond:
            self._leave_lane_for(request)
            response = self._accept_result(request, request_id, is_error)
            self.stats["error" if is_error else "response"] += 1
            if response.status >= 300:
                self.stats["refused"] += 1
            pending = self.in_flight.get(request_id)
            stream = pending.outcome.stream if response is ACCEPTED and pending and pending.outcome else None
        if stream is not None and request.body_stream is not None:
            _pump(request, stream)  # outside the lock: it lasts as long as the runtime streams
        return response

    def _accept_result(self, request: Request, request_id: str, is_error: bool) -> Response:
        current = self.in_flight.get(request_id)
        if current is None or not current.delivered:
            answered = any(p.outcome is not None for p in self.in_flight.values())
            if request_id in self._answered or (current is None and answered and len(self.in_flight) == 1):
                return invalid_state(is_error)
            return error_response(400, errors.INVALID_REQUEST_ID, "Invalid request ID")
        if current.outcome is not None:
            return invalid_state(is_error)
        echoed = request.header("lambda-runtime-invocation-id")
        if echoed is not None and current.invocation_id is not None and echoed != current.invocation_id:
            return error_response(410, errors.INVALID_INVOCATION_ID, "Invocation ID is stale")
        mode = request.header("lambda-runtime-function-response-mode")
        size = request.oversize if request.oversize is not None else len(request.body)
        response = ACCEPTED
        if is_error:
            current.outcome = Outcome.error(*posted_error(request, request_id))
        elif request.body_stream is not None:  # streaming, chunked: handed on as it comes
            from openruntime.response_stream import ResponseStream

            current.outcome = Outcome.streamed(ResponseStream(request.header("content-type") or "application/octet-stream"))
        elif mode and mode != "streaming":
            current.outcome = Outcome.error(
                errors.error_body(errors.RUNTIME_INVALID_RESPONSE_MODE, f"Invalid response mode header value: {mode}"),
                errors.RUNTIME_INVALID_RESPONSE_MODE,
            )
            response = error_response(400, errors.INVALID_RESPONSE_MODE, f"invalid response mode {mode!r}")
        elif size > errors.MAX_RESPONSE_BYTES:
            current.outcome = Outcome.error(
                errors.error_body(errors.FUNCTION_RESPONSE_TOO_LARGE, errors.response_too_large_message(size)),
                errors.FUNCTION_RESPONSE_TOO_LARGE,
            )
            response = too_large()
        else:
            current.outcome = Outcome(request.body, request.header("content-type") or JSON)
        self.cond.notify_all()
        return response

    def restore_next(self, request: Request) -> Response:
        """SnapStart: the runtime's init is done and its before-snapshot hooks ran; the answer
        comes once the environment is restored (the emulator's `on_restore`: at once, timed;
        the proxy: when Lambda's own restore/next answers)."""
        if self._on_restore is not None:
            self._on_restore()
        return Response(200, b"", [("Content-Type", JSON)])

    def restore_error(self, request: Request) -> Response:
        """SnapStart: an after-restore hook failed; it answers the invocations waiting, as an
        init error does."""
        with self.cond:
            body, error_type = posted_error(request)
            self.init_error = Outcome.error(body, error_type or errors.RUNTIME_AFTER_RESTORE_ERROR)
            for pending in self.in_flight.values():
                if pending.outcome is None:
                    pending.outcome = self.init_error
            self.cond.notify_all()
        return ACCEPTED

    def post_init_error(self, request: Request) -> Response:
        with self.cond:
            if self.polled:
                return invalid_state()
            self.init_error = Outcome.error(*posted_error(request))
            for pending in self.in_flight.values():
                if pending.outcome is None:
                    pending.outcome = self.init_error  # the invocations that waited for this init
            self.cond.notify_all()
        return ACCEPTED


def _is_poll(request: Request) -> bool:
    return request.method == "GET" and request.path == PREFIX + "invocation/next"


def route(request: Request, handlers: RuntimeAPIServer) -> Response:
    """Dispatch one Runtime API request; anything else is a 404."""
    path = request.path
    if path.startswith(PREFIX):
        parts = path[len(PREFIX):].split("/")
        if parts == ["invocation", "next"] and request.method == "GET":
            return handlers.next_event(request)
        if parts == ["init", "error"] and request.method == "POST":
            return handlers.post_init_error(request)
        if parts == ["restore", "next"] and request.method == "GET":
            return handlers.restore_next(request)
        if parts == ["restore", "error"] and request.method == "POST":
            return handlers.restore_error(request)
        if len(parts) == 3 and parts[0] == "invocation" and request.method == "POST":
            if parts[2] in ("response", "error"):
                return handlers.post_result(request, parts[1], is_error=parts[2] == "error")
    return error_response(404, errors.NOT_FOUND, f"no route for {request.method} {path}")


def error_response(status: int, error_type: str, message: str) -> Response:
    return Response(status, errors.error_body(error_type, message), [("Content-Type", JSON)])


def invalid_state(is_error: bool = False) -> Response:
    """A second answer for an invocation (named as the RIE names it: the response or the
    error that came too late), or an init error after `/next`."""
    transition = "InvocationErrorResponse" if is_error else "InvocationResponse"
    return error_response(
        403, errors.INVALID_STATE_TRANSITION,
        f"State transition from RuntimeResponseSentState to {transition} failed for "
        "runtime. Error: State transition is not allowed",
    )


def too_large() -> Response:
    return error_response(
        413, errors.REQUEST_ENTITY_TOO_LARGE,
        f"Exceeded maximum allowed payload size ({errors.MAX_RESPONSE_BYTES} bytes).",
    )


def posted_error(request: Request, request_id: str | None = None) -> tuple[bytes, str]:
    """The error a runtime posted, and its type; Lambda builds one from the header when
    the body is empty."""
    header_type = request.header("lambda-runtime-function-error-type")
    body = request.body or errors.error_body(header_type or errors.RUNTIME_UNKNOWN, "", request_id)
    return body, errors.error_type_of(body, header_type)


def _streamed_response(method: str, target: str, headers: list[tuple[str, str]]) -> bool:
    """A runtime's /response in Lambda's streaming mode: its body is read as it arrives."""
    if method != "POST" or not target.endswith("/response"):
        return False
    return any(k.lower() == "lambda-runtime-function-response-mode" and v.strip().lower() == "streaming"
               for k, v in headers)


def _pump(request: Request, stream: ResponseStream) -> None:
    """The runtime's chunks into `stream`, then its end: clean, the error its trailers
    carry (`Lambda-Runtime-Function-Error-Type`/`-Body`, the body base64 JSON), or
    Runtime.TruncatedResponse when the body breaks off."""
    body = request.body_stream
    assert body is not None
    try:
        for chunk in body:
            if not stream.put(chunk):
                return  # nobody reads any more, or past the limit: the connection is dropped
    except (MalformedRequest, OSError) as exc:
        stream.finish(errors.RUNTIME_TRUNCATED_RESPONSE,
                      errors.error_body(errors.RUNTIME_TRUNCATED_RESPONSE, f"the response stream broke off: {exc}"))
        return
    trailers = {k.lower(): v for k, v in body.trailers}
    error_type = trailers.get("lambda-runtime-function-error-type")
    if error_type is None:
        stream.finish()
        return
    import base64
    import binascii

    encoded = trailers.get("lambda-runtime-function-error-body", "")
    try:
        error_body = base64.b64decode(encoded, validate=True) if encoded else None
    except (binascii.Error, ValueError):
        error_body = None
    stream.finish(error_type, error_body or errors.error_body(error_type, ""))
