"""What the orchestrator adds to one warm invocation, call by call, beside its floor.

    python3 benchmarks/call_by_call.py                         # ~1 min on 2 cores
    git worktree add /tmp/before <commit>                      # e.g. an earlier commit
    python3 benchmarks/call_by_call.py --n 4000 --tree before=/tmp/before

Configurations, each on its own emulator, called in turn one invocation at a time, in a
new random order every round (`--seed`), each emulator as quiet as the others (no START,
END and REPORT lines: writing them cost 14–42 µs a call): the bundled Python runtime alone; behind this checkout's orchestrator
with no middleware, twice (the second shows how far two identical configurations differ:
the resolution of every other figure); behind each `--tree`'s orchestrator; behind
benchmarks/floor_relay.py, the least a Python proxy can do. Every orchestrator runs its
checkout from PYTHONPATH, whatever is installed (its runtime inherits it: nothing is
imported per warm call). Budget (DESIGN.md): the orchestrator's p50 at most 1.15x the
runtime's.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import harness  # noqa: E402
from openruntime.emulator.sandbox import Emulator, FunctionSettings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="calls per configuration (default 3000)")
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=PATH",
                        help="another checkout's orchestrator, as a configuration of its own")
    parser.add_argument("--seed", type=int, default=1, help="of the order in each round (default 1)")
    args = parser.parse_args()
    ws = harness.make_workspace()
    function = FunctionSettings(handler=harness.HANDLER, timeout_s=120.0)
    base_env = {"OPENRUNTIME_PYTHON": sys.executable, "PYTHONPYCACHEPREFIX": str(ws.pycache)}

    def tree(name: str, path: str) -> Emulator:
        pipeline = ws.root / f"{name}.json"
        shutil.copy(ws.pipeline(harness.ORCH0), pipeline)
        env = {**base_env, "OPENRUNTIME_PIPELINE": str(pipeline), "PYTHONPATH": path}
        return Emulator(command=harness.ORCHESTRATOR, cwd=ws.app, env=env, function=function,
                        child_stdout=subprocess.DEVNULL, child_stderr=ws.log_file(name), log=harness.quiet)

    floor = [sys.executable, str(HERE / "floor_relay.py"), str(harness.RUNTIME_BOOTSTRAP), harness.HANDLER]
    load = os.getloadavg()[0]
    with ExitStack() as stack:
        emulators = {
            "runtime directly": stack.enter_context(harness.emulator(ws, harness.DIRECT)),
            "orchestrator (this checkout)": stack.enter_context(tree("this", str(HERE.parent))),
            "orchestrator (this checkout, again)": stack.enter_context(tree("this-again", str(HERE.parent))),
            **{f"orchestrator ({name})": stack.enter_context(tree(name, path))
               for name, path in (t.split("=", 1) for t in args.tree)},
            "floor relay (benchmarks/floor_relay.py)": stack.enter_context(Emulator(
                command=floor, cwd=ws.app, env=base_env, function=function,
                child_stdout=subprocess.DEVNULL, child_stderr=ws.log_file("floor"), log=harness.quiet)),
        }
        for em in emulators.values():
            for _ in range(200):
                result = em.invoke(harness.EVENT)
            if result.body != b'{"hello": "world", "n": 1}':
                raise SystemExit(f"unexpected answer {result.body[:200]!r}")
        samples: dict[str, list[float]] = {key: [] for key in emulators}
        keys = list(emulators)
        shuffler = random.Random(args.seed)
        for _ in range(args.n):
            for key in shuffler.sample(keys, len(keys)):
                started = time.perf_counter()
                emulators[key].invoke(harness.EVENT)
                samples[key].append(time.perf_counter() - started)
    ws.close()
    shutil.rmtree(ws.root, ignore_errors=True)
    direct = harness.pct(samples["runtime directly"], 50)
    print(f"call by call, n={args.n} each, p50; load average {load:.2f} -> {os.getloadavg()[0]:.2f}")
    for key, values in samples.items():
        p50 = harness.pct(values, 50)
        print(f"  {key:42} {p50 * 1000:7.3f} ms  {p50 / direct:5.2f}x  +{(p50 - direct) * 1e6:4.0f} us")


if __name__ == "__main__":
    main()
