#!/usr/bin/env python3
"""What each built-in middleware costs: its start (a cold start's share) and its hop.

For every middleware of the catalogue, configured as its README shows and fed a real AWS
event of the kind it is for (tests/fixtures/aws-events), through the orchestrator's own
runners (`PersistentMiddleware`, `ExecMiddleware`), one invocation at a time as the chain
runs it (`before` with the event, then `after` with a response, one InvocationScope each):

  * start ms: spawn → ready frame of the persistent process, median of --starts starts
    (Lambda's init runs the middlewares' starts beside the runtime's);
  * persistent ms: p50 per invocation (all its hooks) and what it adds to the SDK no-op
    middleware measured in the same run, batches interleaved so load hits both alike;
  * exec ms: p50 per invocation in exec mode, a process per hook, i.e. its cold cost.

    python3 benchmarks/catalogue.py                  # ~1 min on 2 cores
    python3 benchmarks/catalogue.py --only validate,http --n 2000

Budget (DESIGN.md): a persistent middleware hop, p50 at most 0.1 ms (here: per hook call,
the invocation's p50 over the hooks it called).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from middleware_hop import invocation, percentile  # noqa: E402

from openruntime.config import MiddlewareConfig  # noqa: E402
from openruntime.middleware.exec import ExecMiddleware  # noqa: E402
from openruntime.middleware.persistent import PersistentMiddleware  # noqa: E402
from openruntime.invocation import Outcome  # noqa: E402
from openruntime.middleware.protocol import Middleware  # noqa: E402
from openruntime.orchestrator.chain import Chain, InvocationRun  # noqa: E402

EVENTS = REPO / "tests" / "fixtures" / "aws-events"
HTTP_OK = json.dumps({"statusCode": 200, "headers": {"content-type": "application/json"},
                      "body": json.dumps({"ok": True})}).encode()
ORDER_SCHEMA = json.dumps({
    "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
    "required": ["version", "routeKey", "rawPath"],
    "properties": {"version": {"const": "2.0"}, "rawPath": {"type": "string", "pattern": "^/"},
                   "headers": {"type": "object", "additionalProperties": {"type": "string"}}},
})


@dataclass
class Case:
    """One middleware as a user configures it, with the event it is for."""

    name: str
    event: str  # a file in tests/fixtures/aws-events
    hooks: tuple[str, ...] = ("before", "after")
    env: dict[str, str] = field(default_factory=dict)
    response: bytes = HTTP_OK
    label: str = ""  # when one middleware is measured in two configurations

    @property
    def program(self) -> Path:
        return REPO / "middlewares" / self.name / self.name


def catalogue(scratch: Path, otlp: str) -> list[Case]:
    """The built-in middlewares; the ones not in this tree are left out when run."""
    sqs = json.loads((EVENTS / "sqs-batch.json").read_text()) if (EVENTS / "sqs-batch.json").exists() else {"Records": []}
    ok_records = json.dumps([None for _ in sqs.get("Records", [])]).encode()
    return [
        Case("log", "apigw-v2-http-request.json", ("before", "after", "error")),
        Case("http", "apigw-v2-http-request.json", ("before", "after", "error")),
        Case("cloudevents", "s3-put.json", ("before",)),
        Case("validate", "apigw-v2-http-request.json", ("before",),
             {"VALIDATE_SCHEMA_JSON": ORDER_SCHEMA, "VALIDATE_ENVELOPE": "none"}),
        Case("timing", "apigw-v2-http-request.json"),
        Case("batch", "sqs-batch.json", ("before", "after", "error"), response=ok_records),
        Case("metrics", "apigw-v2-http-request.json", ("after", "error"), {"METRICS_NAMESPACE": "bench"}),
        Case("metrics", "apigw-v2-http-request.json", ("before", "after", "error"),
             {"METRICS_NAMESPACE": "bench", "METRICS_DIMENSIONS": "service,event_source"}, label="metrics + before"),
        Case("trace", "apigw-v2-http-request.json", ("before", "after", "error"),
             {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp}),
        Case("trace", "apigw-v2-http-request.json", ("before", "after", "error"),
             {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp, "TRACE_EXPORT": "deferred"}, label="trace deferred"),
        Case("idempotency", "apigw-v2-http-request.json", ("before", "after", "error"),
             # The same event every time: after the first, each invocation is a replay from the file store.
             {"IDEMPOTENCY_FILE_DIR": str(scratch / "idempotency"),
              "IDEMPOTENCY_EVENT_KEY_JMESPATH": "requestContext.requestId"}),
    ]


def _collect(conn: socket.socket) -> None:
    """One collector connection: answer each POST 200 at once, keep-alive, as a Go
    collector (the ADOT extension) would; the middleware's cost is what is left."""
    reader = conn.makefile("rb")
    try:
        while True:
            length = 0
            line = reader.readline(65536)
            if not line:
                return
            while (line := reader.readline(65536)) not in (b"\r\n", b"\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            reader.read(length)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
    except OSError:
        return
    finally:
        reader.close()
        conn.close()


@contextlib.contextmanager
def otlp_sink() -> Iterator[str]:
    """An OTLP/HTTP collector on loopback that accepts and drops everything."""
    listener = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_collect, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """The middlewares' log lines go to /dev/null while measuring (their writes still count)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def one_invocation(chain: Chain, case: Case, event: bytes) -> tuple[float, tuple[str, ...]]:
    """One invocation through the orchestrator's own chain (hooks, the stages it reports,
    the output checks), the handler answering `case.response` at once; the time taken and
    the hooks called."""
    run = InvocationRun(invocation())
    handler_outcome = Outcome(case.response, "application/json")
    started = time.perf_counter()
    chain.run(run, lambda payload, content_type: handler_outcome)
    took = time.perf_counter() - started
    return took, tuple(stage.rpartition(".")[2] for stage in run.timings if stage != "handler")


def loop(middleware: Middleware, case: Case, event: bytes, n: int) -> list[float]:
    chain = Chain([middleware])
    gc.collect()
    gc.disable()  # a collection inside a sample measures the collector
    try:
        return [one_invocation(chain, case, event)[0] for _ in range(n)]
    finally:
        gc.enable()


def started(make: Callable[[], Middleware]) -> tuple[Middleware, float]:
    began = time.perf_counter()
    middleware = make()
    middleware.start()
    middleware.await_ready()
    return middleware, time.perf_counter() - began


def measure(case: Case, noop: Path, n: int, exec_n: int, starts: int, batch: int = 100) -> dict[str, float]:
    event = (EVENTS / case.event).read_bytes()
    config = MiddlewareConfig(name=case.name, hooks=case.hooks, mode="persistent", timeout_ms=10_000, env=case.env)

    def persistent() -> Middleware:
        return PersistentMiddleware(config, [str(case.program)], os.environ)

    def baseline(hooks: tuple[str, ...]) -> Middleware:
        noop_config = MiddlewareConfig(name="noop", hooks=hooks, mode="persistent", timeout_ms=10_000)
        return PersistentMiddleware(noop_config, [str(noop)], os.environ)

    start_times: list[float] = []
    for _ in range(starts):
        middleware, took = started(persistent)
        one_invocation(Chain([middleware]), case, event)  # it answers, not only starts
        middleware.stop()
        start_times.append(took)
    ours, took = started(persistent)
    # The no-op is called for the same hooks (idempotency's replays stop at before).
    called = one_invocation(Chain([ours]), case, event)[1]
    base, _ = started(lambda: baseline(called))
    hooks = len(called)
    samples: dict[str, list[float]] = {"ours": [], "base": []}
    try:
        loop(ours, case, event, 20)
        loop(base, case, event, 20)
        for round_ in range(max(n // batch, 1)):
            pair = [("ours", ours), ("base", base)]
            for label, middleware in (pair if round_ % 2 == 0 else reversed(pair)):
                samples[label] += loop(middleware, case, event, batch)
    finally:
        ours.stop()
        base.stop()
    exec_config = MiddlewareConfig(name=case.name, hooks=case.hooks, mode="exec", timeout_ms=10_000, env=case.env)
    exec_mw = ExecMiddleware(exec_config, [str(case.program)], os.environ)
    exec_samples = loop(exec_mw, case, event, exec_n)
    p50, base_p50 = percentile(samples["ours"], 0.5), percentile(samples["base"], 0.5)
    return {"start": statistics.median(start_times) * 1000, "p50": p50, "p99": percentile(samples["ours"], 0.99),
            "per_hook": p50 / hooks, "added_per_hook": (p50 - base_p50) / hooks, "base_per_hook": base_p50 / hooks,
            "exec": percentile(exec_samples, 0.5)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="persistent invocations per middleware")
    parser.add_argument("--exec-n", type=int, default=15, help="exec invocations per middleware")
    parser.add_argument("--starts", type=int, default=5, help="persistent starts per middleware")
    parser.add_argument("--only", default="", metavar="NAMES", help="comma-separated middleware names")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="openruntime-catalogue-"))
    rows: list[tuple[str, dict[str, float]]] = []
    try:
        noop = REPO / "benchmarks" / "middlewares" / "noop"  # before and after, raw: the hop alone
        with otlp_sink() as otlp:
            for case in catalogue(scratch, otlp):
                if args.only and case.name not in args.only.split(","):
                    continue
                if not case.program.is_file():
                    print(f"(no {case.name} middleware in this tree)", file=sys.stderr)
                    continue
                with quiet_stderr():
                    try:
                        rows.append((case.label or case.name, measure(case, noop, args.n, args.exec_n, args.starts)))
                    except Exception as exc:  # one broken middleware must not hide the others' figures
                        rows.append((case.label or case.name, {}))
                        failure = f"{type(exc).__name__}: {exc}"
                        os.write(1, f"{case.name}: failed: {failure[:300]}\n".encode())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nbuilt-in middlewares, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; ms")
    print(f"{'middleware':<15} {'start':>7} {'invocation p50':>15} {'p99':>7} {'per hook':>9} "
          f"{'no-op/hook':>11} {'added/hook':>11} {'exec p50':>9}")
    for name, r in rows:
        if not r:
            print(f"{name:<15} {'failed':>7}")
            continue
        print(f"{name:<15} {r['start']:>7.1f} {r['p50']:>15.3f} {r['p99']:>7.3f} {r['per_hook']:>9.3f} "
              f"{r['base_per_hook']:>11.3f} {r['added_per_hook']:>11.3f} {r['exec']:>9.1f}")
    over = [name for name, r in rows if r and r["per_hook"] > 0.1]
    print(f"\nbudget: a persistent hop p50 <= 0.100 ms -> {'OVER: ' + ', '.join(over) if over else 'all within'}; "
          f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
