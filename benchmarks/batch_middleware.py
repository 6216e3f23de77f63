#!/usr/bin/env python3
"""What the batch middleware costs: its hooks in-process (10 and 10,000 records), one
exec-mode call (process start included) and one persistent before+after pair over frames.

    python3 benchmarks/batch_middleware.py            # ~10 s on 2 cores

Small on purpose: a few hundred calls; the machine is shared, read medians."""

from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MW = REPO / "middlewares" / "batch"
sys.path[:0] = [str(MW), str(REPO / "middlewares" / "lib" / "python")]

from aws_batch import hooks  # noqa: E402
from aws_batch.config import BatchConfig  # noqa: E402

SAMPLE = json.loads((REPO / "tests" / "fixtures" / "aws-events" / "sqs-batch.json").read_text())


def batch(count: int) -> bytes:
    records = []
    for n in range(count):
        record = copy.deepcopy(SAMPLE["Records"][n % 2])
        record["messageId"] = f"{n:08d}-87a3-44ab-83d2-661975830a7d"
        records.append(record)
    return json.dumps({"Records": records}).encode()


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def in_process(count: int, runs: int, config: BatchConfig) -> float:
    event = batch(count)
    answer = json.dumps([None if n % 10 else "x" for n in range(count)]).encode()

    def pair() -> None:
        out = hooks.before(event, config)
        hooks.after(answer, out.state, config)

    return median_ms(pair, runs)


def exec_call(runs: int) -> float:
    event = batch(10)
    env = {**os.environ, "OPENRUNTIME_STATE_FILE": "/dev/null"}
    return median_ms(lambda: subprocess.run([str(MW / "batch"), "before"], input=event, env=env,
                                            capture_output=True, check=True), runs)


def persistent_pair(runs: int) -> float:
    event = batch(10)
    answer = json.dumps([None] * 9 + ["x"]).encode()
    proc = subprocess.Popen([str(MW / "batch"), "--persistent"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env={**os.environ, "OPENRUNTIME_PROTOCOL": "2"})
    assert proc.stdin and proc.stdout
    proc.stdout.readline()  # ready

    def call(hook: str, payload: bytes, state: object) -> dict:
        header = {"hook": hook, "request_id": "r", "deadline_ms": None, "function_arn": "", "trace_id": None,
                  "tenant_id": None, "content_type": "application/json", "middleware": "batch",
                  "state": state, "length": len(payload)}
        proc.stdin.write(json.dumps(header).encode() + b"\n" + payload)  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        answer_header = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        proc.stdout.read(answer_header["length"])  # type: ignore[union-attr]
        return answer_header

    def pair() -> None:
        state = call("before", event, None).get("state")
        call("after", answer, state)

    try:
        return median_ms(pair, runs)
    finally:
        proc.stdin.close()
        proc.wait(5)


def main() -> None:
    quiet = BatchConfig(log_failures=False)
    print(f"in-process before+after, 10 records:        {in_process(10, 500, quiet):.3f} ms")
    print(f"in-process before+after, 10 records, json:  {in_process(10, 500, BatchConfig(decode='json', log_failures=False)):.3f} ms")
    print(f"in-process before+after, 10,000 records:    {in_process(10_000, 10, quiet):.1f} ms  (plan in a file)")
    print(f"persistent before+after pair over frames:   {persistent_pair(300):.3f} ms  (10 records, 1 failure logged)")
    print(f"exec `batch before`, process start included: {exec_call(20):.1f} ms")


if __name__ == "__main__":
    main()
