"""Lambda Managed Instances mode: several invocations at once in one sandbox.

AWS's own Python client (awslambdaric 4.x) in its multi-worker mode behind the real
orchestrator, with a persistent and an exec middleware, under the emulator in the same
mode (`max_concurrency`, as `AWS_LAMBDA_MAX_CONCURRENCY` selects it). Concurrency is
shown by what the handlers record (their spans overlap, four worker processes), not by
how long the calls took.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from openruntime.emulator.sandbox import Emulator, FunctionSettings, InvokeResult
from openruntime.processes import descendants
from tests.conftest import REPO, write_pipeline

pytest.importorskip("awslambdaric.lambda_multi_concurrent_utils",
                    reason="awslambdaric 4.x (its Managed Instances multi-worker mode) is not installed")

APP = """\
import json, os, time

def handler(event, context):
    started = time.time()
    while event.get("gate") and not os.path.exists(event["gate"]):  # held until the test lets go
        time.sleep(0.01)
    time.sleep(event.get("sleep", 0.5))
    if event.get("crash"):
        os._exit(3)  # this worker dies holding the invocation
    with open(os.environ["SPANS"], "a") as spans:
        spans.write(json.dumps({"n": event["n"], "pid": os.getpid(), "start": started, "end": time.time(),
                                "request_id": context.aws_request_id}) + "\\n")
    if event.get("fail"):
        raise ValueError(f"invocation {event['n']} asked to fail")
    return {"n": event["n"], "pid": os.getpid()}
"""


RUNTIMES = {
    "awslambdaric": f"command: [{sys.executable}, -m, awslambdaric]",  # AWS's own, 4.x: forked workers
    "bundled python": "name: python",  # openruntime's, which works the same way there
}


@contextmanager
def managed_instance(tmp_path: Path, concurrency: int = 4, timeout_s: float = 20,
                     runtime: str = "awslambdaric", when_busy: str = "queue",
                     log: list[str] | None = None) -> Iterator[Emulator]:
    (tmp_path / "app.py").write_text(APP)
    middlewares = REPO / "benchmarks" / "middlewares"
    pipeline = write_pipeline(tmp_path, f"""
        runtime:
          {RUNTIMES[runtime]}
          handler: app.handler
          task_root: .
          env: {{SPANS: {tmp_path / "spans"}}}
        middlewares:
          - {{name: noop, command: [{middlewares / "noop"}], mode: persistent, hooks: [before, after]}}
          - {{name: noop-exec, command: [{middlewares / "noop-exec"}], hooks: [before]}}
    """)
    with Emulator(command=[sys.executable, "-m", "openruntime", "bootstrap"], cwd=tmp_path,
                  env={"OPENRUNTIME_PIPELINE": str(pipeline), "OPENRUNTIME_PYTHON": sys.executable}, function=FunctionSettings(timeout_s=timeout_s),
                  max_concurrency=concurrency, when_busy=when_busy,
                  log=log.append if log is not None else lambda line: None,
                  child_stderr=open(tmp_path / "function.log", "wb")) as emulator:
        yield emulator


def invoke_all(emulator: Emulator, events: list[dict[str, object]], **kwargs: object) -> list[InvokeResult]:
    results: list[InvokeResult | None] = [None] * len(events)

    def one(index: int) -> None:
        results[index] = emulator.invoke(json.dumps(events[index]).encode(), **kwargs)  # type: ignore[arg-type]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def most_at_once(spans: list[dict[str, float]]) -> int:
    edges = sorted([(s["start"], 1) for s in spans] + [(s["end"], -1) for s in spans])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.parametrize("runtime", sorted(RUNTIMES))
def test_eight_callers_on_four_workers_each_get_their_own_answer(tmp_path: Path, runtime: str) -> None:
    lines: list[str] = []
    with managed_instance(tmp_path, runtime=runtime, log=lines) as emulator:
        warm = emulator.invoke(b'{"n": -1, "sleep": 0}')
        assert warm.function_error is None, warm.body
        results = invoke_all(emulator, [{"n": n} for n in range(8)])
        orchestrator = emulator.runtime_pid
        assert orchestrator is not None
        persistent = [pid for pid in descendants(orchestrator)
                      if Path(f"/proc/{pid}/cmdline").read_bytes().endswith(b"noop\0--persistent\0")]
    assert len(persistent) == 4  # the persistent middleware as a pool: a process per worker
    answers = [json.loads(r.body) for r in results]
    assert [a["n"] for a in answers] == list(range(8))  # each to its own caller
    spans = [json.loads(line) for line in (tmp_path / "spans").read_text().splitlines() if '"n": -1' not in line]
    assert len(spans) == 8 and len({s["request_id"] for s in spans}) == 8  # each handler ran once
    assert most_at_once(spans) == 4  # four at a time: the workers, never more
    assert len({s["pid"] for s in spans}) == 4
    reports = [line for line in lines if line.startswith("REPORT")]
    log = (tmp_path / "function.log").read_text()
    lines = [json.loads(line) for line in log.splitlines() if '"type":"openruntime.invocation"' in line]
    assert len(lines) == 9 and all(line["requestId"] for line in lines)  # JSON, each attributable
    durations = {line.split("\t")[0].split()[-1]: float(line.split("Duration: ")[-1].split()[0])
                 for line in reports if "Init Duration" not in line}
    assert len(durations) >= 8 and all(d >= 450 for d in durations.values()), reports  # each its own 0.5 s


def test_a_timeout_and_a_crash_fail_only_their_own_invocations(tmp_path: Path) -> None:
    with managed_instance(tmp_path, timeout_s=4) as emulator:
        emulator.invoke(b'{"n": -1, "sleep": 0}')
        results = invoke_all(emulator, [{"n": 0, "sleep": 0.2}, {"n": 1, "sleep": 30}, {"n": 2, "crash": True},
                                        {"n": 3, "sleep": 0.2}])
        later = emulator.invoke(b'{"n": 9, "sleep": 0}')
    assert json.loads(results[0].body)["n"] == 0 and json.loads(results[3].body)["n"] == 3
    for failed in (results[1], results[2]):  # the runtime's worker overran; another died holding it
        assert failed.function_error and json.loads(failed.body)["errorType"] == "Sandbox.Timedout"
    assert later.function_error is None and json.loads(later.body)["n"] == 9  # the sandbox goes on


def test_a_duplicate_invoke_id_while_it_runs_is_refused(tmp_path: Path) -> None:
    with managed_instance(tmp_path) as emulator:
        emulator.invoke(b'{"n": -1, "sleep": 0}')
        first: list[InvokeResult] = []
        runner = threading.Thread(target=lambda: first.append(
            emulator.invoke(b'{"n": 1, "sleep": 1}', request_id="same-id")))
        runner.start()
        while not emulator._api.is_in_flight("same-id"):  # the first is on its way
            runner.join(0.01)
        duplicate = emulator.invoke(b'{"n": 2}', request_id="same-id")
        runner.join(30)
    assert duplicate.status == 400 and duplicate.headers["x-amzn-errortype"] == "Client.DuplicatedInvokeId"
    assert json.loads(first[0].body)["n"] == 1


def test_a_hundred_mixed_invocations_on_one_managed_instance(tmp_path: Path) -> None:
    """120 invocations from 12 callers, 4 at a time in one sandbox: successes, errors,
    timeouts and crashed workers (the bundled runtime replaces a worker that dies, as
    awslambdaric does not). Each caller gets its own invocation's answer, of its kind; the
    orchestrator's descriptors and threads do not grow."""
    def kind(n: int) -> str:
        return "timeout" if n % 40 == 7 else "crash" if n % 30 == 3 else "fail" if n % 5 == 1 else "ok"

    def event(n: int) -> dict[str, object]:
        return {"n": n, "sleep": 3.0 if kind(n) == "timeout" else 0.02, "crash": kind(n) == "crash",
                "fail": kind(n) == "fail"}

    with managed_instance(tmp_path, timeout_s=1.5, runtime="bundled python") as emulator:
        emulator.invoke(b'{"n": -1, "sleep": 0}')
        orchestrator = emulator.runtime_pid
        assert orchestrator is not None
        before = (len(os.listdir(f"/proc/{orchestrator}/fd")), len(os.listdir(f"/proc/{orchestrator}/task")))
        with ThreadPoolExecutor(12) as callers:
            results = list(callers.map(lambda n: emulator.invoke(json.dumps(event(n)).encode()), range(120)))
        after = (len(os.listdir(f"/proc/{orchestrator}/fd")), len(os.listdir(f"/proc/{orchestrator}/task")))
    for n, result in enumerate(results):
        body = json.loads(result.body)
        if kind(n) == "ok":
            assert result.function_error is None and body["n"] == n, (n, body)
        elif kind(n) == "fail":
            assert body["errorType"] == "ValueError" and body["errorMessage"] == f"invocation {n} asked to fail"
        else:  # a worker that overran, or died holding it: Lambda's timeout, for that one only
            assert body["errorType"] == "Sandbox.Timedout", (n, body)
    assert after[0] <= before[0] + 2 and after[1] <= before[1] + 2, (before, after)


NODE_APP = """\
const fs = require('node:fs');
exports.handler = async (event, context) => {
  const start = Date.now() / 1000;
  await new Promise((resolve) => setTimeout(resolve, 500));
  fs.appendFileSync(process.env.SPANS, JSON.stringify({n: event.n, pid: process.pid, start,
    end: Date.now() / 1000, request_id: context.awsRequestId}) + '\\n');
  return {n: event.n, pid: process.pid};
};
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH")
def test_the_bundled_node_runtime_runs_four_workers_too(tmp_path: Path) -> None:
    (tmp_path / "app.js").write_text(NODE_APP)
    pipeline = write_pipeline(tmp_path, f"runtime: {{name: node, handler: app.handler, task_root: ., "
                                        f"env: {{SPANS: {tmp_path / 'spans'}}}}}\n")
    with Emulator(command=[sys.executable, "-m", "openruntime", "bootstrap"], cwd=tmp_path,
                  env={"OPENRUNTIME_PIPELINE": str(pipeline)}, function=FunctionSettings(timeout_s=20),
                  max_concurrency=4, log=lambda line: None, child_stderr=open(tmp_path / "log", "wb")) as emulator:
        results = invoke_all(emulator, [{"n": n} for n in range(8)])
    assert [json.loads(r.body)["n"] for r in results] == list(range(8))
    recorded = [json.loads(line) for line in (tmp_path / "spans").read_text().splitlines()]
    assert most_at_once(recorded) == 4 and len({s["pid"] for s in recorded}) == 4


def until(condition: Callable[[], bool], what: str, within_s: float = 20.0) -> None:
    """Wait for `condition`, polling; a clear failure (not a hang) when it never holds."""
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"never happened within {within_s} s: {what}"
        time.sleep(0.005)


@pytest.mark.parametrize(("when_busy", "status", "error_type"), [
    ("throttle", 429, "TooManyRequestsException"),  # Lambda's throttle
    ("strict-rie", 400, "Runtime.Unavailable"),  # AWS RIE's answer in this mode
])
def test_a_caller_who_finds_every_slot_busy_is_answered_as_chosen(
    tmp_path: Path, when_busy: str, status: int, error_type: str
) -> None:
    gate = tmp_path / "gate"
    with managed_instance(tmp_path, concurrency=2, when_busy=when_busy) as emulator:
        emulator.invoke(b'{"n": -1, "sleep": 0}')
        # Both workers back on /next first: RIE's mode refuses a caller when none waits.
        until(lambda: emulator._api.waiting == 2, "both workers waiting on /next")
        held: list[InvokeResult] = []
        holders = [threading.Thread(target=lambda n=n: held.append(emulator.invoke(
            json.dumps({"n": n, "gate": str(gate), "sleep": 0}).encode()))) for n in range(2)]
        for holder in holders:
            holder.start()
        until(lambda: len([p for p in emulator._api.in_flight.values() if p.delivered]) == 2
              and not emulator._api.waiting, "both workers busy, none waiting on /next")
        refused = emulator.invoke(b'{"n": 5, "sleep": 0}')
        gate.touch()
        for holder in holders:
            holder.join(30)
        until(lambda: emulator._api.waiting > 0, "a worker back on /next")  # RIE refuses until one is
        after = emulator.invoke(b'{"n": 6, "sleep": 0}')
    assert refused.status == status and refused.headers["x-amzn-errortype"] == error_type
    assert sorted(json.loads(r.body)["n"] for r in held) == [0, 1]
    assert json.loads(after.body)["n"] == 6
