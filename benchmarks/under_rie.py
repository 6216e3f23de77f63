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
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import harness  # noqa: E402

INVOKE_PATH = "/2015-03-31/functions/function/invocations"


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
    """One RIE running `command` in `folder`; `invoke()` is one call over a kept-alive connection."""

    def __init__(self, rie: str, command: list[str], folder: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [rie, "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
             "--runtime-api-address", f"127.0.0.1:{free_port()}", *command],
            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.connection: http.client.HTTPConnection | None = None

    def invoke(self) -> None:
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.connection.request("POST", INVOKE_PATH, body=harness.EVENT, headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200 or b'"n": 1' not in body:
            raise SystemExit(f"under_rie: unexpected answer {response.status} {body[:200]!r}")

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
    if not harness.runtime_available("awslambdaric"):
        raise SystemExit("under_rie: needs awslambdaric (pip install awslambdaric)")
    ws = harness.make_workspace()  # app.py echoes the event; the pipelines run awslambdaric by command
    try:
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OPENRUNTIME_", "PYTHONPATH"))}
        bare = harness.direct_command(harness.RIC_DIRECT)

        def orchestrator(checkout: str) -> tuple[list[str], dict[str, str]]:
            return (harness.ORCHESTRATOR, {**base_env, "PYTHONPATH": checkout,
                                           "OPENRUNTIME_PIPELINE": str(ws.pipeline(harness.RIC_ORCH0, "yml"))})

        configurations = {
            "awslambdaric directly": (bare, base_env),
            "orchestrator (this checkout)": orchestrator(str(HERE.parent)),
            "orchestrator (this checkout, again)": orchestrator(str(HERE.parent)),
            **{f"orchestrator ({name})": orchestrator(str(Path(path).resolve()))
               for name, path in (t.split("=", 1) for t in args.tree)},
            "floor relay (benchmarks/floor_relay.py)": ([sys.executable, str(HERE / "floor_relay.py"), *bare], base_env),
        }
        load = os.getloadavg()[0]
        with ExitStack() as stack:
            emulators: dict[str, RIE] = {}
            for key, (command, env) in configurations.items():
                emulators[key] = RIE(rie, command, ws.app, env)
                stack.callback(emulators[key].close)
            for emulator in emulators.values():
                emulator.wait_ready()
                for _ in range(200):
                    emulator.invoke()
            samples = harness.interleave({key: em.invoke for key, em in emulators.items()}, args.n, args.seed)
        harness.print_p50s(f"under AWS RIE ({Path(rie).name}), call by call, n={args.n} each, p50; "
                           f"load average {load:.2f} -> {os.getloadavg()[0]:.2f}", samples, "awslambdaric directly")
    finally:
        ws.close()
        shutil.rmtree(ws.root, ignore_errors=True)


if __name__ == "__main__":
    main()
