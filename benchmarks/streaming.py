#!/usr/bin/env python3
"""Response streaming: time to first byte and throughput, side by side in one run.

Three configurations, interleaved invocation by invocation so that load changes hit all
alike: the bundled Node runtime polling the emulator directly ("direct"), and the same
runtime behind the orchestrator with 0 and with 2 persistent middlewares (the no-op
`benchmarks/middlewares/noop`, hooks before and after: `before` runs, `after` is passed
by for a stream, on_stream: pass). The caller is the emulator's own
InvokeWithResponseStream path (`invoke(stream=True)`), warm.

- TTFB: from the invoke call to the first chunk in the caller's hands; the handler writes
  one small chunk at once, then ends.
- Throughput: a 100 MB stream (64 KiB writes) read to the end, MB/s.

    python3 benchmarks/streaming.py                  # ~1 min on 2 cores
    python3 benchmarks/streaming.py --ttfb-n 200 --mb 200 --throughput-n 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from openruntime.emulator.sandbox import Emulator, FunctionSettings  # noqa: E402

APP = """\
import { once } from 'node:events';
export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream.setContentType('application/octet-stream');
  if (event.megabytes) {
    const chunk = Buffer.alloc(65536, 97);
    for (let i = 0; i < event.megabytes * 16; i++) {
      if (!stream.write(chunk)) await once(stream, 'drain');
    }
  } else {
    stream.write('first');
  }
  stream.end();
});
"""


def pipeline(folder: Path, middlewares: int) -> Path:
    noop = REPO / "benchmarks" / "middlewares" / "noop"
    lines = ["runtime: {name: node, handler: app.handler, task_root: .}"]
    if middlewares:
        lines.append("middlewares:")
        lines += [f"  - {{name: noop{i}, command: [{noop}], mode: persistent, hooks: [before, after]}}"
                  for i in range(middlewares)]
    path = folder / f"pipeline-{middlewares}.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def emulators(folder: Path, stack: ExitStack) -> dict[str, Emulator]:
    settings = FunctionSettings(timeout_s=120, handler="app.handler")
    found = {"direct": stack.enter_context(Emulator(command=[str(REPO / "runtimes" / "node" / "bootstrap")],
                                                    cwd=folder, function=settings, log=lambda _: None))}
    for count in (0, 2):
        found[f"orchestrator, {count} middlewares"] = stack.enter_context(Emulator(
            command=[sys.executable, "-m", "openruntime", "bootstrap"], cwd=folder,
            env={"OPENRUNTIME_PIPELINE": str(pipeline(folder, count))}, function=settings,
            child_stderr=open(folder / f"log-{count}.txt", "wb"), log=lambda _: None))
    return found


def first_byte_s(emulator: Emulator) -> float:
    started = time.perf_counter()
    result = emulator.invoke(b"{}", stream=True)
    assert result.stream is not None, result.body
    chunks = iter(result.stream)
    next(chunks)
    elapsed = time.perf_counter() - started
    for _ in chunks:  # the rest, and the end
        pass
    return elapsed


def throughput_mb_s(emulator: Emulator, megabytes: int) -> float:
    started = time.perf_counter()
    result = emulator.invoke(b'{"megabytes": %d}' % megabytes, stream=True)
    assert result.stream is not None, result.body
    size = sum(len(chunk) for chunk in result.stream)
    assert size == megabytes * 1024 * 1024 and result.stream.error_type is None
    return megabytes / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ttfb-n", type=int, default=100)
    parser.add_argument("--throughput-n", type=int, default=3)
    parser.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        (folder / "app.mjs").write_text(APP)
        configs = emulators(folder, stack)
        for emulator in configs.values():  # cold starts out of the way
            first_byte_s(emulator)
        ttfb: dict[str, list[float]] = {name: [] for name in configs}
        rate: dict[str, list[float]] = {name: [] for name in configs}
        for _ in range(args.ttfb_n):
            for name, emulator in configs.items():
                ttfb[name].append(first_byte_s(emulator))
        for _ in range(args.throughput_n):
            for name, emulator in configs.items():
                rate[name].append(throughput_mb_s(emulator, args.mb))
    direct_ttfb = statistics.median(ttfb["direct"])
    direct_rate = statistics.median(rate["direct"])
    print(f"Streamed responses, warm, interleaved ({args.ttfb_n} TTFB samples, {args.throughput_n} x {args.mb} MB)")
    print(f"{'configuration':<28}{'TTFB p50':>11}{'p99':>9}{'vs direct':>11}{'MB/s p50':>11}{'vs direct':>11}")
    for name in configs:
        samples = sorted(ttfb[name])
        p50, p99 = statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        mbs = statistics.median(rate[name])
        print(f"{name:<28}{p50 * 1000:>9.2f}ms{p99 * 1000:>7.2f}ms{p50 / direct_ttfb:>10.2f}x"
              f"{mbs:>11.0f}{mbs / direct_rate:>10.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
