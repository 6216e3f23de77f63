"""Cold starts only, interleaved, for one or more source trees (A/B of cold-path changes).

    python3 benchmarks/cold_ab.py                       # this checkout, 15 repetitions
    git archive HEAD | tar -x -C /tmp/before            # e.g. the last commit, as "before"
    python3 benchmarks/cold_ab.py --reps 31 --tree before=/tmp/before --tree after=.

Every repetition starts each configuration once on a fresh emulator, in the same order,
and times the first invoke (bootstrap exec → answer at the caller, as harness.py's cold
start); the first repetition is discarded. "paired" is the median of the per-repetition
ratios to the bare runtime started in the same repetition, which drifts of a shared
machine affect less than the ratio of medians.

Configurations (`--kinds`):
  direct    runtimes/python/bootstrap alone (the baseline)
  orch      `python -m openruntime bootstrap`, the tree on PYTHONPATH, site-packages loaded
  orchS     the same with `python -S`
  layer     the tree's orchestrator layer (`openruntime layer build` with a compiled
            pipeline.json) extracted read-only, started through its /opt/bootstrap as on
            Lambda (PYTHONDONTWRITEBYTECODE=1: only the bytecode the layer ships);
            runtimes/python beside it with bytecode, like the other configurations' runtime
  direct1, layer1   the same pinned to one CPU (taskset): Lambda below 1769 MB
Bytecode of everything else is cached in the workspace (PYTHONPYCACHEPREFIX), as harness.py does.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import harness as h  # noqa: E402
from openruntime.emulator.sandbox import Emulator, FunctionSettings  # noqa: E402

INIT = re.compile(r"Init Duration: ([\d.]+) ms")
RUNTIME = REPO / "runtimes" / "python" / "bootstrap"
BUILD = r"""
import inspect, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from openruntime.layers.build import BuildReport, build_orchestrator_layer
out, pipeline = Path(sys.argv[2]), Path(sys.argv[3])
if "target" in inspect.signature(build_orchestrator_layer).parameters:  # trees since --python/--arch
    from openruntime.layers.target import Target
    host = Target(f"{sys.version_info.major}.{sys.version_info.minor}", "x86_64")
    print(build_orchestrator_layer(out, BuildReport(), host, pipeline).path)
else:
    print(build_orchestrator_layer(out, BuildReport(), pipeline).path)
"""


def make_layer(tree: Path, pipeline: Path, no_pyc: bool) -> Path:
    out = Path(tempfile.mkdtemp(prefix="openruntime-cold-ab-"))
    done = subprocess.run([sys.executable, "-c", BUILD, str(tree), str(out), str(pipeline)],
                          capture_output=True, text=True, check=True)
    opt = out / "opt"
    with zipfile.ZipFile(done.stdout.strip()) as zf:
        for info in zf.infolist():
            zf.extract(info, opt)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(opt / info.filename, mode)
    if no_pyc:
        for cache in list((opt / "python").rglob("__pycache__")):
            shutil.rmtree(cache)
    shutil.copytree(REPO / "runtimes" / "python", opt / "runtimes" / "python",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash",
                    str(opt / "runtimes")], check=True, env={**os.environ, "PYTHONPYCACHEPREFIX": ""})
    subprocess.run(["chmod", "-R", "a-w", str(opt)], check=True)  # read-only, as /opt
    return opt


def measure(kinds: list[str], trees: dict[str, str], reps: int, no_pyc: bool = False,
            progress: "Callable[[str], None] | None" = None) -> list[dict[str, object]]:
    """Cold starts of each configuration, interleaved; one row per configuration with the
    median, the min, the Init Duration, the ratio of medians and the paired ratio to the
    bare runtime started in the same repetitions."""
    ws = h.make_workspace()
    layers: dict[str, Path] = {}
    if any(k.startswith("layer") for k in kinds):
        layers = {n: make_layer(Path(t), ws.pipeline(h.ORCH0, "yml"), no_pyc) for n, t in trees.items()}
    configs = [(k, None) if k.startswith("direct") else (k, n) for k in kinds for n in
               ([None] if k.startswith("direct") else trees)]

    def run_one(kind: str, tree: str | None) -> tuple[float, float]:
        env = {"OPENRUNTIME_PYTHON": sys.executable, "PYTHONPYCACHEPREFIX": str(ws.pycache),
               "PYTHONDONTWRITEBYTECODE": ""}
        pinned = kind.endswith("1")
        kind = kind.rstrip("1")
        if kind == "direct":
            command = [str(RUNTIME), h.HANDLER]
        elif kind == "layer":
            assert tree is not None
            opt = layers[tree]
            command = [str(opt / "bootstrap")]
            env.update(PYTHONPYCACHEPREFIX="", PYTHONDONTWRITEBYTECODE="1", OPENRUNTIME_OPT=str(opt))
        else:
            assert tree is not None
            env.update(PYTHONPATH=trees[tree], OPENRUNTIME_PIPELINE=str(ws.pipeline(h.ORCH0, "json")))
            command = [sys.executable, *(["-S"] if kind == "orchS" else []), "-m", "openruntime", "bootstrap"]
        if pinned:
            command = ["taskset", "-c", "1", *command]
        lines: list[str] = []
        with Emulator(command=command, cwd=ws.app, env=env,
                      function=FunctionSettings(handler=h.HANDLER, timeout_s=120.0),
                      child_stdout=subprocess.DEVNULL, child_stderr=ws.log_file(f"{kind}-{tree}"),
                      log=lines.append) as em:
            t0 = time.perf_counter()
            result = em.invoke(h.EVENT)
            elapsed = time.perf_counter() - t0
            if result.status != 200 or result.function_error:
                raise SystemExit(f"{kind} {tree}: {result.status} {result.body[:300]!r}")
        init = [float(m.group(1)) for line in lines if (m := INIT.search(line))]
        return elapsed * 1000, init[0] if init else float("nan")

    times: dict[tuple[str, str | None], list[float]] = {c: [] for c in configs}
    inits: dict[tuple[str, str | None], list[float]] = {c: [] for c in configs}
    try:
        for rep in range(reps + 1):
            for config in configs:
                elapsed, init = run_one(*config)
                if rep:  # the first repetition warms caches and is discarded
                    times[config].append(elapsed)
                    inits[config].append(init)
            if progress:
                progress(f"cold start (layer): repetition {rep}/{reps}")
    finally:
        shutil.rmtree(ws.root, ignore_errors=True)
        for opt in layers.values():
            subprocess.run(["chmod", "-R", "u+w", str(opt.parent)], check=False)
            shutil.rmtree(opt.parent, ignore_errors=True)
    rows: list[dict[str, object]] = []
    for config in configs:
        base: tuple[str, str | None] = ("direct1", None) if config[0].endswith("1") else ("direct", None)
        if base not in times:
            base = config
        median = statistics.median(times[config])
        rows.append({
            "label": config[0] + (f" [{config[1]}]" if config[1] else ""),
            "kind": config[0], "tree": config[1], "n": len(times[config]),
            "median_ms": median, "min_ms": min(times[config]),
            "init_median_ms": statistics.median(inits[config]),
            "ratio": median / statistics.median(times[base]),
            "paired": statistics.median(x / y for x, y in zip(times[config], times[base])),
        })
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--kinds", default="direct,orch,orchS,layer,direct1,layer1")
    parser.add_argument("--no-pyc", action="store_true", help="strip the bytecode from the layers")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree) or {"this": str(REPO)}
    trees = {name: str(Path(path).resolve()) for name, path in trees.items()}
    load = os.getloadavg()[0]
    rows = measure(args.kinds.split(","), trees, args.reps, args.no_pyc,
                   progress=lambda line: print(line, file=sys.stderr))
    print(f"cold start, median of {args.reps} (interleaved); load average {load:.2f} -> {os.getloadavg()[0]:.2f}")
    for row in rows:
        print(f"  {row['label']:20s} median {row['median_ms']:6.1f} ms  min {row['min_ms']:6.1f}  "
              f"Init Duration {row['init_median_ms']:6.1f}  ratio {row['ratio']:.2f}x  paired {row['paired']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
