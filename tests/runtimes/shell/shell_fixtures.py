"""Helpers for the shell runtime tests (imported by name: no conftest clash)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from openruntime.emulator.sandbox import Emulator

REPO = Path(__file__).resolve().parents[3]
SHELL_BOOTSTRAP = REPO / "runtimes" / "shell" / "bootstrap"
SHELL_HANDLERS = Path(__file__).resolve().parent / "handlers"

requires_bash_and_curl = pytest.mark.skipif(
    not (shutil.which("bash") and shutil.which("curl")),
    reason="the shell runtime needs bash and curl",
)


@contextmanager
def shell_function(
    handler: str,
    *,
    task_root: Path = SHELL_HANDLERS,
    timeout_s: float = 10.0,
    command: list[str] | None = None,
    env: dict[str, str] | None = None,
    **kwargs,
) -> Iterator[Emulator]:
    """An emulator running `runtimes/shell/bootstrap HANDLER` with TASK_ROOT as cwd."""
    with Emulator(
        command=command or [str(SHELL_BOOTSTRAP), handler],
        cwd=str(task_root),
        env={"_HANDLER": handler, **(env or {})},
        timeout_s=timeout_s,
        **kwargs,
    ) as emu:
        yield emu
