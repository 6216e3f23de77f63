"""Child processes in their own process group, so a kill takes their children too."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import IO, Any


def spawn(
    command: Sequence[str],
    env: Mapping[str, str],
    cwd: str | os.PathLike[str] | None = None,
    stdin: int | IO[Any] | None = subprocess.DEVNULL,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    die_with_parent: bool = False,
) -> subprocess.Popen[bytes]:
    """Start `command` as the leader of a new process group (like the RIE does).

    `die_with_parent`: the child gets SIGKILL if the spawning thread's process dies, so a
    bootstrap killed outright (the emulator's timeout, Lambda's reset) leaves no orphan
    runtime or middleware behind, although they live in their own process groups.
    """
    return subprocess.Popen(
        list(command),
        env=dict(env),
        cwd=cwd,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        close_fds=True,
        preexec_fn=_set_parent_death_signal if die_with_parent and _prctl() else None,
    )


_PR_SET_PDEATHSIG = 1
_libc: Any = None


def _prctl() -> Any:
    """libc's prctl on Linux (None elsewhere); loaded once, before any fork."""
    global _libc
    if _libc is None:
        try:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.prctl  # noqa: B018 - raises AttributeError where there is none
        except (OSError, AttributeError):
            _libc = False
    return _libc or None


def _set_parent_death_signal() -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def kill_group(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal the whole process group of `process`; a no-op once it is gone."""
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(process: subprocess.Popen[bytes], grace_s: float = 0.5) -> int | None:
    """SIGTERM the group, wait up to `grace_s`, then SIGKILL it. Returns the exit status."""
    if process.poll() is None:
        kill_group(process, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            pass
    # The leader may be gone while its children linger: always finish the group.
    kill_group(process, signal.SIGKILL)
    try:
        return process.wait(5)
    except subprocess.TimeoutExpired:
        return None
