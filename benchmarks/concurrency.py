#!/usr/bin/env python3
"""Throughput (invocations/s) against concurrency, both modes, beside the runtime directly.

- Managed Instances mode: one sandbox, `max_concurrency` = c; awslambdaric 4 in its
  multi-worker mode, directly or behind the orchestrator (one persistent no-op middleware,
  run as a pool).
- Classic mode, scaled out: `serve --concurrency c`'s sandbox pool, c sandboxes each one
  invocation at a time; awslambdaric directly or behind the orchestrator.

c callers keep every slot busy; the handler sleeps `--handler-ms` (an I/O-bound function:
the ideal is c / handler time). 2 cores here: past that the CPU is shared, and the figure
says how well each configuration shares it.

    python3 benchmarks/concurrency.py                 # ~1 min
    python3 benchmarks/concurrency.py --invocations 400 --handler-ms 50
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from openruntime.emulator.pool import SandboxPool  # noqa: E402
from openruntime.emulator.sandbox import Emulator, FunctionSettings  # noqa: E402

APP = "import time\ndef handler(event, context):\n    time.sleep(event['ms'] / 1000)\n    return event\n"


def make(folder: Path, orchestrated: bool, concurrency: int):  # type: ignore[no-untyped-def]
    settings = FunctionSettings(timeout_s=60, handler="app.handler")
    if orchestrated:
        pipeline = folder / "pipeline.yml"
        noop = REPO / "benchmarks" / "middlewares" / "noop"
        pipeline.write_text(f"runtime: {{command: [{sys.executable}, -m, awslambdaric], handler: app.handler, "
                            f"task_root: {folder}}}\nmiddlewares:\n  - {{name: noop, command: [{noop}], "
                            "mode: persistent, hooks: [before, after]}\n")
        command = [sys.executable, "-m", "openruntime", "bootstrap"]
        env = {"OPENRUNTIME_PIPELINE": str(pipeline)}
    else:
        command, env = [sys.executable, "-m", "awslambdaric", "app.handler"], {}
    return lambda number, tmpdir: Emulator(command=command, cwd=folder, env={**env, "TMPDIR": tmpdir or "/tmp"},
                                           function=settings, max_concurrency=concurrency, log=lambda _: None,
                                           child_stderr=subprocess.DEVNULL)


def throughput(target, concurrency: int, invocations: int, handler_ms: int) -> float:  # type: ignore[no-untyped-def]
    payload = json.dumps({"ms": handler_ms}).encode()
    with ThreadPoolExecutor(concurrency) as callers:  # warm every slot
        list(callers.map(lambda _: target.invoke(payload), range(concurrency * 2)))
        started = time.perf_counter()
        results = list(callers.map(lambda _: target.invoke(payload), range(invocations)))
        elapsed = time.perf_counter() - started
    assert all(r.function_error is None for r in results), results[0].body
    return invocations / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invocations", type=int, default=200)
    parser.add_argument("--handler-ms", type=int, default=20)
    parser.add_argument("--levels", default="1,2,4,8")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "app.py").write_text(APP)
        for concurrency in levels:
            for mode in ("managed instances", "sandbox pool"):
                for orchestrated in (False, True):
                    name = f"{mode}, {'orchestrator + awslambdaric' if orchestrated else 'awslambdaric directly'}"
                    factory = make(folder, orchestrated, concurrency if mode == "managed instances" else 1)
                    if mode == "managed instances":
                        target = factory(1, None)
                        target.start()
                    else:
                        target = SandboxPool(factory, concurrency).__enter__()
                    try:
                        rows.setdefault(name, []).append(
                            throughput(target, concurrency, args.invocations, args.handler_ms))
                    finally:
                        target.close()
    ideal = [c * 1000 / args.handler_ms for c in levels]
    print(f"Throughput, invocations/s ({args.invocations} invocations, handler {args.handler_ms} ms, "
          f"c callers at concurrency c)")
    print(f"{'configuration':<52}" + "".join(f"{f'c={c}':>10}" for c in levels))
    print(f"{'ideal (c / handler time)':<52}" + "".join(f"{x:>10.0f}" for x in ideal))
    for name, values in rows.items():
        print(f"{name:<52}" + "".join(f"{v:>10.0f}" for v in values))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
