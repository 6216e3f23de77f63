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
import shutil
import subprocess
import sys
from contextlib import ExitStack
from functools import partial
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
        samples = harness.interleave(
            {key: partial(em.invoke, harness.EVENT) for key, em in emulators.items()}, args.n, args.seed)
    ws.close()
    shutil.rmtree(ws.root, ignore_errors=True)
    harness.print_p50s(f"call by call, n={args.n} each, p50; load average {load:.2f} -> {os.getloadavg()[0]:.2f}",
                       samples, "runtime directly")

if __name__ == "__main__":
    main()
