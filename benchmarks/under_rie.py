#!/usr/bin/env python3
"""Issue 14's own measure: AWS's Runtime Interface Emulator (RIE) in front, calls
interleaved one by one between bare awslambdaric and awslambdaric behind the orchestrator.

    python3 benchmarks/under_rie.py --rie /path/to/aws-lambda-rie        # ~1 min
    python3 benchmarks/under_rie.py --n 6000 --tree before=/tmp/before   # another checkout too

Each configuration is an RIE of its own (`aws-lambda-rie`, AWS's Go emulator: the SAM CLI
ships it as samcli/local/rapid/aws-lambda-rie-<arch>, or OPENRUNTIME_RIE names it), on
loopback ports of its own, running:
- awslambdaric directly (`python -m awslambdaric app.handler`);
- the orchestrator with no middleware in front of the same awslambdaric, from this
  checkout, twice: the second shows how far two identical configurations differ, the
  resolution of every other figure;
- the orchestrator of each `--tree`;
- benchmarks/floor_relay.py in front of the same awslambdaric: the least a Python proxy
  can do (its floor).

One caller calls them in a new random order every round (`--seed`), one invocation at a
time, each over a kept-alive connection. Budget (DESIGN.md, issue 14): the orchestrator's
p50 at most 1.15x the bare runtime's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
EVENT = json.dumps({"hello": "world"}).encode()
HANDLER_SOURCE = 'def handler(event, context):\n    return {"hello": event.get("hello"), "n": 1}\n'


def find_rie(given: str | None) -> str:
    for candidate in (given, os.environ.get("OPENRUNTIME_RIE"), shutil.which("aws-lambda-rie")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    try:
        import samcli  # type: ignore[import-not-found]

        machine = {"x86_64": "x86_64", "aarch64": "arm64"}.get(os.uname().machine, "x86_64")
        bundled = Path(samcli.__file__).parent / "local" / "rapid" / f"aws-lambda-rie-{machine}"
        if os.access(bundled, os.X_OK):
            return str(bundled)
    except ImportError:
        pass
    raise SystemExit("under_rie: AWS's RIE not found: --rie PATH, OPENRUNTIME_RIE, aws-lambda-rie on PATH, "
                     "or the SAM CLI (pip install aws-sam-cli) whose package bundles it")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RIE:
    """One RIE running `command` in `folder`; `invoke()` times one call over a kept-alive connection."""

    def __init__(self, rie: str, command: list[str], folder: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [rie, "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
             "--runtime-api-address", f"127.0.0.1:{free_port()}", *command],
            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.connection: http.client.HTTPConnection | None = None

    def invoke(self) -> float:
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        started = time.perf_counter()
        self.connection.request("POST", INVOKE_PATH, body=EVENT, headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200 or b'"n": 1' not in body:
            raise SystemExit(f"under_rie: unexpected answer {response.status} {body[:200]!r}")
        return elapsed

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self.invoke()
                return
            except (ConnectionError, OSError):
                self.connection = None
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit("under_rie: an RIE did not answer within 30 s") from None
                time.sleep(0.1)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.process.kill()
        self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rie", help="the aws-lambda-rie binary (default: found as the docstring says)")
    parser.add_argument("--n", type=int, default=3000, help="calls per configuration (default 3000)")
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=PATH",
                        help="another checkout's orchestrator, as a configuration of its own")
    parser.add_argument("--seed", type=int, default=1, help="of the order in each round (default 1)")
    args = parser.parse_args()
    rie = find_rie(args.rie)
    try:
        import awslambdaric  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        raise SystemExit("under_rie: needs awslambdaric (pip install awslambdaric)") from None
    folder = Path(tempfile.mkdtemp(prefix="openruntime-under-rie-"))
    try:
        (folder / "app.py").write_text(HANDLER_SOURCE)
        (folder / "pipeline.yml").write_text(
            f"runtime: {{command: [{json.dumps(sys.executable)}, -m, awslambdaric], handler: app.handler, task_root: .}}\n")
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OPENRUNTIME_", "PYTHONPATH"))}

        def orchestrator(checkout: str) -> tuple[list[str], dict[str, str]]:
            return ([sys.executable, "-m", "openruntime", "bootstrap"],
                    {**base_env, "OPENRUNTIME_PIPELINE": str(folder / "pipeline.yml"), "PYTHONPATH": checkout})

        configurations = {
            "awslambdaric directly": ([sys.executable, "-m", "awslambdaric", "app.handler"], base_env),
            "orchestrator (this checkout)": orchestrator(str(HERE.parent)),
            "orchestrator (this checkout, again)": orchestrator(str(HERE.parent)),
            **{f"orchestrator ({name})": orchestrator(str(Path(path).resolve()))
               for name, path in (t.split("=", 1) for t in args.tree)},
            "floor relay (benchmarks/floor_relay.py)": (
                [sys.executable, str(HERE / "floor_relay.py"), sys.executable, "-m", "awslambdaric", "app.handler"],
                base_env),
        }
        load = os.getloadavg()[0]
        with ExitStack() as stack:
            emulators: dict[str, RIE] = {}
            for key, (command, env) in configurations.items():
                emulators[key] = RIE(rie, command, folder, env)
                stack.callback(emulators[key].close)
            for emulator in emulators.values():
                emulator.wait_ready()
                for _ in range(200):
                    emulator.invoke()
            samples: dict[str, list[float]] = {key: [] for key in emulators}
            shuffler = random.Random(args.seed)
            keys = list(emulators)
            for _ in range(args.n):
                for key in shuffler.sample(keys, len(keys)):
                    samples[key].append(emulators[key].invoke())
        direct = statistics.median(samples["awslambdaric directly"])
        print(f"under AWS RIE ({Path(rie).name}), call by call, n={args.n} each, p50; "
              f"load average {load:.2f} -> {os.getloadavg()[0]:.2f}")
        for key, values in samples.items():
            p50 = statistics.median(values)
            print(f"  {key:40} {p50 * 1000:7.3f} ms  {p50 / direct:5.2f}x  +{(p50 - direct) * 1e6:4.0f} us")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
