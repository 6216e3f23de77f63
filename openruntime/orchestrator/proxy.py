"""The loopback Runtime API that the sub-runtime polls (the "Runtime API proxy" pattern).

The orchestrator hands it one invocation at a time (`dispatch`) and waits for the
sub-runtime's answer (`wait_outcome`); in classic mode its own thread writes the event on
the runtime's waiting connection and reads the answer there (the server core's lane), so
an invocation crosses no thread. Everything the sub-runtime sees — Lambda's
answers, one event per `/next`, generations — is the Runtime API server core
(runtime_api/server.py), shared with the emulator; this module adds only the hand-over
of what Lambda sent: every `Lambda-Runtime-*` header passed through as it came.
"""

from __future__ import annotations

from openruntime.errors import RuntimeGone
from openruntime.invocation import Invocation, Outcome
from openruntime.runtime_api.http import Request, Response
from openruntime.runtime_api.server import InitState, Pending, RuntimeAPIServer, posted_error

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Callable

    from openruntime.runtime_api.netio import Socket

__all__ = ["InitState", "RuntimeAPIProxy", "RuntimeGone"]


class RuntimeAPIProxy(RuntimeAPIServer):
    """The Runtime API server the sub-runtime polls, fed by the orchestrator's loop."""

    def __init__(self, listener: Socket | None = None, one_at_a_time: bool = True) -> None:
        super().__init__(listener=listener, name="runtime-proxy", hand_over=one_at_a_time)

    # SnapStart: the orchestrator's upstream, set by the loop (its snapshot is Lambda's).
    upstream_restore: Callable[[], None] | None = None
    upstream_restore_error: Callable[[bytes, str], object] | None = None

    def restore_next(self, request: Request) -> Response:
        """The runtime is ready for the snapshot: so is the whole sandbox, orchestrator
        included; Lambda's restore/next answers once it is restored, and so does this."""
        if self.upstream_restore is not None:
            self.upstream_restore()
        return super().restore_next(request)

    def restore_error(self, request: Request) -> Response:
        if self.upstream_restore_error is not None:
            body, error_type = posted_error(request)
            self.upstream_restore_error(body, error_type)
        return super().restore_error(request)

    def dispatch(self, invocation: Invocation, payload: bytes, content_type: str) -> Pending:
        """`payload` (what the middlewares made of the event) goes to the next `/next`. The
        runtime's deadline is `answer_by_ms` (Lambda's less grace_ms): the orchestrator
        answers a timeout then, so that is when the handler's time ends."""
        if invocation.answer_by_ms != invocation.deadline_ms:
            deadline = str(invocation.answer_by_ms)
            headers = [(name, deadline) if name.lower() == "lambda-runtime-deadline-ms" else (name, value)
                       for name, value in invocation.runtime_headers]
        else:
            headers = list(invocation.runtime_headers)
        headers.append(("Content-Type", content_type))
        return Pending(invocation.request_id, payload, headers)

    def wait_outcome(self, pending: Pending, until_monotonic: float, hold_answer: bool = False) -> Outcome | None:
        """The sub-runtime's answer, or None when `until_monotonic` passed first; RuntimeGone
        when it died before it took the event (start another and dispatch again). With
        `hold_answer`, the runtime's 202 for its answer may wait for `send_held_answer`
        (the caller's answer first)."""
        lane = self.take_lane()
        if lane is not None and self.answer_on_lane(lane, pending, until_monotonic, hold_answer):
            self.finish(pending)
            return pending.outcome
        if not pending.delivered:
            self.offer(pending)
        with self.cond:
            try:
                return self.wait_answer(pending, lambda: until_monotonic)
            finally:
                self.finish(pending)
