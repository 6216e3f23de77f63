"""The interpreter layer's cost: its size, and the cold start it adds (docs/layers.md).

    python3 tests/layers/test_interpreter_layer.py /tmp/cpython.tar.gz   # or python-build-standalone's
    openruntime layer build --out /tmp/dist --runtime node --python 3.11 \\
        --interpreter 3.11 --interpreter-archive /tmp/cpython.tar.gz
    python3 benchmarks/interpreter_layer.py /tmp/dist [--reps 21]

The stack is extracted read-only (as /opt) with PYTHONDONTWRITEBYTECODE=1, once as built
and once without the stdlib's .pyc. Every repetition runs each configuration once, in the
same order (the first repetition is discarded); medians are printed.

  start   `python -c pass`: the host's Python and the layer's, isolated (-I -S, as the
          orchestrator starts) and with site; through /opt/bin/python3 (the sh script)
  cold    a Node.js function's first invoke (process start to answer, as cold_ab.py): the
          node runtime alone, then /opt/bootstrap → orchestrator (no middleware, compiled
          pipeline) → node runtime, on the host's Python and on the layer's
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from openruntime.config import load_pipeline  # noqa: E402
from openruntime.emulator.sandbox import Emulator, FunctionSettings  # noqa: E402
from openruntime.layers import extract_stack  # noqa: E402

STACK = ("openruntime-interpreter.zip", "openruntime-layer.zip", "openruntime-runtime-node.zip")
HANDLER = "exports.handler = async (event) => ({ ok: true, event });\n"


def extract(dist: Path, dest: Path, pyc: bool) -> Path:
    root = extract_stack([dist / name for name in STACK], dest)
    if not pyc:
        for cache in list((root / "python" / "lib").rglob("__pycache__")):
            shutil.rmtree(cache)
    subprocess.run(["chmod", "-R", "a-w", str(root)], check=True)
    return root


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("dist", type=Path, help="layer build --interpreter output (with --runtime node)")
    parser.add_argument("--reps", type=int, default=21)
    args = parser.parse_args()
    dist = args.dist.resolve()
    interpreter = dist / STACK[0]
    with zipfile.ZipFile(interpreter) as zf:
        unzipped = sum(i.file_size for i in zf.infolist())
        version = next(n.rsplit("python", 1)[1] for n in zf.namelist() if n.startswith("python/bin/python3."))
    print(f"{interpreter.name}: {interpreter.stat().st_size / 2**20:.1f} MB zipped, {unzipped / 2**20:.1f} MB unzipped")

    work = Path(tempfile.mkdtemp(prefix="openruntime-interp-bench-"))
    try:
        roots = {"layer": extract(dist, work / "opt", True), "layer, no stdlib .pyc": extract(dist, work / "nopyc", False)}
        host = os.path.realpath(sys.executable)
        env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
        starts = {
            "host -I -S": [host, "-I", "-S", "-c", "pass"],
            "host (site)": [host, "-c", "pass"],
            **{f"{k} -I -S": [f"{r}/python/bin/python{version}", "-I", "-S", "-c", "pass"] for k, r in roots.items()},
            "layer (site)": [f"{roots['layer']}/python/bin/python{version}", "-c", "pass"],
            "layer /opt/bin/python3 (site)": [f"{roots['layer']}/bin/python3", "-c", "pass"],
        }
        start_times: dict[str, list[float]] = {k: [] for k in starts}
        for rep in range(args.reps + 1):
            for name, command in starts.items():
                t0 = time.perf_counter()
                subprocess.run(command, env=env, check=True)
                if rep:
                    start_times[name].append(time.perf_counter() - t0)
        print(f"python -c pass, median of {args.reps}:")
        for name, values in start_times.items():
            print(f"  {name:34s} {median_ms(values)}")

        task = work / "task"
        task.mkdir()
        (task / "index.js").write_text(HANDLER)
        (task / "pipeline.yml").write_text("runtime: {name: node, handler: index.handler}\n")
        (task / "pipeline.json").write_text(load_pipeline(task / "pipeline.yml").to_json())
        node = shutil.which("node") or "node"
        tools = work / "tools"  # PATH without any Python: the bootstrap can only find the layer's
        tools.mkdir()
        for tool in ("sh", "env", "dirname", "readlink"):
            (tools / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
        (tools / "node").symlink_to(node)
        base = {"PATH": str(tools), "OPENRUNTIME_PIPELINE": str(task / "pipeline.json"),
                "PYTHONDONTWRITEBYTECODE": "1"}
        colds: dict[str, tuple[list[str], dict[str, str]]] = {
            "node runtime alone": ([str(roots["layer"] / "runtimes" / "node" / "bootstrap")], base),
            "orchestrator on the host's Python": (
                [str(roots["layer"] / "bootstrap")], {**base, "OPENRUNTIME_PYTHON": host,
                                                      "OPENRUNTIME_OPT": str(roots["layer"])}),
            **{f"orchestrator on the {k}": ([str(r / "bootstrap")], {**base, "OPENRUNTIME_OPT": str(r)})
               for k, r in roots.items()},
        }
        cold_times: dict[str, list[float]] = {k: [] for k in colds}
        for rep in range(args.reps + 1):
            for name, (command, cold_env) in colds.items():
                with Emulator(command=command, cwd=task, env=cold_env, inherit_env=False,
                              function=FunctionSettings(handler="index.handler", timeout_s=60),
                              child_stdout=subprocess.DEVNULL, child_stderr=subprocess.DEVNULL,
                              log=lambda line: None) as emu:
                    t0 = time.perf_counter()
                    result = emu.invoke(b'{"n": 1}')
                    elapsed = time.perf_counter() - t0
                if result.status != 200 or result.function_error:
                    raise SystemExit(f"{name}: {result.status} {result.body[:300]!r}")
                if rep:
                    cold_times[name].append(elapsed)
        print(f"Node.js function, first invoke (cold start), median of {args.reps}:")
        baseline = statistics.median(cold_times["node runtime alone"])
        for name, values in cold_times.items():
            print(f"  {name:44s} {median_ms(values)}  (+{(statistics.median(values) - baseline) * 1000:.1f} ms)")
        print(f"load average {os.getloadavg()[0]:.2f}")
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
