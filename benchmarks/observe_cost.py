#!/usr/bin/env python3
"""What the metrics and trace middlewares cost: first invocation (cold start) and warm
invocations, as ratios against the same pipeline without them, interleaved; a no-op middleware on the same SDK shows what
the hops themselves cost.

    python3 benchmarks/observe_cost.py              # 5 repetitions x 10 warm invokes, ~3 min
    python3 benchmarks/observe_cost.py --reps 40 --warm 30 --gap-ms 2 --only "trace persistent, received/done"
    python3 benchmarks/observe_cost.py --only "metrics persistent, done" --only "metrics persistent, after"

Each middleware runs with the hooks its configuration names: `done` and `received` (after
the post, the README entries) against `before`/`after`/`error` (inside the invocation, as
before those existed).

Every repetition starts each configuration once on a fresh emulator, in the same order:
the first invoke (bootstrap start → answer at the caller) is its cold start, the median
of the next `--warm` invokes its warm latency, each started once the previous invocation's
phase has ended (END, as Lambda counts it); "phase" is the invoke to its END. The first repetition is discarded. "paired"
is the median over repetitions of the ratio to the bare pipeline of the same repetition,
which the drift of a shared machine affects less than a ratio of medians. trace exports
to an OTLP/HTTP receiver on loopback in a process of its own (a real POST per invocation).
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from openruntime.emulator.sandbox import Emulator, FunctionSettings  # noqa: E402

EVENT = (REPO / "tests" / "fixtures" / "aws-events" / "apigw-v2-http-request.json").read_bytes()
RESAMPLES = 2000  # of the bootstrap interval
XRAY = "Root=1-6571e3b0-0123456789abcdef01234567;Parent=1122334455667788;Sampled=1"


# The OTLP receiver runs in a process of its own, as a collector would: in this one it
# would compete with the emulator for the interpreter lock.
RECEIVER = """
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as collectors do (Go sets TCP_NODELAY): else a 40 ms delayed ACK
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def configs(otlp_url: str) -> dict[str, list[dict[str, Any]]]:
    def entry(name: str, mode: str, hooks: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
        command = REPO / "middlewares" / name / name if name != "noop" else REPO / "benchmarks" / "middlewares" / "noop"
        return {"name": name, "command": str(command), "mode": mode, "hooks": hooks, "env": env or {}}
    trace_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_url}
    inside, done = ["after", "error"], ["done"]
    return {
        "none": [],
        # The SDK's hops alone, for reference: one on the way in, one on the way out.
        "noop exec": [entry("noop", "exec", ["before", "after", "error"])],
        "noop persistent": [entry("noop", "persistent", ["before", "after", "error"])],
        "noop persistent, done": [entry("noop", "persistent", ["done"])],  # an observer's hop alone
        "metrics exec, after": [entry("metrics", "exec", inside)],
        "metrics exec, done": [entry("metrics", "exec", done)],
        "metrics persistent, after": [entry("metrics", "persistent", inside)],
        "metrics persistent, done": [entry("metrics", "persistent", done)],
        "trace persistent, after": [entry("trace", "persistent", ["before", *inside], trace_env)],
        "trace persistent, before/done": [entry("trace", "persistent", ["before", *done], trace_env)],
        "trace persistent, received/done": [entry("trace", "persistent", ["received", *done], trace_env)],
    }


def run_one(folder: Path, middlewares: list[dict[str, Any]], warm: int, gap_s: float) -> tuple[float, float, float]:
    """(cold ms, warm ms, warm phase ms). Each warm invoke starts once the previous
    invocation's phase has ended (END: the orchestrator asked for the next event), as on a
    sandbox that is idle when the call comes: "warm" is what its caller waits for; "phase"
    runs to END, what Lambda bills and holds the sandbox for (`done` hooks included)."""
    pipeline = folder / "pipeline.yml"
    pipeline.write_text(yaml.safe_dump({"runtime": {"name": "python", "handler": "app.handler",
                                                    "task_root": str(folder / "app")}, "middlewares": middlewares}))
    env = {"OPENRUNTIME_PIPELINE": str(pipeline), "PYTHONPATH": str(REPO), "TMPDIR": str(folder / "tmp")}
    (folder / "tmp").mkdir(exist_ok=True)
    ended: dict[str, float] = {}
    changed = threading.Condition()

    def on_log(line: str) -> None:
        if line.startswith("END RequestId: "):
            with changed:
                ended[line.split()[2]] = time.perf_counter()
                changed.notify_all()

    def phase_end(request_id: str) -> float:
        with changed:
            assert changed.wait_for(lambda: request_id in ended, timeout=30), f"no END for {request_id}"
            return ended[request_id]

    with Emulator(command=[sys.executable, "-m", "openruntime", "bootstrap"], cwd=folder, env=env,
                  function=FunctionSettings(timeout_s=60.0), log=on_log,
                  child_stderr=subprocess.DEVNULL) as emulator:
        started = time.perf_counter()
        first = emulator.invoke(EVENT, trace_id=XRAY)
        cold = time.perf_counter() - started
        assert first.function_error is None, first.body[:300]
        phase_end(first.request_id)
        times, phases = [], []
        for _ in range(warm):
            started = time.perf_counter()
            result = emulator.invoke(EVENT, trace_id=XRAY)
            times.append(time.perf_counter() - started)
            phases.append(phase_end(result.request_id) - started)
            time.sleep(gap_s)
    return cold * 1000, statistics.median(times) * 1000, statistics.median(phases) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--warm", type=int, default=10)
    parser.add_argument("--gap-ms", type=float, default=0.0,
                        help="a pause after each invocation's END before the next invoke (default 0)")
    parser.add_argument("--only", action="append", help="a configuration to run (repeatable; `none` always runs)")
    args = parser.parse_args()
    known = list(configs(""))
    if args.only and (unknown := set(args.only) - set(known)):
        parser.error(f"unknown configuration {', '.join(sorted(unknown))}; known: {'; '.join(known)}")
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
    table = configs(f"http://127.0.0.1:{receiver.stdout.readline().strip()}")
    if args.only:
        table = {name: entries for name, entries in table.items() if name == "none" or name in args.only}
    cold: dict[str, list[float]] = {name: [] for name in table}
    warm: dict[str, list[float]] = {name: [] for name in table}
    phase: dict[str, list[float]] = {name: [] for name in table}
    try:
        with tempfile.TemporaryDirectory(prefix="observe-cost-") as tmp:
            folder = Path(tmp)
            (folder / "app").mkdir()
            (folder / "app" / "app.py").write_text(textwrap.dedent('''
                def handler(event, context):
                    return {"statusCode": 200, "body": "ok"}
            '''))
            for rep in range(args.reps + 1):
                for name, middlewares in table.items():
                    first, median, phase_median = run_one(folder, middlewares, args.warm, args.gap_ms / 1000)
                    if rep:  # the first repetition warms caches and is discarded
                        cold[name].append(first)
                        warm[name].append(median)
                        phase[name].append(phase_median)
                print(f"repetition {rep}/{args.reps}", file=sys.stderr)
    finally:  # a failed run must not leave the receiver behind
        receiver.terminate()
        receiver.wait()
    print(f"{'configuration':<34} {'cold ms':>9} {'paired x':>9} {'warm ms':>9} {'paired x':>9} {'+warm ms':>9}"
          f" {'phase ms':>9} {'+phase ms':>9}")
    for name in table:
        cold_ratio = statistics.median(a / b for a, b in zip(cold[name], cold["none"]))
        warm_ratio = statistics.median(a / b for a, b in zip(warm[name], warm["none"]))
        added = statistics.median(a - b for a, b in zip(warm[name], warm["none"]))
        phase_added = statistics.median(a - b for a, b in zip(phase[name], phase["none"]))
        print(f"{name:<34} {statistics.median(cold[name]):>9.1f} {cold_ratio:>9.2f} "
              f"{statistics.median(warm[name]):>9.2f} {warm_ratio:>9.2f} {added:>9.2f} "
              f"{statistics.median(phase[name]):>9.2f} {phase_added:>9.2f}")
    # How sure the caller's figure is: the repetitions' differences resampled (bootstrap).
    resample = random.Random(0)
    print("\n+warm ms (what the caller waits for, above the bare pipeline): median [95% interval]")
    for name in table:
        if name == "none":
            continue
        added_each = [a - b for a, b in zip(warm[name], warm["none"])]
        medians = sorted(statistics.median(resample.choices(added_each, k=len(added_each))) for _ in range(RESAMPLES))
        low, high = medians[int(RESAMPLES * 0.025)], medians[int(RESAMPLES * 0.975) - 1]
        print(f"  {name:<34} {statistics.median(added_each):+.3f} [{low:+.3f}, {high:+.3f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
