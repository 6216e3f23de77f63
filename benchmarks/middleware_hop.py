#!/usr/bin/env python3
"""Per-hop overhead of a middleware: exec vs persistent, Python, Node and bash.

Calls the middleware runners directly (`ExecMiddleware.call` / `PersistentMiddleware.call`)
with a synthetic invocation and a fresh InvocationScope per hop, exactly what the chain
does for one hook, and prints p50/p99 per middleware and mode, plus the CPU time this
process spent per hop ("own CPU": the runner's share, steadier than wall time on a busy
machine; for exec it excludes the child). The baseline is a no-op middleware object:
the cost of the harness itself.

    python3 benchmarks/middleware_hop.py                 # ~30 s on 2 cores
    python3 benchmarks/middleware_hop.py --persistent-n 5000 --exec-n 50
    python3 benchmarks/middleware_hop.py --only python-raw --profile python-raw/persistent
    git show HEAD:openruntime/persistent.py > /tmp/persistent_head.py
    python3 benchmarks/middleware_hop.py --compare-runner /tmp/persistent_head.py   # A/B, interleaved

The machine is shared and has 2 cores: compare figures from the same run (--compare-runner
interleaves the two runners in batches so that load changes hit both alike).

Design budget (DESIGN.md): a persistent hop p50 at most 0.1 ms; an exec hop costs what
starting the executable costs.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import json
import os
import pstats
import shutil
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from openruntime.config import MiddlewareConfig
from openruntime.invocation import Invocation
from openruntime.middleware.exec import ExecMiddleware
from openruntime.middleware.protocol import HookResult, InvocationScope, Middleware
from openruntime.middleware.persistent import PersistentMiddleware

PAYLOAD = json.dumps({"requestContext": {"http": {"method": "GET", "path": "/hello"}},
                      "headers": {"accept": "application/json"}, "body": None}).encode()
SDK_PY = REPO / "middlewares" / "lib" / "python"
SDK_NODE = REPO / "middlewares" / "lib" / "node" / "openruntime-middleware.js"

# A minimal raw-frame middleware: what the protocol costs without any SDK around it.
RAW_PY = """
#!/usr/bin/env python3
import sys
if sys.argv[1:] != ["--persistent"]:
    sys.stdout.buffer.write(sys.stdin.buffer.read())
    raise SystemExit(0)
out, inp = sys.stdout.buffer, sys.stdin.buffer
out.write(b'{"ready":true,"protocol":2,"length":0}\\n')
out.flush()
while line := inp.readline():
    length = int(line[line.rindex(b'"length":') + 9:].rstrip(b"}\\n"))
    out.write(b'{"action":"continue","length":%d}\\n' % length + inp.read(length))
    out.flush()
"""

SDK_PY_MW = f"""
#!/usr/bin/env python3
import sys
sys.path.insert(0, {str(SDK_PY)!r})
from openruntime_middleware import before, run

@before
def passthrough(event, ctx):
    return None

run()
"""

NODE_MW = f"""
#!/usr/bin/env node
const mw = require({json.dumps(str(SDK_NODE))});
mw.before((event, ctx) => undefined);
mw.run();
"""

BASH_MW = """
#!/usr/bin/env bash
payload=$(cat)
printf '%s' "$payload"
"""


class NoopMiddleware:
    """The baseline: a middleware that costs nothing but the call."""

    def __init__(self) -> None:
        self.config = MiddlewareConfig(name="noop")

    def start(self) -> None: ...

    def await_ready(self) -> None: ...

    def stop(self) -> None: ...

    def handles(self, hook: str) -> bool:
        return True

    def call(self, hook: str, payload: bytes, content_type: str, invocation: Invocation,
             scope: InvocationScope, timeout_s: float) -> HookResult:
        return HookResult(payload, content_type)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    path.chmod(0o755)
    return path


def invocation() -> Invocation:
    return Invocation(
        request_id=str(uuid.uuid4()), deadline_ms=int(time.time() * 1000) + 600_000,
        function_arn="arn:aws:lambda:us-east-1:012345678912:function:bench",
        trace_id="Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1", invocation_id=None,
        content_type="application/json", body=PAYLOAD,
    )


@dataclass
class Run:
    """Wall time per hop, and the CPU time this process (the orchestrator's side) spent on them."""

    samples: list[float] = field(default_factory=list)
    cpu_s: float = 0.0

    def add(self, other: Run) -> None:
        self.samples += other.samples
        self.cpu_s += other.cpu_s

    def row(self) -> tuple[int, float, float, float]:
        n = len(self.samples)
        return n, percentile(self.samples, 0.50), percentile(self.samples, 0.99), self.cpu_s / n * 1e6


def hop_loop(middleware: Middleware, n: int, budget_s: float = float("inf")) -> Run:
    """n `before` hops (fewer if `budget_s` runs out first); each with its own scope, as in the chain."""
    inv = invocation()
    samples: list[float] = []
    for _ in range(min(max(n // 10, 3), 20)):  # warm-up: caches, branch predictors, the child's imports
        scope = InvocationScope()
        middleware.call("before", PAYLOAD, "application/json", inv, scope, 10.0)
        scope.close()
    gc.collect()
    gc.disable()  # a collection inside one sample would measure the collector, not the hop
    end = time.monotonic() + budget_s
    cpu_started = time.process_time()
    try:
        for _ in range(n):
            if len(samples) >= 30 and time.monotonic() > end:
                break
            started = time.perf_counter()
            scope = InvocationScope()
            result = middleware.call("before", PAYLOAD, "application/json", inv, scope, 10.0)
            scope.close()
            samples.append(time.perf_counter() - started)
            if result.payload != PAYLOAD:
                raise SystemExit(f"{middleware.config.name}: payload changed: {result.payload[:200]!r}")
    finally:
        gc.enable()
    return Run(samples, time.process_time() - cpu_started)


def _load_runner(path: Path) -> Callable[..., Middleware]:
    """PersistentMiddleware from another copy of persistent.py."""
    spec = importlib.util.spec_from_file_location("persistent_other", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    runner: Callable[..., Middleware] = module.PersistentMiddleware
    return runner


def compare(pair: dict[str, Middleware], n: int, batch: int = 250) -> dict[str, Run]:
    """Both runners on the same middleware program, alternating batches (which goes first, too)."""
    samples: dict[str, Run] = {label: Run() for label in pair}
    for middleware in pair.values():
        middleware.start()
        middleware.await_ready()
    try:
        for round_ in range(max(n // batch, 1)):
            order = list(pair) if round_ % 2 == 0 else list(reversed(pair))
            for label in order:
                samples[label].add(hop_loop(pair[label], batch))
    finally:
        for middleware in pair.values():
            middleware.stop()
    return samples


def _factory(mode: str, config: MiddlewareConfig, program: Path) -> Callable[[], Middleware]:
    def make() -> Middleware:
        if mode == "persistent":
            return PersistentMiddleware(config, [str(program)], os.environ)
        return ExecMiddleware(config, [str(program)], os.environ)
    return make


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persistent-n", type=int, default=2000)
    parser.add_argument("--exec-n", type=int, default=200)
    parser.add_argument("--exec-budget-s", type=float, default=6.0,
                        help="stop an exec case after this long (at least 30 samples); keeps the run near 30 s")
    parser.add_argument("--only", default="", metavar="CASES",
                        help="comma-separated NAME or NAME/MODE, e.g. python-raw/persistent (default: all)")
    parser.add_argument("--profile", metavar="NAME/MODE", help="cProfile one case's hop loop first")
    parser.add_argument("--compare-runner", metavar="FILE", type=Path,
                        help="another persistent.py (e.g. the committed one): persistent cases run with both, "
                        "interleaved, and the table gets a row for each")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="openruntime-bench-"))
    try:
        programs = {
            "python-raw": write(folder, "python-raw", RAW_PY),
            "python-sdk": write(folder, "python-sdk", SDK_PY_MW) if SDK_PY.is_dir() else None,
            "node-sdk": write(folder, "node-sdk", NODE_MW) if SDK_NODE.is_file() and shutil.which("node") else None,
            "bash": write(folder, "bash", BASH_MW),
        }
        cases: list[tuple[str, str, Callable[[], Middleware], int]] = [("noop", "-", NoopMiddleware, args.persistent_n)]
        for name, program in programs.items():
            if program is None:
                print(f"(skipping {name}: not available)", file=sys.stderr)
                continue
            modes = ["exec"] if name == "bash" else ["persistent", "exec"]
            for mode in modes:
                config = MiddlewareConfig(name=name, mode=mode, timeout_ms=10_000)
                factory = _factory(mode, config, program)
                cases.append((name, mode, factory, args.persistent_n if mode == "persistent" else args.exec_n))
        if args.only:
            wanted = set(args.only.split(","))
            cases = [c for c in cases if c[0] == "noop" or c[0] in wanted or f"{c[0]}/{c[1]}" in wanted]

        results: dict[tuple[str, str], tuple[int, float, float, float]] = {}
        bench_started = time.monotonic()
        other = _load_runner(args.compare_runner) if args.compare_runner else None
        for name, mode, factory, n in cases:
            if other is not None and mode == "persistent":
                program = programs[name]
                assert program is not None
                config = MiddlewareConfig(name=name, mode=mode, timeout_ms=10_000)
                pair = {"persistent": factory(), "persistent (other)": other(config, [str(program)], os.environ)}
                for label, run in compare(pair, n).items():
                    results[(name, label)] = run.row()
                continue
            middleware = factory()
            middleware.start()
            middleware.await_ready()
            try:
                if args.profile == f"{name}/{mode}":
                    profiler = cProfile.Profile()
                    profiler.enable()
                    hop_loop(middleware, n)
                    profiler.disable()
                    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
                run = hop_loop(middleware, n, args.exec_budget_s if mode == "exec" else float("inf"))
            finally:
                middleware.stop()
            results[(name, mode)] = run.row()

        base_p50 = results[("noop", "-")][1]
        print(f"\nmiddleware hop, payload {len(PAYLOAD)} bytes, {os.cpu_count()} CPUs, "
              f"Python {sys.version.split()[0]}")
        print(f"{'middleware':<12} {'mode':<19} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} {'own CPU us':>11} "
              f"{'exec/persistent p50':>20}")
        for (name, mode), (n, p50, p99, cpu_us) in results.items():
            ratio = ""
            if mode == "exec" and (name, "persistent") in results:
                ratio = f"{p50 / results[(name, 'persistent')][1]:.0f}x"
            print(f"{name:<12} {mode:<19} {n:>5} {p50:>9.3f} {p99:>9.3f} {cpu_us:>11.1f} {ratio:>20}")
        persistent = [(name, p50) for (name, mode), (_, p50, _, _) in results.items() if mode == "persistent"]
        if persistent:
            best = min(p50 for _, p50 in persistent)
            verdict = "within" if best <= 0.1 else "OVER"
            print(f"\nbudget: persistent hop p50 <= 0.100 ms -> fastest {best:.3f} ms ({verdict}); "
                  f"baseline {base_p50 * 1000:.1f} us; total {time.monotonic() - bench_started:.1f} s")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
