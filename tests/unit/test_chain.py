"""The onion's bookkeeping (openruntime/chain.py), with in-process middlewares.

The same rules run over real processes in tests/e2e/test_middleware_modes.py; here each
rule is checked alone and fast, including the corners that are awkward to provoke there.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from openruntime.orchestrator.chain import DONE_RESERVE_MS, Chain, InvocationRun
from openruntime.config import MiddlewareConfig
from openruntime.invocation import Invocation, Outcome
from openruntime.errors import MiddlewareFailure
from openruntime.middleware.protocol import HookResult, InvocationScope

Behaviour = Callable[[bytes, InvocationScope], HookResult]


@dataclass
class Recorder:
    """Shared call log: `name.hook` in call order."""

    calls: list[str] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)


class FakeMiddleware:
    """Passes payloads through unless a behaviour is given for a hook."""

    def __init__(self, name: str, recorder: Recorder, hooks: tuple[str, ...] = ("before", "after", "error"),
                 on_error: str = "fail", timeout_ms: int = 10_000, **behaviours: Behaviour) -> None:
        self.config = MiddlewareConfig(name=name, hooks=hooks, on_error=on_error, timeout_ms=timeout_ms)
        self.recorder = recorder
        self.behaviours = behaviours

    def start(self) -> None: ...

    def await_ready(self) -> None: ...

    def stop(self) -> None: ...

    def handles(self, hook: str) -> bool:
        return hook in self.config.hooks

    def call(self, hook: str, payload: bytes, content_type: str, invocation: Invocation,
             scope: InvocationScope, timeout_s: float) -> HookResult:
        self.recorder.calls.append(f"{self.config.name}.{hook}")
        self.recorder.timeouts.append(timeout_s)
        behaviour = self.behaviours.get(hook)
        return behaviour(payload, scope) if behaviour else HookResult(payload, content_type)


def invocation(body: bytes = b'{"n":1}', remaining_ms: int = 60_000) -> Invocation:
    return Invocation("req-1", int(time.time() * 1000) + remaining_ms, "arn:fn", None, None,
                      "application/json", body)


def respond(body: bytes) -> Behaviour:
    return lambda payload, scope: HookResult(body, "application/json", respond=True)


def replace(body: bytes) -> Behaviour:
    return lambda payload, scope: HookResult(body, "application/json")


def fail(error_type: str = "Test.Failed") -> Behaviour:
    def behaviour(payload: bytes, scope: InvocationScope) -> HookResult:
        raise MiddlewareFailure(error_type, f"failed on purpose ({error_type})", "x", "?")
    return behaviour


def tag(label: str) -> Behaviour:
    def behaviour(payload: bytes, scope: InvocationScope) -> HookResult:
        data = json.loads(payload)
        data.setdefault("tags", []).append(label)
        return HookResult(json.dumps(data).encode(), "application/json")
    return behaviour


class Handler:
    def __init__(self, outcome: Outcome | None = None) -> None:
        self.seen: list[bytes] = []
        self.outcome = outcome

    def __call__(self, payload: bytes, content_type: str) -> Outcome:
        self.seen.append(payload)
        return self.outcome or Outcome(payload, content_type)


HANDLER_ERROR = Outcome.error(b'{"errorType":"ValueError","errorMessage":"boom"}', "ValueError")


def run(middlewares: list[FakeMiddleware], handler: Handler, body: bytes = b'{"n":1}',
        grace_ms: int = 0, remaining_ms: int = 60_000) -> tuple[Outcome, dict[str, float]]:
    run = InvocationRun(invocation(body, remaining_ms))
    try:
        outcome = Chain(middlewares, grace_ms).run(run, handler)
    finally:
        run.close()  # as the orchestrator does, once the answer is posted
    return outcome, run.timings


def test_onion_order_and_payload_flow() -> None:
    rec = Recorder()
    mws = [FakeMiddleware(n, rec, before=tag(f"{n}.before"), after=tag(f"{n}.after")) for n in "abc"]
    handler = Handler()
    outcome, timings = run(mws, handler)
    assert rec.calls == ["a.before", "b.before", "c.before", "c.after", "b.after", "a.after"]
    assert json.loads(handler.seen[0])["tags"] == ["a.before", "b.before", "c.before"]
    assert json.loads(outcome.body)["tags"][3:] == ["c.after", "b.after", "a.after"]
    assert set(timings) == {"a.before", "b.before", "c.before", "handler", "c.after", "b.after", "a.after"}


def test_short_circuit_skips_handler_own_after_and_inner_layers() -> None:
    rec = Recorder()
    mws = [FakeMiddleware("a", rec, after=tag("a.after")), FakeMiddleware("b", rec, before=respond(b'{"r":1}')),
           FakeMiddleware("c", rec)]
    handler = Handler()
    outcome, _ = run(mws, handler)
    assert handler.seen == []
    assert rec.calls == ["a.before", "b.before", "a.after"]
    assert json.loads(outcome.body) == {"r": 1, "tags": ["a.after"]} and not outcome.is_error


def test_error_hooks_in_onion_order_and_rewrites_keep_or_change_the_type() -> None:
    rec = Recorder()
    mws = [FakeMiddleware("a", rec), FakeMiddleware("b", rec, error=replace(b'{"errorType":"Rewritten","x":1}')),
           FakeMiddleware("c", rec, error=replace(b'{"errorMessage":"no type"}'))]
    outcome, _ = run(mws, Handler(HANDLER_ERROR))
    assert rec.calls == ["a.before", "b.before", "c.before", "c.error", "b.error", "a.error"]
    assert outcome.is_error and outcome.error_type == "Rewritten"
    assert json.loads(outcome.body) == {"errorType": "Rewritten", "x": 1}
    rec2 = Recorder()
    outcome, _ = run([FakeMiddleware("c", rec2, error=replace(b'{"errorMessage":"no type"}'))], Handler(HANDLER_ERROR))
    assert outcome.error_type == "ValueError"  # a body without errorType keeps the previous type


def test_an_error_that_stays_an_error_must_be_json_whatever_type_is_claimed() -> None:
    rec = Recorder()
    text_error = FakeMiddleware("b", rec, error=lambda payload, scope: HookResult(b"not json", "text/plain"))
    outcome, _ = run([FakeMiddleware("a", rec), text_error], Handler(HANDLER_ERROR))
    assert outcome.is_error and outcome.error_type == "Middleware.InvalidOutput"
    message = json.loads(outcome.body)["errorMessage"]
    assert "'b' hook 'error' gave a payload that is not JSON though its content type is application/json" in message
    # recovering with a text response is fine: it is no longer an error
    recovered = FakeMiddleware("b", rec, error=lambda payload, scope: HookResult(b"sorry", "text/plain", respond=True))
    outcome, _ = run([recovered], Handler(HANDLER_ERROR))
    assert not outcome.is_error and (outcome.body, outcome.content_type) == (b"sorry", "text/plain")


def test_recovery_in_error_gives_outer_layers_after() -> None:
    rec = Recorder()
    mws = [FakeMiddleware("a", rec, after=tag("a.after")), FakeMiddleware("b", rec, error=respond(b'{"ok":1}')),
           FakeMiddleware("c", rec)]
    outcome, _ = run(mws, Handler(HANDLER_ERROR))
    assert rec.calls == ["a.before", "b.before", "c.before", "c.error", "b.error", "a.after"]
    assert not outcome.is_error and json.loads(outcome.body) == {"ok": 1, "tags": ["a.after"]}


def test_failure_in_after_reaches_outer_error_hooks_not_its_own() -> None:
    rec = Recorder()
    mws = [FakeMiddleware("a", rec), FakeMiddleware("b", rec), FakeMiddleware("c", rec, after=fail())]
    outcome, _ = run(mws, Handler())
    assert rec.calls == ["a.before", "b.before", "c.before", "c.after", "b.error", "a.error"]
    assert outcome.is_error and outcome.error_type == "Test.Failed"
    assert json.loads(outcome.body)["requestId"] == "req-1"


def test_failure_in_before_skips_handler_and_unwinds_only_outer_layers() -> None:
    rec = Recorder()
    handler = Handler()
    mws = [FakeMiddleware("a", rec), FakeMiddleware("b", rec, before=fail()), FakeMiddleware("c", rec)]
    outcome, _ = run(mws, handler)
    assert handler.seen == [] and rec.calls == ["a.before", "b.before", "a.error"]
    assert outcome.error_type == "Test.Failed"


def test_skip_in_before_continues_with_the_same_payload_and_leaves_it_out() -> None:
    rec = Recorder()
    handler = Handler()
    mws = [FakeMiddleware("a", rec), FakeMiddleware("b", rec, on_error="skip", before=fail()),
           FakeMiddleware("c", rec)]
    outcome, _ = run(mws, handler, body=b'{"kept":1}')
    assert handler.seen == [b'{"kept":1}']
    assert rec.calls == ["a.before", "b.before", "c.before", "c.after", "a.after"]
    assert not outcome.is_error


def test_skip_in_after_and_error_keeps_the_outcome() -> None:
    rec = Recorder()
    mws = [FakeMiddleware("a", rec), FakeMiddleware("b", rec, on_error="skip", after=fail(), error=fail())]
    outcome, _ = run(mws, Handler())
    assert not outcome.is_error and outcome.body == b'{"n":1}'
    outcome, _ = run(mws, Handler(HANDLER_ERROR))
    assert outcome.error_type == "ValueError" and outcome.body == HANDLER_ERROR.body


def test_hooks_not_configured_are_not_called() -> None:
    rec = Recorder()
    mws = [FakeMiddleware("a", rec, hooks=("after",)), FakeMiddleware("b", rec, hooks=("before",)),
           FakeMiddleware("c", rec, hooks=("error",))]
    run(mws, Handler())
    run(mws, Handler(HANDLER_ERROR))
    assert rec.calls == ["b.before", "a.after", "b.before", "c.error"]


def test_a_layer_without_before_is_still_unwound_after_a_short_circuit_inside_it() -> None:
    rec = Recorder()
    mws = [FakeMiddleware("a", rec, hooks=("after",)), FakeMiddleware("b", rec, before=respond(b"{}"))]
    run(mws, Handler())
    assert rec.calls == ["b.before", "a.after"]


def test_invalid_json_output_is_invalid_output() -> None:
    rec = Recorder()
    outcome, _ = run([FakeMiddleware("a", rec, after=replace(b"not json"))], Handler())
    error = json.loads(outcome.body)
    assert error["errorType"] == "Middleware.InvalidOutput" and "'a'" in error["errorMessage"]


def test_unexpected_runner_exception_fails_the_invocation_not_the_orchestrator() -> None:
    def explode(payload: bytes, scope: InvocationScope) -> HookResult:
        raise RuntimeError("runner bug")
    outcome, _ = run([FakeMiddleware("a", Recorder(), before=explode)], Handler())
    error = json.loads(outcome.body)
    assert error["errorType"] == "Middleware.Failed" and "RuntimeError: runner bug" in error["errorMessage"]


def test_hook_timeout_is_capped_by_the_time_left_before_the_grace_period() -> None:
    rec = Recorder()
    run([FakeMiddleware("a", rec, timeout_ms=10_000)], Handler(), grace_ms=200, remaining_ms=1_200)
    assert all(0.9 <= t <= 1.0 for t in rec.timeouts), rec.timeouts
    rec = Recorder()
    run([FakeMiddleware("a", rec, timeout_ms=300)], Handler())
    assert rec.timeouts == [0.3, 0.3]
    rec = Recorder()
    run([FakeMiddleware("a", rec)], Handler(), grace_ms=200, remaining_ms=100)
    assert rec.timeouts[0] == pytest.approx(0.001)  # no time left: the shortest timeout, never 0 or less


def test_state_files_and_values_are_scoped_to_the_invocation() -> None:
    seen: list[str] = []

    def remember(payload: bytes, scope: InvocationScope) -> HookResult:
        path = scope.state_file("a")
        assert os.path.exists(path) and os.path.getsize(path) == 0  # exists, empty, at before
        seen.append(path)
        scope.values["a"] = {"x": 1}
        return HookResult(payload, "application/json")

    def check(payload: bytes, scope: InvocationScope) -> HookResult:
        assert scope.state_file("a") == seen[-1] and scope.values["a"] == {"x": 1}
        return HookResult(payload, "application/json")

    mws = [FakeMiddleware("a", Recorder(), before=remember, after=check)]
    run(mws, Handler())
    run(mws, Handler())
    assert len(set(seen)) == 2 and not any(os.path.exists(p) for p in seen)


class Seen:
    """A `done` behaviour that keeps what it was given: (outcome kind, payload)."""

    def __init__(self) -> None:
        self.got: list[tuple[str | None, bytes]] = []

    def __call__(self, payload: bytes, scope: InvocationScope) -> HookResult:
        self.got.append((scope.outcome, payload))
        return HookResult(b'{"ignored":true}', "application/json", respond=True)


def run_and_post(middlewares: list[FakeMiddleware], handler: Handler, grace_ms: int = 0,
                 remaining_ms: int = 60_000, post: Callable[[Outcome], Outcome] = lambda outcome: outcome) -> Outcome:
    """One invocation as the loop serves it: the chain, the post (`post`: what the caller
    got, here without a network), `done`."""
    run = InvocationRun(invocation(b'{"n":1}', remaining_ms))
    chain = Chain(middlewares, grace_ms)
    try:
        posted = post(chain.run(run, handler))
        chain.done(run, posted)
    finally:
        run.close()
    return posted


def test_done_hooks_come_last_in_pipeline_order_and_change_nothing() -> None:
    rec = Recorder()
    seen_a, seen_c = Seen(), Seen()
    mws = [FakeMiddleware("a", rec, hooks=("before", "after", "done"), after=tag("a.after"), done=seen_a),
           FakeMiddleware("b", rec, after=tag("b.after")),
           FakeMiddleware("c", rec, hooks=("done",), done=seen_c)]
    posted = run_and_post(mws, Handler())
    assert rec.calls == ["a.before", "b.before", "b.after", "a.after", "a.done", "c.done"]
    assert json.loads(posted.body)["tags"] == ["b.after", "a.after"]  # the done answers changed nothing
    # Each sees what its after would have seen at its place: `c`, innermost, the handler's answer.
    assert seen_a.got == [("response", json.dumps({"n": 1, "tags": ["b.after"]}).encode())]
    assert seen_c.got == [("response", b'{"n":1}')]


def test_a_done_hook_below_an_error_mapper_sees_the_failure_and_above_it_the_mapped_answer() -> None:
    rec = Recorder()
    outer, inner = Seen(), Seen()
    mws = [FakeMiddleware("outer", rec, hooks=("done",), done=outer),
           FakeMiddleware("http", rec, error=respond(b'{"statusCode":500}')),
           FakeMiddleware("inner", rec, hooks=("done",), done=inner)]
    posted = run_and_post(mws, Handler(HANDLER_ERROR))
    assert not posted.is_error and posted.body == b'{"statusCode":500}'
    assert outer.got == [("response", b'{"statusCode":500}')]
    assert inner.got == [("error", HANDLER_ERROR.body)]


def test_done_runs_for_layers_never_reached_but_not_for_one_left_out_under_skip() -> None:
    rec = Recorder()
    below, skipped = Seen(), Seen()
    mws = [FakeMiddleware("skipped", rec, hooks=("before", "done"), on_error="skip", before=fail(), done=skipped),
           FakeMiddleware("gate", rec, before=respond(b'{"denied":true}')),
           FakeMiddleware("below", rec, hooks=("before", "done"), done=below)]
    run_and_post(mws, Handler())
    assert skipped.got == []  # as for after/error: it is left out of the rest of the invocation
    assert below.got == [("response", b'{"denied":true}')]  # never entered: it sees what was posted


def test_a_failing_done_hook_is_logged_and_the_next_one_still_runs(capfd: pytest.CaptureFixture[str]) -> None:
    rec = Recorder()
    last = Seen()
    mws = [FakeMiddleware("broken", rec, hooks=("done",), done=fail("Middleware.Timeout")),
           FakeMiddleware("last", rec, hooks=("done",), done=last)]
    posted = run_and_post(mws, Handler())
    assert posted.body == b'{"n":1}' and not posted.is_error
    assert last.got == [("response", b'{"n":1}')]
    err = capfd.readouterr().err
    assert "Middleware.Timeout" in err and "the answer was already posted" in err
    assert "middleware 'broken' hook 'done' failed: Middleware.Timeout" in err  # whose failure it was


def test_done_hooks_get_time_up_to_just_before_the_deadline_not_the_grace_period() -> None:
    rec = Recorder()
    deadlines: list[int] = []

    def note_deadline(payload: bytes, scope: InvocationScope) -> HookResult:
        return HookResult(payload, "application/json")

    class Noting(FakeMiddleware):
        def call(self, hook: str, payload: bytes, content_type: str, invocation: Invocation,
                 scope: InvocationScope, timeout_s: float) -> HookResult:
            deadlines.append(invocation.answer_by_ms)  # what its context says (deadline_ms)
            return super().call(hook, payload, content_type, invocation, scope, timeout_s)

    mws = [Noting("a", rec, hooks=("before", "done"), timeout_ms=60_000, done=note_deadline)]
    run = InvocationRun(invocation(b'{"n":1}', 10_000))
    lambda_deadline = run.invocation.deadline_ms
    run.invocation.answer_by_ms = lambda_deadline - 2_000  # as the loop sets it: the grace period
    chain = Chain(mws, 2_000)
    chain.done(run, chain.run(run, Handler()))
    run.close()
    before_s, done_s = rec.timeouts
    assert 7.5 < before_s <= 8.0  # the deadline less the grace period
    assert 9.5 < done_s <= 10.0 - DONE_RESERVE_MS / 1000  # the answer is out: up to just before the deadline
    # Each hook's context says when its own time ends.
    assert deadlines == [lambda_deadline - 2_000, lambda_deadline - DONE_RESERVE_MS]


def test_a_done_hook_with_no_time_left_is_skipped_and_said(capfd: pytest.CaptureFixture[str]) -> None:
    rec = Recorder()
    mws = [FakeMiddleware("late", rec, hooks=("done",))]
    run_and_post(mws, Handler(), remaining_ms=5)  # less than the reserve for the next /next
    assert rec.calls == []
    assert "hook 'done' skipped: no time left" in capfd.readouterr().err


def test_a_done_hook_failing_in_an_unexpected_way_is_logged_and_the_next_one_runs(
        capfd: pytest.CaptureFixture[str]) -> None:
    def deep(payload: bytes, scope: InvocationScope) -> HookResult:
        raise RecursionError("maximum recursion depth exceeded")

    rec = Recorder()
    last = Seen()
    mws = [FakeMiddleware("odd", rec, hooks=("done",), done=deep), FakeMiddleware("last", rec, hooks=("done",), done=last)]
    run_and_post(mws, Handler())  # it returns: the orchestrator's loop goes on
    assert last.got == [("response", b'{"n":1}')]
    assert "hook 'done' failed in the orchestrator: RecursionError" in capfd.readouterr().err


def test_a_done_hook_sees_how_a_stream_ended_and_with_buffer_what_its_after_saw() -> None:
    from openruntime.response_stream import ResponseStream

    rec = Recorder()
    passed, buffered = Seen(), Seen()
    mws = [FakeMiddleware("passed", rec, hooks=("after", "error", "done"), done=passed),
           FakeMiddleware("buffered", rec, hooks=("after", "error", "done"), done=buffered)]
    mws[1].config = mws[1].config.replace(on_stream="buffer")
    stream = ResponseStream("text/plain")
    stream.put(b"partial")
    stream.finish("Function.Crashed", b'{"errorType":"Function.Crashed"}')
    failed = Outcome.error(b'{"errorType":"Function.Crashed"}', "Function.Crashed")
    run_and_post(mws, Handler(Outcome.streamed(stream)), post=lambda outcome: failed)
    # The buffering layer saw the collected error; the one outside it, what was posted.
    assert buffered.got == [("error", b'{"errorType":"Function.Crashed"}')]
    assert passed.got == [("error", failed.body)]
    good = ResponseStream("text/plain")
    good.put(b"all of it")
    good.finish()
    seen = Seen()
    run_and_post([FakeMiddleware("o", Recorder(), hooks=("done",), done=seen)], Handler(Outcome.streamed(good)))
    assert seen.got == [("stream", b"")]  # a stream that ended well: no payload, its bytes are gone
    broken = ResponseStream("text/plain")
    broken.finish("Sandbox.Timedout", b"{}")
    timed_out = Outcome.error(b'{"errorType":"Sandbox.Timedout"}', "Sandbox.Timedout")
    seen_error = Seen()
    run_and_post([FakeMiddleware("o", Recorder(), hooks=("done",), done=seen_error)],
                 Handler(Outcome.streamed(broken)), post=lambda outcome: timed_out)
    assert seen_error.got == [("error", timed_out.body)]  # on_stream: pass, and the stream failed


def test_received_gets_the_event_as_lambda_delivered_it_just_before_its_done() -> None:
    rec = Recorder()
    got: list[tuple[str, str | None, bytes]] = []

    def keep(hook: str) -> Behaviour:
        def behaviour(payload: bytes, scope: InvocationScope) -> HookResult:
            got.append((hook, scope.outcome, payload))
            return HookResult(b"ignored", "application/json", respond=True)
        return behaviour

    mws = [FakeMiddleware("watch", rec, hooks=("received", "done"), received=keep("received"), done=keep("done")),
           FakeMiddleware("changer", rec, hooks=("before",), before=replace(b'{"changed":true}')),
           FakeMiddleware("last", rec, hooks=("done",))]
    posted = run_and_post(mws, Handler())
    assert posted.body == b'{"changed":true}'  # their answers changed nothing
    assert rec.calls == ["changer.before", "watch.received", "watch.done", "last.done"]
    # The event as Lambda delivered it, not as `changer` made it; no outcome in `received`.
    assert got == [("received", None, b'{"n":1}'), ("done", "response", b'{"changed":true}')]
