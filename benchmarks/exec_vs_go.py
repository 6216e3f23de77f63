#!/usr/bin/env python3
"""An exec-mode hook call against a Go program spawning the same executable, at several loads.

DESIGN.md's exec budget: "no slower than a Go program spawning the same executable, at
any load". Both sides here start `PROGRAM before|after` in a new session with the same
environment, write the same payload to its STDIN, collect STDOUT and STDERR and wait for
the exit status:

- openruntime: `ExecMiddleware.call`, as the chain calls it (a fresh InvocationScope per
  invocation of two hook calls, so the state file is paid for as in a pipeline);
- Go: benchmarks/go_spawner (os/exec, standard library only), built here with `go build`.

Each side is a process of its own, in a session of its own, as an orchestrator is in its
sandbox (with autogroup scheduling, a session is what shares the CPU fairly: a spawner that
shared the driver's session would be charged for the driver's CPU, or the other's). The
driver asks each for a batch of calls in turn (a new random order every round), at each load: `--loads 0,1,2` starts that
many CPU-bound processes (busy loops) beside them for the section, each in its own
session like any other program. The default program is a no-op compiled from C here
(`cc`), so the figures are the spawners', not a slow start's: `--program PATH` measures
another (benchmarks/middlewares/noop-exec, the Python SDK's).

    python3 benchmarks/exec_vs_go.py                    # ~1 min on 2 cores
    python3 benchmarks/exec_vs_go.py --n 1000 --loads 0,2,4
    git worktree add /tmp/before <commit>
    python3 benchmarks/exec_vs_go.py --tree before=/tmp/before   # that checkout's exec runner too
    python3 benchmarks/exec_vs_go.py --loads 0,1,2,3,4 --n 400 --repeat 10   # ~5 min; a summary of the runs
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
# --tree runs this file's openruntime side against another checkout's code.
sys.path[:0] = [os.environ.get("EXEC_VS_GO_TREE") or str(HERE.parent)]

from openruntime.config import MiddlewareConfig  # noqa: E402
from openruntime.invocation import Invocation  # noqa: E402
from openruntime.middleware.exec import ExecMiddleware  # noqa: E402
from openruntime.middleware.protocol import InvocationScope, context_env  # noqa: E402

PAYLOAD = json.dumps({"requestContext": {"http": {"method": "GET", "path": "/hello"}},
                      "headers": {"accept": "application/json"}, "body": None}).encode()
NOOP_C = r"""
#include <unistd.h>
/* An exec-mode no-op: STDIN to STDOUT, exit 0. */
int main(void) {
    char buffer[65536];
    ssize_t n;
    while ((n = read(0, buffer, sizeof buffer)) > 0) {
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(1, buffer + done, n - done);
            if (w < 0) return 1;
            done += w;
        }
    }
    return n < 0;
}
"""
BURNER = "while True: pass"


def build(folder: Path, program: str | None) -> tuple[list[str], Path]:
    """The program to spawn, and the Go spawner's binary, both built into `folder`."""
    go = shutil.which("go")
    if go is None:
        raise SystemExit("exec_vs_go: needs Go on PATH (the yardstick is a Go program): apt install golang")
    spawner = folder / "go_spawner"
    subprocess.run([go, "build", "-o", str(spawner), "main.go"], cwd=HERE / "go_spawner", check=True,
                   env={**os.environ, "GOCACHE": str(folder / "gocache")})
    if program is not None:
        return [str(Path(program).resolve())], spawner
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise SystemExit("exec_vs_go: needs a C compiler for the no-op (or pass --program)")
    (folder / "noop.c").write_text(NOOP_C)
    subprocess.run([cc, "-O2", "-o", str(folder / "noop"), str(folder / "noop.c")], check=True)
    return [str(folder / "noop")], spawner


def invocation() -> Invocation:
    arn = "arn:aws:lambda:us-east-1:012345678912:function:bench"
    return Invocation(str(uuid.uuid4()), int(time.time() * 1000) + 600_000, arn, None, None, "application/json", PAYLOAD)


def serve_ours(command: list[str]) -> None:
    """The openruntime side, as a process: "N" on STDIN runs N hook calls (before and after
    in turn, a fresh scope per pair: one invocation) and answers their wall times in ns."""
    config = MiddlewareConfig(name="noop", command=tuple(command), mode="exec", hooks=("before", "after"))
    runner = ExecMiddleware(config, command, os.environ)
    for line in sys.stdin:
        times = []
        scope, inv = InvocationScope(), invocation()
        for i in range(int(line)):
            hook = "before" if i % 2 == 0 else "after"
            started = time.perf_counter_ns()
            result = runner.call(hook, PAYLOAD, "application/json", inv, scope, 30.0)
            times.append(time.perf_counter_ns() - started)
            if result.payload != PAYLOAD:
                raise SystemExit(f"exec_vs_go: the payload came back changed: {result.payload[:200]!r}")
            if hook == "after":
                scope.close()
                scope, inv = InvocationScope(), invocation()
        scope.close()
        print(" ".join(map(str, times)), flush=True)


def batch(spawner: subprocess.Popen[str], calls: int) -> list[float]:
    assert spawner.stdin is not None and spawner.stdout is not None
    spawner.stdin.write(f"{calls}\n")
    spawner.stdin.flush()
    line = spawner.stdout.readline()
    if not line:
        raise SystemExit("exec_vs_go: a spawner ended (its error is above)")
    return [int(ns) / 1e9 for ns in line.split()]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


def summarise(runs: dict[int, list[dict[str, list[float]]]]) -> None:
    """Per load, over the runs: each spawner's p50 of all its calls pooled, and its p50 in
    each run against the mean of the two Go spawners' p50s in that run (one Go spawner
    alone is a noisy yardstick: at high load the two differ by up to 1.7x in a run), as the
    median of those ratios, their range, and in how many runs it was over 1.00."""
    print("\nover the runs: p50 of all calls pooled; p50 / the two Go spawners' mean p50 in each run, "
          "median [lowest-highest], runs over 1.00")
    keys = list(next(iter(runs.values()))[0])
    print(f"{'load':>4}  " + "".join(f"{key:>34}" for key in keys))
    for load, samples in runs.items():
        cells = ""
        for key in keys:
            pooled = pct([value for run in samples for value in run[key]], 0.5)
            ratios = [pct(run[key], 0.5) / statistics.mean((pct(run["Go"], 0.5), pct(run["Go, again"], 0.5)))
                      for run in samples]
            cell = (f"{pooled * 1000:.3f} ms {statistics.median(ratios):.2f} "
                    f"[{min(ratios):.2f}-{max(ratios):.2f}] {sum(r > 1.0 for r in ratios)}/{len(ratios)}")
            cells += f"{cell:>34}"
        print(f"{load:>4}  {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=600, help="hook calls per side and load (default 600)")
    parser.add_argument("--batch", type=int, default=20, help="calls per turn (default 20)")
    parser.add_argument("--loads", default="0,1,2,4", help="CPU-bound processes beside them, per section")
    parser.add_argument("--program", help="the exec middleware to spawn (default: a C no-op built here)")
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=PATH",
                        help="another checkout's exec runner, as a spawner of its own")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run every section this many times and end with a summary per load (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="of the spawners' order in each round (default 1)")
    parser.add_argument("--serve-ours", help=argparse.SUPPRESS)  # the openruntime side's process
    args = parser.parse_args()
    if args.serve_ours:
        serve_ours(json.loads(args.serve_ours))
        return
    loads = [int(x) for x in args.loads.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="openruntime-exec-vs-go-"))
    try:
        command, spawner_path = build(folder, args.program)
        config = MiddlewareConfig(name="noop", command=tuple(command), mode="exec", hooks=("before", "after"))
        runner = ExecMiddleware(config, command, os.environ)
        # The Go side's children get the environment ours get (same size, same variables).
        scope = InvocationScope()
        child_env = {**context_env("before", invocation(), "application/json", "[]", base=runner.base_env),
                     "OPENRUNTIME_STATE_FILE": scope.state_file("noop")}
        scope.close()
        (folder / "payload").write_bytes(PAYLOAD)
        go_env = {**child_env, "SPAWN_COMMAND": json.dumps(command), "SPAWN_HOOK": "before",
                  "SPAWN_PAYLOAD_FILE": str(folder / "payload")}
        print(f"exec hook call vs Go os/exec spawning {command[0] if args.program else 'a C no-op'}; "
              f"payload {len(PAYLOAD)} B, {os.cpu_count()} CPUs, n={args.n} per side and load")
        with ExitStack() as stack:
            def ours(tree: str) -> subprocess.Popen[str]:
                return stack.enter_context(subprocess.Popen(
                    [sys.executable, __file__, "--serve-ours", json.dumps(command)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
                    env={**os.environ, "EXEC_VS_GO_TREE": tree}))

            def go() -> subprocess.Popen[str]:
                return stack.enter_context(subprocess.Popen(
                    [str(spawner_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                    env=go_env, start_new_session=True))

            spawners = {
                "openruntime": ours(str(HERE.parent)),
                **{name: ours(str(Path(path).resolve())) for name, path in (t.split("=", 1) for t in args.tree)},
                "Go": go(),
                # The same Go program again: how far two identical spawners differ at each
                # load is the resolution of every other ratio in that row.
                "Go, again": go(),
            }
            print("p50 (p90) in ms; the ratio is the p50's to Go's")
            print(f"{'load':>4}  " + "".join(f"{key:>24}" for key in spawners) + "  load avg")
            for spawner in spawners.values():
                batch(spawner, 20)  # warm-up: page cache, both binaries
            shuffler = random.Random(args.seed)
            runs: dict[int, list[dict[str, list[float]]]] = {load: [] for load in loads}
            for load in [load for _ in range(args.repeat) for load in loads]:
                samples: dict[str, list[float]] = {key: [] for key in spawners}
                with ExitStack() as burners:
                    for _ in range(load):
                        burner = burners.enter_context(
                            subprocess.Popen([sys.executable, "-c", BURNER], start_new_session=True))
                        burners.callback(burner.kill)
                    time.sleep(0.3 if load else 0)
                    for round_ in range(max(args.n // args.batch, 1)):
                        # A new order every round: in a fixed or alternating one a spawner's
                        # place (who ran just before it, how long it waited) biased it by
                        # 5-20% at high load, "Go, again" against "Go" included.
                        order = shuffler.sample(list(spawners), len(spawners))
                        for key in order:
                            samples[key].extend(batch(spawners[key], args.batch))
                    load_avg = os.getloadavg()[0]
                go_p50 = pct(samples["Go"], 0.5)
                runs[load].append(samples)
                cells = "".join(
                    f"{f'{pct(v, 0.5) * 1000:.3f} ({pct(v, 0.9) * 1000:.2f}) {pct(v, 0.5) / go_p50:.2f}x':>24}"
                    for v in samples.values()
                )
                print(f"{load:>4}  {cells}  {load_avg:8.2f}", flush=True)
            if args.repeat > 1:
                summarise(runs)
            for spawner in spawners.values():
                assert spawner.stdin is not None
                spawner.stdin.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
