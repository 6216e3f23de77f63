"""The orchestrator's loop with fakes for what is not ours to run here: Lambda (an
in-memory upstream) and the language runtime (a thread that polls the real proxy over
its loopback socket, as a runtime client does). No process is started.

What these pin down: a runtime that dies before it takes the event costs no invocation
(it goes to the next runtime); one that dies holding it fails that invocation only; the
restart budget; the timeout answered before Lambda's deadline; the 413 fallback.
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from openruntime import errors
from openruntime.config import pipeline_from_env
from openruntime.errors import FatalUpstreamError
from openruntime.invocation import JSON, Invocation, Outcome
from openruntime.orchestrator import loop
from openruntime.orchestrator.loop import Orchestrator


class MemoryUpstream:
    """Lambda's Runtime API, in memory: the test queues invocations; `next_invocation` on an
    empty queue is Lambda's Runtime API going away (FatalUpstreamError), which ends `run`."""

    def __init__(self, *bodies: bytes, deadline_s: float = 30.0, post_statuses: Sequence[int] = ()) -> None:
        self.queue: queue.Queue[Invocation] = queue.Queue()
        for number, body in enumerate(bodies):
            self.queue.put(invocation(f"req-{number}", body, deadline_s))
        self.posted: list[tuple[str, Outcome]] = []
        self.init_errors: list[tuple[str, bytes]] = []
        self._statuses = list(post_statuses)

    def connect(self) -> None:
        pass

    def close(self) -> None:
        pass

    def next_invocation(self) -> Invocation:
        try:
            return self.queue.get_nowait()
        except queue.Empty:
            raise FatalUpstreamError("no more invocations (the test's end)") from None

    def post_outcome(self, invocation: Invocation, outcome: Outcome) -> tuple[int, bytes]:
        self.posted.append((invocation.request_id, outcome))
        status = self._statuses.pop(0) if self._statuses else 202
        return status, b"{}"

    def post_init_error(self, body: bytes, error_type: str) -> int:
        self.init_errors.append((error_type, body))
        return 202

    def answers(self) -> list[tuple[str, str]]:
        """(request id, the body's text or the error type) for each post, in order."""
        return [(rid, f"error:{o.error_type}" if o.is_error else o.body.decode()) for rid, o in self.posted]


def invocation(request_id: str, body: bytes, deadline_s: float) -> Invocation:
    deadline_ms = int(time.time() * 1000 + deadline_s * 1000)
    headers = [("Lambda-Runtime-Aws-Request-Id", request_id), ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
               ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:1:function:f")]
    return Invocation(request_id, deadline_ms, "arn:aws:lambda:us-east-1:1:function:f", None, None, JSON, body,
                      headers)


class ThreadRuntime:
    """A runtime played by a thread: it polls `/next` on the proxy's real socket and, for
    each event, does what the next step of the shared `script` says:

    - "echo": post the event back as the response;
    - "exit-before-taking": exit (as a process would) once the event is waiting, without
      taking it;
    - "exit-holding": take the event, then exit without answering;
    - "hang": take the event and never answer (until stopped);
    - "hang-exit-late": the same, and once it is killed, its exit is reported only after the
      next runtime has started (a watcher thread that ran late, as on a loaded machine).
    """

    def __init__(self, command: Sequence[str], env: Mapping[str, str], cwd: str | None,
                 on_exit: Callable[[Any, int, int | None], None], script: list[str], proxy: Callable[[], Any],
                 starts: list[int]) -> None:
        self.command = list(command)
        self.address = env["AWS_LAMBDA_RUNTIME_API"]
        self._on_exit = on_exit
        self._script = script
        self._proxy = proxy
        self._starts = starts
        self._stopped = threading.Event()
        self._generation: int | None = None  # the proxy's, as the orchestrator started it
        self._late_exit = False

    def start(self, started: object = None, generation: int | None = None) -> None:
        self._stopped = threading.Event()
        self._generation = generation
        self._starts.append(len(self._starts) + 1)
        threading.Thread(target=self._serve, args=(self._stopped, len(self._starts)), daemon=True).start()

    def _serve(self, stopped: threading.Event, generation: int) -> None:
        try:
            self._poll(stopped, generation)
        except (ConnectionError, OSError):
            pass  # the proxy closed (the orchestrator's shutdown): a runtime would exit

    def _poll(self, stopped: threading.Event, generation: int) -> None:
        host, port = self.address.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        base = "/2018-06-01/runtime/invocation"
        while not stopped.is_set():
            step = self._script.pop(0) if self._script else "echo"
            if step == "exit-before-taking":
                while not self._proxy().in_flight and not stopped.is_set():
                    time.sleep(0.005)  # a fake's poll of the real proxy's state: the event is in
                self._exit(stopped, 1)
                return
            conn.request("GET", f"{base}/next")
            response = conn.getresponse()
            event = response.read()
            if response.status != 200:  # replaced (500 Runtime.Reset): a real runtime exits
                return
            request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
            if step == "exit-holding":
                self._exit(stopped, 137)
                return
            if step in ("hang", "hang-exit-late"):
                self._late_exit = step == "hang-exit-late"
                stopped.wait()
                return
            answer = json.dumps({"echo": json.loads(event), "generation": generation}).encode()
            conn.request("POST", f"{base}/{request_id}/response", body=answer)
            conn.getresponse().read()

    def _exit(self, stopped: threading.Event, status: int) -> None:
        if not stopped.is_set():
            stopped.set()
            self._on_exit(self, status, self._generation)

    def stop(self, grace_s: float = 0.3) -> None:
        self._stopped.set()

    def kill(self) -> None:
        self._stopped.set()
        if self._late_exit:
            self._late_exit = False
            started, generation = len(self._starts), self._generation

            def report_late() -> None:
                while len(self._starts) == started:  # until the next runtime has started
                    time.sleep(0.005)
                self._on_exit(self, -9, generation)

            threading.Thread(target=report_late, daemon=True).start()

    def stderr_tail(self, limit: int = 1024) -> str:
        return ""


def orchestrate(upstream: MemoryUpstream, *script: str, grace_ms: int = 0) -> tuple[int, list[int]]:
    """Run the real loop until the upstream has no more invocations; (exit status, starts)."""
    steps, starts = list(script), []
    holder: dict[str, Orchestrator] = {}
    pipeline = pipeline_from_env({})
    orchestrator = Orchestrator(
        pipeline, upstream, environ={}, runtime_override=["a-runtime"],  # type: ignore[arg-type]
        runtime_factory=lambda c, e, d, x: ThreadRuntime(c, e, d, x, steps, lambda: holder["o"].proxy, starts),  # type: ignore[arg-type,return-value]
    )
    orchestrator.grace_ms = grace_ms
    holder["o"] = orchestrator
    return orchestrator.run(), starts


def test_events_go_through_the_loop_to_the_runtime_and_back() -> None:
    upstream = MemoryUpstream(b'{"n": 1}', b'{"n": 2}')
    status, starts = orchestrate(upstream)
    assert status == 1  # the upstream went away: the bootstrap exits non-zero, as it must
    assert upstream.answers() == [("req-0", '{"echo": {"n": 1}, "generation": 1}'),
                                  ("req-1", '{"echo": {"n": 2}, "generation": 1}')]
    assert starts == [1]


def test_a_runtime_that_exits_before_taking_the_event_costs_no_invocation() -> None:
    """The event was waiting in the proxy, never delivered: the next runtime gets it."""
    upstream = MemoryUpstream(b'{"n": 1}', b'{"n": 2}')
    _, starts = orchestrate(upstream, "echo", "exit-before-taking")
    assert upstream.answers() == [("req-0", '{"echo": {"n": 1}, "generation": 1}'),
                                  ("req-1", '{"echo": {"n": 2}, "generation": 2}')]
    assert starts == [1, 2]


def test_a_runtime_that_exits_holding_the_event_fails_that_invocation_only() -> None:
    upstream = MemoryUpstream(b'{"n": 1}', b'{"n": 2}')
    _, starts = orchestrate(upstream, "exit-holding")
    assert upstream.answers() == [("req-0", f"error:{errors.RUNTIME_EXIT_ERROR}"),
                                  ("req-1", '{"echo": {"n": 2}, "generation": 2}')]
    error = json.loads(upstream.posted[0][1].body)
    assert error["exitStatus"] == 137 and "exit status 137" in error["errorMessage"]
    assert starts == [1, 2]


def test_the_restart_budget_ends_the_bootstrap_so_lambda_recycles_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop, "MAX_CONSECUTIVE_CRASHES", 2)
    upstream = MemoryUpstream(*[b"{}"] * 6)
    status, starts = orchestrate(upstream, *["exit-holding"] * 6)
    assert status == 1
    # Two restarts allowed: three runtimes each fail one invocation; the third crash exceeds the budget.
    assert upstream.answers() == [(f"req-{n}", f"error:{errors.RUNTIME_EXIT_ERROR}") for n in range(3)]
    assert starts == [1, 2, 3]
    assert upstream.queue.qsize() == 3  # not taken from Lambda: another sandbox serves them


def test_a_handler_past_the_deadline_is_answered_before_it_and_the_runtime_replaced() -> None:
    upstream = MemoryUpstream(b'{"n": 1}', deadline_s=0.6)
    upstream.queue.put(invocation("req-1", b'{"n": 2}', 30))
    started = time.monotonic()
    _, starts = orchestrate(upstream, "hang", grace_ms=200)
    assert upstream.answers()[0] == ("req-0", f"error:{errors.SANDBOX_TIMEDOUT}")
    assert "Task timed out after 0.6" in json.loads(upstream.posted[0][1].body)["errorMessage"]
    assert upstream.answers()[1] == ("req-1", '{"echo": {"n": 2}, "generation": 2}')
    assert starts == [1, 2]
    assert time.monotonic() - started < 10  # (a bound against a hang, not a timing)


def test_a_replaced_runtimes_exit_reported_late_does_not_take_its_successor_down() -> None:
    """The killed runtime's exit arrives once its successor has started (a watcher thread
    that ran late): it must not mark the successor gone. Before, it did: a third runtime
    started beside the second, which lived on unwatched, and the crash of whichever of the
    two took an event later went unheard until the invocation timed out."""
    upstream = MemoryUpstream(b'{"n": 1}', deadline_s=0.6)
    for number in (1, 2, 3):
        upstream.queue.put(invocation(f"req-{number}", b'{"n": %d}' % number, 30))
    _, starts = orchestrate(upstream, "hang-exit-late", "echo", "echo", "echo", grace_ms=200)
    assert upstream.answers()[0] == ("req-0", f"error:{errors.SANDBOX_TIMEDOUT}")
    assert upstream.answers()[1:] == [(f"req-{n}", '{"echo": {"n": %d}, "generation": 2}' % n) for n in (1, 2, 3)]
    assert starts == [1, 2]


def test_a_response_lambda_refuses_as_too_large_becomes_lambdas_own_error() -> None:
    upstream = MemoryUpstream(b'{"n": 1}', post_statuses=[413])
    orchestrate(upstream)
    assert [rid for rid, _ in upstream.posted] == ["req-0", "req-0"]
    assert upstream.answers()[1] == ("req-0", f"error:{errors.FUNCTION_RESPONSE_TOO_LARGE}")
