"""The bootstrap's loop: upstream `/next` → middlewares → sub-runtime → middlewares → post.

Init starts the sub-runtime first (it boots while the middlewares are prepared), then
waits for its first `/next`, which is when Lambda considers a runtime initialised; an
init failure of any part is posted to `/runtime/init/error` and the bootstrap exits 1.
After that, every failure becomes an error post for the invocation at hand and the loop
goes on: a sub-runtime that crashes or overruns the deadline is killed and started again
(within a restart budget), a middleware that fails is reported by name.

Managed Instances mode (`AWS_LAMBDA_MAX_CONCURRENCY=N` in the environment, as Lambda sets
it): N pollers, each next → handle → post on its own upstream connection, so up to N
invocations flow through the pipeline at once; the runtime gets the same variable and
polls the proxy from its own workers. What differs, and why: a timed-out invocation is
answered as such, but the runtime is not killed (its other invocations are not to pay
for one), so a worker stuck past its deadline keeps its slot until it answers (late: a
403) or the runtime dies; a runtime that dies fails the invocations it held, and the
first poller to see it starts the next one.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal's C half: signal.py builds enums (~4 ms of the cold start)
import _thread
import gc
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FrameType

from openruntime import errors
from openruntime.config import Pipeline, max_concurrency
from openruntime.errors import FatalUpstreamError, InitFailure, MiddlewareFailure, RuntimeGone, ShutdownRequested
from openruntime.function_log import log
from openruntime.invocation import JSON, Invocation, Outcome
from openruntime.middleware.build import build_middleware
from openruntime.middleware.protocol import InvocationScope, Middleware
from openruntime.middleware.state import remove_state_root
from openruntime.orchestrator.chain import Chain, InvocationRun
from openruntime.orchestrator.invocation_log import write_invocation_log
from openruntime.orchestrator.launch import EarlyStart, RuntimeLaunch, plan_runtime
from openruntime.orchestrator.proxy import InitState, RuntimeAPIProxy
from openruntime.orchestrator.subruntime import ExitCallback, SubRuntime
from openruntime.processes import reap_orphans
from openruntime.runtime_api.client import RuntimeAPIClient

MAX_CONSECUTIVE_CRASHES = int(os.environ.get("OPENRUNTIME_MAX_RESTARTS", "5"))
# Lambda gives init 10 s; a runtime that has not asked for an event by then never will.
INIT_TIMEOUT_S = float(os.environ.get("OPENRUNTIME_INIT_TIMEOUT_S", "10"))


RuntimeFactory = Callable[[Sequence[str], Mapping[str, str], "str | None", ExitCallback], SubRuntime]


class Orchestrator:
    """One sandbox's bootstrap: `run` = `init`, then `serve_forever` (next → handle → post)
    until SIGTERM or a fatal upstream error, then `shutdown`.

    Its parts are values it is given: `upstream` (Lambda's Runtime API: the client, or an
    in-memory fake in the unit tests), `runtime_factory` (the runtime's process:
    SubRuntime, or a thread playing a runtime), `early` (a runtime started before this
    module was imported, on the cold path).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        upstream: RuntimeAPIClient,
        environ: Mapping[str, str] | None = None,
        runtime_override: Sequence[str] | None = None,
        early: EarlyStart | None = None,
        runtime_factory: RuntimeFactory = SubRuntime,
    ) -> None:
        self.pipeline = pipeline
        self.upstream = upstream
        self.environ = dict(os.environ if environ is None else environ)
        self.runtime_override = runtime_override
        self.grace_ms = pipeline.runtime.grace_ms
        self.early = early
        self.runtime_factory = runtime_factory
        self.concurrency = max_concurrency(self.environ)
        self.proxy = RuntimeAPIProxy(early.listener if early else None, one_at_a_time=self.concurrency == 1)
        self.runtime: SubRuntime | None = None
        self.middlewares: list[Middleware] = []
        self.chain = Chain([], self.grace_ms)
        self._crashes = 0
        self._restart_lock = _thread.allocate_lock()
        self._middlewares_ready = threading.Event()  # SnapStart's hooks wait for them

    # -- init -------------------------------------------------------------------------------

    def init(self) -> None:
        """Everything before the first upstream `/next`; raises InitFailure."""
        # Before serving: a runtime started early may already wait in the listen backlog,
        # and its first /next must belong to the current generation, not be reset by it.
        generation = self.proxy.new_generation()
        # SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start): the runtime's restore/next and
        # restore/error go to Lambda, on a connection of their own (a request thread asks).
        restore_client = self.upstream.another() if hasattr(self.upstream, "another") else self.upstream
        self.proxy.upstream_restore = lambda: self._snapshot(restore_client.restore_next)
        self.proxy.upstream_restore_error = lambda body, error_type: restore_client.post_restore_error(body, error_type)
        self.proxy.start()
        early = self.early
        if early is None:
            launch = plan_runtime(self.pipeline, self.environ, self.runtime_override)
            env = dict(launch.env)
            env["AWS_LAMBDA_RUNTIME_API"] = self.proxy.address
            launch = RuntimeLaunch(launch.command, env, launch.cwd)
        else:
            launch = early.launch  # already started, before this module was imported
        self.runtime = self.runtime_factory(launch.command, launch.env, launch.cwd, self._on_runtime_exit)
        try:
            if early is not None and early.error is not None:
                raise early.error
            # First: it boots while the middlewares are prepared.
            self.runtime.start(early.process if early else None, generation=generation)
        except OSError as exc:
            raise InitFailure(
                errors.RUNTIME_INVALID_ENTRYPOINT, f"cannot start runtime {launch.command[0]!r}: {exc}"
            ) from None
        self.middlewares = [build_middleware(m, self.pipeline, self.environ) for m in self.pipeline.middlewares]
        for middleware in self.middlewares:
            middleware.start()
        for middleware in self.middlewares:  # they all boot in parallel with the runtime
            try:
                middleware.await_ready()
            except MiddlewareFailure as failure:
                raise InitFailure(failure.error_type, failure.message) from None
        self.chain = Chain(self.middlewares, self.grace_ms)
        self._middlewares_ready.set()
        self._await_runtime_ready()

    def _await_runtime_ready(self) -> None:
        assert self.runtime is not None
        state, init_error = self.proxy.wait_ready(INIT_TIMEOUT_S)
        if state == InitState.READY:
            return
        prestarted = self.early.by_script if self.early is not None else None
        if state == InitState.EXITED and prestarted is not None and prestarted.refused_plan():
            # Started by /opt/bootstrap, it read the plan and could not become it, so it left
            # before any of the function ran: started again, the usual way, once. (Any other
            # exit is the function's init failing, which is reported, not run twice.)
            assert self.early is not None
            self.early.by_script = None
            self.runtime.start(generation=self.proxy.new_generation())
            self._await_runtime_ready()
            return
        if state == InitState.TIMED_OUT:
            self.runtime.kill()
            raise InitFailure(
                errors.RUNTIME_INIT_TIMEOUT,
                f"runtime {self.runtime.command[0]!r} did not ask for an event within "
                f"{INIT_TIMEOUT_S:g} s (it never polled /runtime/invocation/next)",
            )
        if state == InitState.INIT_ERROR:
            assert init_error is not None
            self.runtime.stop()
            # The runtime's own words in our line too (it posted them; the caller gets them whole).
            said = errors.error_message_of(init_error.body)
            raise InitFailure(init_error.error_type or errors.RUNTIME_UNKNOWN,
                              f"runtime init failed: {said[:500]}" if said else "runtime init failed", init_error.body)
        tail = self.runtime.stderr_tail()
        message = f"runtime {self.runtime.command[0]!r} exited before it asked for an event"
        raise InitFailure(errors.RUNTIME_EXIT_ERROR, f"{message}: {tail}" if tail else message)

    def _on_runtime_exit(self, runtime: SubRuntime, status: int, generation: int | None = None) -> None:
        """Called from the watcher thread when the sub-runtime dies on its own: it only tells
        the proxy, which is where the orchestrator learns of it (`proxy.runtime_gone`). The
        proxy ignores the exit of a process older than its current runtime: one that died
        as it was replaced must not mark its successor gone (the successor would be
        replaced while it lives on, and its own exit then goes unheard)."""
        tail = runtime.stderr_tail()
        current = self.proxy.current_request_id()
        message = errors.exit_error_message(current, status)
        if tail:
            message = f"{message}; stderr: {tail[-512:]}"
        body = errors.error_body(errors.RUNTIME_EXIT_ERROR, message, current, exitStatus=status, stderrTail=tail)
        self.proxy.runtime_exited(Outcome.error(body, errors.RUNTIME_EXIT_ERROR), generation)

    def _snapshot(self, restore: Callable[[], None]) -> None:
        """SnapStart, from the runtime's restore/next (on the proxy's thread): the
        middlewares' `before_snapshot` hooks, Lambda's snapshot and restore, then their
        `after_restore` hooks. A hook that fails is logged (a persistent middleware's process
        is replaced, so it reconnects anyway); the snapshot goes ahead."""
        self._middlewares_ready.wait(INIT_TIMEOUT_S)
        self._run_snapstart_hooks("before_snapshot")
        restore()
        self._run_snapstart_hooks("after_restore")

    def _run_snapstart_hooks(self, hook: str) -> None:
        import uuid

        deadline_ms = int(time.time() * 1000 + INIT_TIMEOUT_S * 1000)
        invocation = Invocation(f"snapstart-{uuid.uuid4()}", deadline_ms, "", None, None, JSON, b"{}")
        scope = InvocationScope()
        try:
            for middleware in self.middlewares:
                if not middleware.handles(hook):
                    continue
                try:
                    middleware.call(hook, b"{}", JSON, invocation, scope, middleware.config.timeout_ms / 1000)
                except MiddlewareFailure as failure:
                    log(f"SnapStart: {failure.message}", "WARN")
        finally:
            scope.close()

    def _ensure_runtime(self) -> None:
        """The one place a runtime is restarted: when the proxy says this generation's died
        (it alone hears of a death, from the watcher thread, under its lock). Not waited
        for: its init overlaps the wait for the next event (a sandbox frozen between
        invocations thaws with it), so a failed invocation's answer goes out without
        waiting for it, and Lambda's clock is not charged for it."""
        assert self.runtime is not None
        if not self.proxy.runtime_gone:
            return
        with self._restart_lock:  # concurrent pollers: the first one restarts it
            if not self.proxy.runtime_gone:
                return
            self._crashes += 1
            if self._crashes > MAX_CONSECUTIVE_CRASHES:
                raise FatalUpstreamError(
                    f"the runtime failed {self._crashes} times in a row; exiting so Lambda recycles the sandbox"
                )
            self.runtime.start(generation=self.proxy.new_generation())

    # -- invocations ----------------------------------------------------------------------------

    def serve_one(self, invocation: Invocation, upstream: RuntimeAPIClient | None = None) -> None:
        """One invocation through the pipeline, its answer posted upstream, then its log
        line and the runtime's 202 for its answer: the caller's answer goes out first."""
        invocation.answer_by_ms = invocation.deadline_ms - self.grace_ms
        run = InvocationRun(invocation)
        try:
            started = time.perf_counter()
            outcome = self.chain.run(run, lambda payload, ctype: self._call_runtime(invocation, payload, ctype))
            elapsed = time.perf_counter() - started
            if outcome.stream is not None:  # its line first: the stream's own line follows the post
                write_invocation_log(invocation, outcome, elapsed, run.timings)
            posting, posting_ns = time.perf_counter(), time.time_ns()
            posted = self.post(invocation, outcome, upstream)
            posting = time.perf_counter() - posting
            if outcome.stream is None:
                write_invocation_log(invocation, outcome, elapsed, run.timings)
            self.proxy.send_held_answer()
            if self.chain.observed:  # observers, off the caller's path: before the next /next
                run.scope.add_stage(None, "post", posting_ns, int(posting * 1e9))
                self.chain.done(run, posted)
        finally:
            run.close()  # the middlewares' state: after the answer, not before it

    def _call_runtime(self, invocation: Invocation, payload: bytes, content_type: str) -> Outcome:
        assert self.runtime is not None
        until = time.monotonic() + (invocation.remaining_ms() - self.grace_ms) / 1000
        outcome: Outcome | None = None
        while time.monotonic() < until:
            self._ensure_runtime()  # it died after its last answer, between two events, or just now
            # A restarted runtime's init runs within this invocation's time. One that fails
            # is this invocation's error (past the first init, Lambda takes no init error).
            state, init_error = self.proxy.wait_ready(max(until - time.monotonic(), 0))
            if state == InitState.EXITED:
                log("the restarted runtime exited before it asked for an event; starting it again", "WARN",
                    invocation.request_id)
                continue
            if state == InitState.INIT_ERROR:
                assert init_error is not None
                self.runtime.stop()
                self.proxy.runtime_exited(None)
                log(f"the restarted runtime failed to initialise: {init_error.error_type}", "ERROR",
                    invocation.request_id)
                return init_error
            if state == InitState.TIMED_OUT:
                break  # answered as the invocation's timeout, below
            pending = self.proxy.dispatch(invocation, payload, content_type)
            try:
                outcome = self.proxy.wait_outcome(pending, until, hold_answer=True)  # serve_one sends it
                break
            except RuntimeGone:
                continue  # it died before it took the event: nothing was lost, a new one takes it
        if outcome is not None:
            if not self.proxy.runtime_gone:
                self._crashes = 0
            return outcome
        # Deadline (less the grace period) reached: answer before Lambda kills the sandbox.
        if self.concurrency == 1:  # shared by other invocations, it is left running (module docstring)
            self.runtime.kill()
            self.proxy.runtime_exited(None)
        # Answered grace_ms early, but the message states the function's timeout, as Lambda's does.
        body = errors.error_body(
            errors.SANDBOX_TIMEDOUT, errors.timeout_message(invocation.request_id, invocation.timeout_s()),
            invocation.request_id,
        )
        return Outcome.error(body, errors.SANDBOX_TIMEDOUT)

    def post(self, invocation: Invocation, outcome: Outcome, upstream: RuntimeAPIClient | None = None) -> Outcome:
        """`outcome` upstream; returns what the caller got: Lambda's own error for a response
        it refused as too large, and for a stream, the error it ended with, if any."""
        upstream = upstream or self.upstream
        if outcome.stream is not None:
            status, body, posted = self._post_stream(invocation, outcome, upstream)
        else:
            (status, body), posted = upstream.post_outcome(invocation, outcome), outcome
        if status == 413 and not outcome.is_error:
            size = len(outcome.body)
            error = errors.error_body(
                errors.FUNCTION_RESPONSE_TOO_LARGE, errors.response_too_large_message(size), invocation.request_id
            )
            posted = Outcome.error(error, errors.FUNCTION_RESPONSE_TOO_LARGE)
            status, body = upstream.post_outcome(invocation, posted)
        if status not in (200, 202):
            log(f"the Runtime API refused the answer ({status}): {body[:300]!r}", "ERROR", invocation.request_id)
        return posted

    def _post_stream(
        self, invocation: Invocation, outcome: Outcome, upstream: RuntimeAPIClient
    ) -> tuple[int, bytes, Outcome]:
        """A streamed response upstream as the runtime writes it. One that runs past the
        deadline (less the grace period) is ended there with Sandbox.Timedout in its
        trailers, and the runtime replaced, as for a buffered answer."""
        from openruntime.response_stream import StreamTimeout

        stream = outcome.stream
        assert stream is not None and self.runtime is not None
        until = time.monotonic() + (invocation.remaining_ms() - self.grace_ms) / 1000
        ended: dict[str, str] = {}

        posted = outcome  # a stream that ended well; one that failed: its error, below

        def chunks() -> Iterator[bytes]:
            nonlocal posted
            try:
                yield from stream.chunks(until)
            except StreamTimeout:
                stream.abandon()
                body = errors.error_body(errors.SANDBOX_TIMEDOUT, errors.timeout_message(
                    invocation.request_id, invocation.timeout_s()), invocation.request_id)
                ended.update(_error_trailers(errors.SANDBOX_TIMEDOUT, body))
                posted = Outcome.error(body, errors.SANDBOX_TIMEDOUT)
                return
            if stream.error_type is not None:
                ended.update(_error_trailers(stream.error_type, stream.error_body or b""))
                posted = Outcome.error(stream.error_body or b"", stream.error_type)

        started = time.perf_counter()
        try:
            status, body = upstream.post_stream(invocation, stream.content_type, chunks(), lambda: ended)
            return status, body, posted
        finally:
            # The invocation's line was written as the stream started; this says how it ended.
            error_type = ended.get("Lambda-Runtime-Function-Error-Type")
            log(f"stream ended: {'error:' + error_type if error_type else 'success'}, {stream.size} bytes, "
                f"{(time.perf_counter() - started) * 1000:.2f} ms", "ERROR" if error_type else "INFO",
                invocation.request_id)
            if ended.get("Lambda-Runtime-Function-Error-Type") == errors.SANDBOX_TIMEDOUT and self.concurrency == 1:
                self.runtime.kill()
                self.proxy.runtime_exited(None)
            else:
                stream.abandon()  # what is left unread (an upstream that stopped reading)

    def serve_forever(self) -> None:
        if self.concurrency > 1:
            self._serve_concurrently()
            return
        while True:
            self._ensure_runtime()  # not waited for: /next goes out at once
            invocation = self.upstream.next_invocation()
            self.serve_one(invocation)
            reap_orphans()  # what a middleware or the handler left running and then exited

    def _serve_concurrently(self) -> None:
        """Managed Instances mode: `concurrency` pollers, each the classic loop on its own
        upstream connection. The first fatal error of any ends them all; signals reach this
        (the main) thread, which only waits."""
        stop = _thread.allocate_lock()
        stop.acquire()
        failures: list[BaseException] = []

        def poll(upstream: RuntimeAPIClient) -> None:
            try:
                while not failures:
                    self._ensure_runtime()
                    invocation = upstream.next_invocation()
                    self.serve_one(invocation, upstream)
                    reap_orphans()
            except BaseException as exc:  # noqa: BLE001 - any poller's end is everyone's
                failures.append(exc)
                if stop.locked():
                    stop.release()

        for number in range(self.concurrency):
            upstream = self.upstream if number == 0 else self.upstream.another()
            threading.Thread(target=poll, args=(upstream,), name=f"poller-{number}", daemon=True).start()
        while not stop.acquire(timeout=0.5):  # wakes for signals (ShutdownRequested) meanwhile
            pass
        failure = failures[0]
        if isinstance(failure, FatalUpstreamError):
            raise failure
        raise FatalUpstreamError(f"a poller failed: {failure!r}") from failure

    # -- whole life --------------------------------------------------------------------------------

    def run(self) -> int:
        previous = _install_signal_handlers()
        try:
            try:
                self.init()
            except InitFailure as failure:
                log(f"init failed: {failure.error_type}: {failure}", "ERROR")
                self.upstream.post_init_error(failure.body(), failure.error_type)
                return 1
            # What init made lives as long as the sandbox: out of the collector's sight, so
            # that the collections the invocations' garbage triggers walk only that garbage.
            gc.freeze()
            self.serve_forever()
            return 0  # not reached: serve_forever only leaves by an exception
        except ShutdownRequested:
            return 0
        except FatalUpstreamError as exc:
            log(f"fatal: {exc}", "FATAL")
            return 1
        finally:
            # A signal must not cut the cleanup short (that would leave the runtime and
            # middlewares behind): the handler raises once only, and one that lands here,
            # before the signals are ignored (the first, after a fatal error), starts the
            # cleanup again. Its steps do nothing the second time.
            while True:
                try:
                    for sig in (_signal.SIGTERM, _signal.SIGINT):
                        _signal.signal(sig, _signal.SIG_IGN)
                    self.shutdown()
                    break
                except ShutdownRequested:
                    continue
            _restore_signal_handlers(previous)

    def shutdown(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()
        for middleware in self.middlewares:
            middleware.stop()
        self.proxy.close()
        self.upstream.close()
        remove_state_root()


def _error_trailers(error_type: str, body: bytes) -> dict[str, str]:
    """Lambda's trailers for an error after the first streamed byte: the body base64 JSON."""
    import base64

    return {"Lambda-Runtime-Function-Error-Type": error_type,
            "Lambda-Runtime-Function-Error-Body": base64.b64encode(body).decode("ascii")}


_shutdown_raised = False


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    global _shutdown_raised
    if not _shutdown_raised:  # once: a second signal must not interrupt the cleanup
        _shutdown_raised = True
        raise ShutdownRequested(signum)


def _install_signal_handlers() -> dict[int, object]:
    global _shutdown_raised
    _shutdown_raised = False
    previous: dict[int, object] = {}
    for sig in (_signal.SIGTERM, _signal.SIGINT):
        previous[sig] = _signal.signal(sig, _raise_shutdown)
    return previous


def _restore_signal_handlers(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        _signal.signal(sig, handler)
