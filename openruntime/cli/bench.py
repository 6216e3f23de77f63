"""`openruntime bench [--quick] [--json]`: the benchmark harness in the checkout's benchmarks/.

cli.py imports this module on every start, `openruntime bootstrap` (a cold start) too, so
it only registers the command; the harness and everything it needs load when it runs.
The harness is not part of the wheel: it needs the checkout's runtimes/ and benchmarks/.
"""

from __future__ import annotations

import argparse


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    bench = subparsers.add_parser(
        "bench",
        help="measure the pipeline's cost against the runtime alone (latency, cold start, memory)",
        description="Benchmarks: warm latency and throughput (runtime directly vs the orchestrator "
        "with 0/1/3 exec and persistent middlewares), cold start, resident memory, a 6 MB payload, "
        "loopback HTTP clients; budgets reported as PASS/MISS. See docs/benchmarks.md.",
    )
    bench.add_argument("--quick", action="store_true", help="fewer samples: under a minute")
    bench.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    bench.add_argument("--html", metavar="FILE", help="also write the figures as an HTML page with charts")
    bench.set_defaults(run=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    import importlib.util
    import sys

    from openruntime.locate import checkout_root

    root = checkout_root()
    harness = root / "benchmarks" / "harness.py" if root else None
    if harness is None or not harness.is_file():
        sys.stderr.write("openruntime bench: needs a source checkout (benchmarks/harness.py not found)\n")
        return 1
    # Loaded by path: a `harness` or `benchmarks` module elsewhere on sys.path cannot shadow it.
    spec = importlib.util.spec_from_file_location("openruntime_bench_harness", harness)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    argv = (["--quick"] if args.quick else []) + (["--json"] if args.json else []) + \
        (["--html", args.html] if args.html else [])
    return int(module.main(argv))
