"""Shared by the tests of the middlewares that read AWS events (cloudevents, http, validate):
the AWS event samples, a middleware executable in persistent mode driven frame by frame,
and a pipeline file around the test app.

Importable as `aws_fixtures`: the conftest.py of each of those test folders puts
tests/middlewares on sys.path (there is no package __init__ in tests/middlewares).
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import AWS_EVENTS, write_pipeline

FIXTURES = AWS_EVENTS
ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.json"))
MALFORMED = sorted(p.name for p in (FIXTURES / "malformed").glob("*.json"))


def require_fixtures() -> None:
    """Stop the tests that need the samples, with a clear message, when they are not there."""
    if not FIXTURES.is_dir():
        pytest.fail(f"AWS event fixtures not found at {FIXTURES}", pytrace=False)


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load(name: str) -> Any:
    return json.loads(raw(name))


# ---------------------------------------------------------------- persistent mode


def frame(header: dict[str, Any], payload: bytes) -> bytes:
    return json.dumps({**header, "length": len(payload)}).encode() + b"\n" + payload


def read_frame(stream: Any) -> tuple[dict[str, Any], bytes]:
    header = json.loads(stream.readline())
    return header, stream.read(header["length"]) if header["length"] else b""


class PersistentProcess:
    """An executable started with `--persistent` (protocol 2) over pipes."""

    def __init__(self, executable: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [str(executable), "--persistent"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env={**env, "OPENRUNTIME_PROTOCOL": "2"},
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        assert self.process.stderr is not None
        self.stderr = ""  # all of STDERR, once closed
        self.frame_log: list[str] = []  # answer frames' `log` lines, which an orchestrator logs
        # Read all along: a middleware that logs more than a pipe holds must not block.
        self._stderr_chunks: list[bytes] = []
        self._stderr_reader = threading.Thread(target=self._collect_stderr, daemon=True)
        self._stderr_reader.start()

    def _collect_stderr(self) -> None:
        assert self.process.stderr is not None
        for chunk in iter(lambda: self.process.stderr.read1(65536), b""):  # type: ignore[union-attr]
            self._stderr_chunks.append(chunk)

    def read(self) -> tuple[dict[str, Any], bytes]:
        """The next frame: (header, payload)."""
        header, payload = read_frame(self.process.stdout)
        if isinstance(header.get("log"), list):
            self.frame_log += header["log"]
        return header, payload

    @property
    def log(self) -> str:
        """What an orchestrator would log for it (once closed): STDERR, then the answers' `log` lines."""
        return self.stderr + "".join(line + "\n" for line in self.frame_log)

    def send(self, header: dict[str, Any], payload: bytes) -> tuple[dict[str, Any], bytes]:
        """One request frame, and the answer frame."""
        self.process.stdin.write(frame(header, payload))  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]
        return self.read()

    def close(self) -> None:
        """Close STDIN; the process must then exit with status 0."""
        self.process.stdin.close()  # type: ignore[union-attr]
        assert self.process.wait(timeout=10) == 0
        self._stderr_reader.join(10)
        self.stderr = b"".join(self._stderr_chunks).decode()
        self.process.stdout.close()  # type: ignore[union-attr]
        self.process.stderr.close()  # type: ignore[union-attr]


@contextmanager
def persistent(executable: Path, env: dict[str, str]) -> Iterator[PersistentProcess]:
    """The executable in persistent mode, closed (exit status 0 asserted) at the end."""
    process = PersistentProcess(executable, env)
    try:
        yield process
    finally:
        process.close()


# ---------------------------------------------------------------- pipelines


def pipeline_for(folder: Path, task_root: Path, middlewares: list[dict[str, Any]],
                 handler: str = "app.handler") -> Path:
    """A pipeline file in `folder`: the Python runtime with `handler` from `task_root`
    (the `hello_app` fixture's app), behind `middlewares`."""
    document = {
        "runtime": {"name": "python", "handler": handler, "task_root": str(task_root)},
        "middlewares": middlewares,
    }
    return write_pipeline(folder, yaml.safe_dump(document))
