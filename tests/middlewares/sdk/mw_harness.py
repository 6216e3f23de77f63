"""Drive middleware executables the way the orchestrator does, over real pipes.

exec mode: `EXE <hook>` with the payload on STDIN and the context in the environment.
persistent mode: `EXE --persistent`, a ready frame, then request/answer frames.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
MIDDLEWARES = REPO / "middlewares"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:demo"
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
TIMEOUT_S = 20.0


def middleware(name: str) -> Path:
    """The executable for middleware NAME (the DIR/NAME/NAME lookup rule)."""
    return MIDDLEWARES / name / name


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without anything a middleware reads."""
    prefixes = ("OPENRUNTIME_", "VALIDATE_", "LOG_", "_X_AMZN_TRACE_ID", "LAMBDA_TASK_ROOT",
                "METRICS_", "OTEL_", "TRACE_", "TRACEPARENT", "TRACESTATE", "AWS_XRAY_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(extra or {})
    return env


@dataclass
class ExecResult:
    status: int
    stdout: bytes
    stderr: str
    state: bytes  # the state file's content after the call

    def json(self) -> Any:
        return json.loads(self.stdout)

    def stderr_tail(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""


def run_exec(
    exe: Path,
    hook: str,
    payload: bytes,
    *,
    state_file: Path | None = None,
    env: dict[str, str] | None = None,
    content_type: str = "application/json",
    request_id: str = "req-1",
    deadline_ms: int | None = None,
) -> ExecResult:
    e = clean_env(env)
    e.update(
        OPENRUNTIME_HOOK=hook,
        OPENRUNTIME_REQUEST_ID=request_id,
        OPENRUNTIME_DEADLINE_MS=str(deadline_ms if deadline_ms is not None else now_ms() + 60_000),
        OPENRUNTIME_FUNCTION_ARN=ARN,
        _X_AMZN_TRACE_ID=TRACE,
        OPENRUNTIME_CONTENT_TYPE=content_type,
        OPENRUNTIME_MIDDLEWARE=exe.name,
    )
    if state_file is not None:
        state_file.touch()
        e["OPENRUNTIME_STATE_FILE"] = str(state_file)
    proc = subprocess.run([str(exe), hook], input=payload, capture_output=True, env=e, timeout=TIMEOUT_S)
    state = state_file.read_bytes() if state_file is not None else b""
    return ExecResult(proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"), state)


@dataclass
class Frame:
    header: dict[str, Any]
    payload: bytes
    header_bytes: int = 0  # the header line as written, newline included

    @property
    def action(self) -> str:
        return str(self.header.get("action", ""))

    def json(self) -> Any:
        return json.loads(self.payload)


class Persistent:
    """One persistent middleware process."""

    def __init__(self, exe: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ("--persistent",)):
        self.exe = exe
        self._stderr = tempfile.TemporaryFile()
        e = clean_env(env)
        e["OPENRUNTIME_PROTOCOL"] = "2"
        # The child writes through a description of its own, in append mode: sharing ours,
        # it would write at the offset `stderr()` just seeked to 0, over what it wrote before.
        with open(f"/proc/self/fd/{self._stderr.fileno()}", "ab") as child_stderr:
            self.proc = subprocess.Popen(
                [str(exe), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=child_stderr,
                env=e, start_new_session=True,
            )
        self._buf = bytearray()
        self.ready: Frame | None = None
        self.frame_log: list[str] = []  # answer frames' `log` lines, which an orchestrator logs

    def start(self) -> Frame:
        self.ready = self.read_frame()
        return self.ready

    # ---------------------------------------------------------------- reading

    def _fill(self, deadline: float) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"no answer from {self.exe.name}; stderr: {self.stderr()[-2000:]}")
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise EOFError(f"{self.exe.name} closed STDOUT; stderr: {self.stderr()[-2000:]}")
        self._buf += chunk

    def read_frame(self, timeout: float = TIMEOUT_S) -> Frame:
        deadline = time.monotonic() + timeout
        while (nl := self._buf.find(b"\n")) < 0:
            self._fill(deadline)
        line = bytes(self._buf[: nl + 1])
        del self._buf[: nl + 1]
        assert b"\n" not in line[:-1], "a header must be one line"
        header = json.loads(line)
        length = header["length"]
        while len(self._buf) < length:
            self._fill(deadline)
        payload = bytes(self._buf[:length])
        del self._buf[:length]
        if isinstance(header.get("log"), list):
            self.frame_log += header["log"]
        return Frame(header, payload, len(line))

    def assert_quiet(self, wait_s: float = 0.2) -> None:
        """Nothing more on STDOUT: each request got exactly one answer."""
        assert self.proc.stdout is not None
        ready = select.select([self.proc.stdout.fileno()], [], [], wait_s)[0]
        assert not self._buf and not ready, "unexpected extra output on STDOUT"

    # ---------------------------------------------------------------- writing

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def call(
        self,
        hook: str,
        payload: bytes,
        *,
        state: Any = None,
        content_type: str = "application/json",
        request_id: str = "req-1",
        deadline_ms: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Frame:
        header = {
            "hook": hook,
            "request_id": request_id,
            "deadline_ms": deadline_ms if deadline_ms is not None else now_ms() + 60_000,
            "function_arn": ARN,
            "trace_id": TRACE,
            "content_type": content_type,
            "middleware": self.exe.name,
            "state": state,
            **(extra or {}),
            "length": len(payload),
        }
        self.send_raw(json.dumps(header, separators=(",", ":")).encode() + b"\n" + payload)
        return self.read_frame()

    # ---------------------------------------------------------------- lifecycle

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def log(self) -> str:
        """What an orchestrator would log for it: its STDERR, then its answers' `log` lines."""
        return self.stderr() + "".join(line + "\n" for line in self.frame_log)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close_stdin(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=TIMEOUT_S)

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=TIMEOUT_S)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                try:
                    pipe.close()
                except BrokenPipeError:
                    pass
        self._stderr.close()


# ------------------------------------------------------------------------ pytest glue
import shutil  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402

import pytest  # noqa: E402

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


@pytest.fixture
def spawn() -> Iterator[Callable[..., Persistent]]:
    """Start persistent middlewares (ready frame read); all are killed after the test."""
    procs: list[Persistent] = []

    def start(exe: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ("--persistent",)) -> Persistent:
        proc = Persistent(exe, env, args)
        procs.append(proc)
        proc.start()
        return proc

    yield start
    for proc in procs:
        proc.kill()
