"""Helpers for the Node.js runtime tests (imported by name: no conftest clash)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from openruntime.emulator.sandbox import Emulator

REPO = Path(__file__).resolve().parents[3]
BOOTSTRAP = REPO / "runtimes" / "node" / "bootstrap"
HANDLERS = Path(__file__).resolve().parent / "handlers"

NODE = os.environ.get("OPENRUNTIME_NODE") or shutil.which("node")


def _node_major() -> int | None:
    if not NODE:
        return None
    try:
        out = subprocess.run([NODE, "--version"], capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    try:
        return int(out.stdout.strip().lstrip("v").split(".")[0])
    except ValueError:
        return None


NODE_MAJOR = _node_major()

requires_node = pytest.mark.skipif(
    NODE_MAJOR is None or NODE_MAJOR < 18,
    reason="the Node.js runtime needs node >= 18 on PATH (or $OPENRUNTIME_NODE)",
)


@contextmanager
def node_function(
    fixture: str,
    handler: str,
    *,
    timeout_s: float = 10.0,
    command: list[str] | None = None,
    env: dict[str, str] | None = None,
    **kwargs,
) -> Iterator[Emulator]:
    """An emulator running `runtimes/node/bootstrap HANDLER` in handlers/FIXTURE."""
    task_root = HANDLERS / fixture
    if command is None:
        command = [str(BOOTSTRAP), handler]
    full_env = {"_HANDLER": handler}
    if NODE:
        full_env["OPENRUNTIME_NODE"] = NODE
    full_env.update(env or {})
    with Emulator(
        command=command, cwd=str(task_root), env=full_env, timeout_s=timeout_s, **kwargs
    ) as emu:
        yield emu
