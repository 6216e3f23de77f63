"""The onion: `before` hooks in order, the handler, then `after`/`error` hooks in reverse.

Only the layers that were entered are unwound: when middleware i short-circuits or
fails in `before`, the handler is skipped and only middlewares 0..i-1 see `after`/`error`.
An `error` hook that answers `respond` recovers the invocation; the layers further out
then see `after`, since what they get is a response again. A middleware whose `before`
failed under `on_error: skip` is left out of the rest of the invocation (no `after`/`error`
for it), as if it were not in the pipeline.

A streamed response (the handler posted it in Lambda's streaming mode) goes on as a
stream: an `after` or `error` hook is not called for it, unless its entry says
`on_stream: buffer`; then the stream is collected (Lambda's 6 MB buffered limit) and the
hook gets it whole, and what goes upstream is a buffered response. Either is said once
in the log, per middleware, so that a stream never turns buffered unannounced.

`done` hooks come after all that, once the answer is posted (`Chain.done`, called by the
loop), so the caller never waits for them: observers (metrics, traces). Each gets what its
`after`/`error` would have got at its place in the onion (a middleware below `http` sees the
handler's failure, not http's 500); one the invocation never reached, what was posted.
An observer that needs the event lists `received`: it gets the event as Lambda delivered
it, then too, just before its `done` (a trace's parent and trigger, with no hop before the
answer).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from openruntime import errors
from openruntime.config import OBSERVER_HOOKS
from openruntime.errors import MiddlewareFailure, error_type_of
from openruntime.function_log import log
from openruntime.invocation import JSON, Invocation, Outcome
from openruntime.middleware.protocol import HookResult, InvocationScope, Middleware, check_output, credentials_hint

HandlerCall = Callable[[bytes, str], Outcome]
# `done` hooks end this long before Lambda's deadline: the orchestrator's next /next must
# come before it, or Lambda counts the invocation as timed out and resets the sandbox.
DONE_RESERVE_MS = 50


class InvocationRun:
    """One invocation's way through the chain: the invocation, the state its middlewares
    keep across hooks (`scope`), and where its time went (`timings`: stage → seconds,
    for the invocation's log line)."""

    __slots__ = ("invocation", "scope", "timings", "left_out", "unwound")

    def __init__(self, invocation: Invocation) -> None:
        self.invocation = invocation
        self.scope = InvocationScope()
        self.timings: dict[str, float] = {}
        self.left_out: set[str] = set()  # skipped after a failure (on_error: skip): no `done` either
        self.unwound: dict[str, Outcome] = {}  # what reached each `done` middleware's layer, unwinding

    def close(self) -> None:
        """The invocation is over: its state goes. Its owner calls this once the answer is
        upstream (the files' unlink and create are then off the caller's path)."""
        self.scope.close()


class Chain:
    """The pipeline's middlewares around a handler call (see the module docstring); one
    `run` per invocation, no state of its own between them."""

    def __init__(self, middlewares: Sequence[Middleware], grace_ms: int = 0) -> None:
        self.middlewares = list(middlewares)
        self.grace_ms = grace_ms
        # Any observer at all (`received`, `done`): else the loop skips timing the post for them.
        self.observed = any(hook in middleware.config.hooks for middleware in self.middlewares
                            for hook in OBSERVER_HOOKS)

    def run(self, run: InvocationRun, call_handler: HandlerCall) -> Outcome:
        """The invocation's outcome; `run.close()` is the caller's, after it is posted."""
        invocation = run.invocation
        payload, content_type = invocation.body, invocation.content_type
        outcome: Outcome | None = None
        entered: list[Middleware] = []  # the layers to unwind, outermost first
        for middleware in self.middlewares:
            if not middleware.handles("before"):
                entered.append(middleware)
                continue
            try:
                result = self._call(middleware, "before", payload, content_type, run)
            except MiddlewareFailure as failure:
                if middleware.config.on_error == "skip":
                    _log_skip(invocation, failure)
                    run.left_out.add(middleware.config.name)
                    continue
                outcome = Outcome.error(failure.body(invocation.request_id), failure.error_type)
                break
            if result.respond:
                outcome = Outcome(result.payload, result.content_type)
                break
            entered.append(middleware)
            payload, content_type = result.payload, result.content_type
        if outcome is None:
            started, started_ns = time.perf_counter(), time.time_ns()
            outcome = call_handler(payload, content_type)
            run.timings["handler"] = elapsed = time.perf_counter() - started
            run.scope.add_stage(None, "handler", started_ns, int(elapsed * 1e9))
        return self._unwind(entered, outcome, run)

    def _unwind(self, layers: Sequence[Middleware], outcome: Outcome, run: InvocationRun) -> Outcome:
        invocation = run.invocation
        for middleware in reversed(layers):
            self._note_unwound(run, middleware, outcome)
            hook = "error" if outcome.is_error else "after"
            if not middleware.handles(hook):
                continue
            if outcome.stream is not None:
                if middleware.config.on_stream != "buffer":
                    _say_once(middleware, "pass", f"middleware '{middleware.config.name}': its after/error hooks "
                              "are not called for streamed responses (on_stream: pass); the stream goes on untouched")
                    continue
                _say_once(middleware, "buffer", f"middleware '{middleware.config.name}' (on_stream: buffer): "
                          "streamed responses are collected, up to 6 MB, and posted buffered")
                outcome = self._collect(outcome, run)
                self._note_unwound(run, middleware, outcome)  # what its after/error gets: the collected answer
                hook = "error" if outcome.is_error else "after"
            content_type = JSON if outcome.is_error else outcome.content_type
            try:
                result = self._call(middleware, hook, outcome.body, content_type, run)
            except MiddlewareFailure as failure:
                if middleware.config.on_error == "skip":
                    _log_skip(invocation, failure)
                    continue
                outcome = Outcome.error(failure.body(invocation.request_id), failure.error_type)
                continue
            if outcome.is_error and not result.respond:
                outcome = Outcome.error(result.payload, error_type_of(result.payload, outcome.error_type))
            else:
                outcome = Outcome(result.payload, result.content_type)
        return outcome

    def done(self, run: InvocationRun, posted: Outcome) -> None:
        """The observers' hooks once `posted` (what the caller got) is upstream, in pipeline
        order, for each middleware its `received` (the event as Lambda delivered it) and
        then its `done` (see the module docstring). They change nothing but the
        middleware's own state, and a failure is only logged. Their time ends
        DONE_RESERVE_MS before Lambda's deadline (not at the grace period: the answer is
        out), so that the next /next still comes within it."""
        invocation, scope = run.invocation, run.scope
        # Every hook call's context says when its time ends: for these, this.
        invocation.answer_by_ms = invocation.deadline_ms - DONE_RESERVE_MS
        for middleware in self.middlewares:
            if middleware.config.name in run.left_out:
                continue
            if middleware.handles("received"):
                scope.outcome = None
                self._observe(middleware, "received", invocation.body, invocation.content_type, run)
            if not middleware.handles("done"):
                continue
            outcome = run.unwound.get(middleware.config.name, posted)
            if outcome.stream is not None:  # a stream passed it: how it ended is known now
                outcome = posted
            if outcome.stream is not None:
                scope.outcome, payload, content_type = "stream", b"", outcome.content_type
            elif outcome.is_error:
                scope.outcome, payload, content_type = "error", outcome.body, JSON
            else:
                scope.outcome, payload, content_type = "response", outcome.body, outcome.content_type
            self._observe(middleware, "done", payload, content_type, run)

    def _note_unwound(self, run: InvocationRun, middleware: Middleware, outcome: Outcome) -> None:
        """What reached `middleware`'s layer, unwinding: what its `done` hook will get."""
        if self.observed and middleware.handles("done"):
            run.unwound[middleware.config.name] = outcome

    @staticmethod
    def _observe(middleware: Middleware, hook: str, payload: bytes, content_type: str, run: InvocationRun) -> None:
        """One observer's hook call: within the time left, its answer unused, its failure logged."""
        invocation, name = run.invocation, middleware.config.name
        left_s = (invocation.answer_by_ms - time.time() * 1000) / 1000
        if left_s <= 0:
            log(f"middleware '{name}' hook '{hook}' skipped: no time left before the function's timeout",
                "WARN", invocation.request_id)
            return
        started, started_ns = time.perf_counter(), time.time_ns()
        try:
            middleware.call(hook, payload, content_type, invocation, run.scope,
                            min(middleware.config.timeout_ms / 1000, left_s))
        except MiddlewareFailure as failure:
            said = failure.message
            if not said.startswith(f"middleware '{name}'"):  # its own error object: say whose
                said = f"middleware '{name}' hook '{hook}' failed: {failure.error_type}: {said}"
            log(f"{said} (the answer was already posted)", "WARN", invocation.request_id)
        except Exception as exc:  # noqa: BLE001 - a runner bug must not end the orchestrator's loop
            log(f"middleware '{name}' hook '{hook}' failed in the orchestrator: {type(exc).__name__}: {exc}",
                "ERROR", invocation.request_id)
        finally:
            run.scope.add_stage(name, hook, started_ns, int((time.perf_counter() - started) * 1e9))

    def _call(self, middleware: Middleware, hook: str, payload: bytes, content_type: str, run: InvocationRun) -> HookResult:
        invocation = run.invocation
        name = middleware.config.name
        # A hook never gets more time than the invocation has left before the grace period.
        remaining_s = (invocation.remaining_ms() - self.grace_ms) / 1000
        timeout_s = min(middleware.config.timeout_ms / 1000, max(remaining_s, 0.001))
        started, started_ns = time.perf_counter(), time.time_ns()
        try:
            result = middleware.call(hook, payload, content_type, invocation, run.scope, timeout_s)
            # What comes back unchanged needs no second parse: comparing 6 MB costs well under
            # a millisecond, parsing 6 MB of JSON 10-300 ms (docs/benchmarks.md).
            if result.content_type != content_type or result.payload != payload:
                # An error that stays an error is posted as Lambda's error JSON, whatever
                # content type the middleware claimed for it.
                stays_error = hook == "error" and not result.respond
                check_output(result.payload, content_type if stays_error else result.content_type, name, hook)
        except MiddlewareFailure as failure:
            hint = credentials_hint(middleware.config, failure)
            if hint is not None:
                log(hint, "WARN", invocation.request_id)
            raise
        except Exception as exc:  # noqa: BLE001 - a runner bug must fail this invocation, not the orchestrator
            import traceback  # only for a bug in a runner: not on the cold path

            traceback.print_exc()
            raise MiddlewareFailure(
                errors.MIDDLEWARE_FAILED, f"middleware '{name}' hook '{hook}' failed in the orchestrator: "
                f"{type(exc).__name__}: {exc}", name, hook,
            ) from None
        finally:
            run.timings[f"{name}.{hook}"] = elapsed = time.perf_counter() - started
            run.scope.add_stage(name, hook, started_ns, int(elapsed * 1e9))
        return result


    def _collect(self, outcome: Outcome, run: InvocationRun) -> Outcome:
        """A streamed outcome, buffered: Lambda's 6 MB limit, within the invocation's time."""
        stream = outcome.stream
        assert stream is not None
        until = time.monotonic() + (run.invocation.remaining_ms() - self.grace_ms) / 1000
        started = time.perf_counter()
        try:
            collected = stream.collect(until, run.invocation.request_id)
        finally:
            run.timings["stream"] = time.perf_counter() - started  # the handler streaming, collected
        if collected is None:  # still streaming at the deadline (less the grace period)
            body = errors.error_body(errors.SANDBOX_TIMEDOUT, errors.timeout_message(
                run.invocation.request_id, run.invocation.timeout_s()), run.invocation.request_id)
            return Outcome.error(body, errors.SANDBOX_TIMEDOUT)
        return collected


_said: set[tuple[str, str]] = set()


def _say_once(middleware: Middleware, what: str, message: str) -> None:
    key = (middleware.config.name, what)
    if key not in _said:
        _said.add(key)
        log(message, "INFO")


def _log_skip(invocation: Invocation, failure: MiddlewareFailure) -> None:
    log(f"on_error=skip: {failure.message}; continuing without it", "WARN", invocation.request_id)
