"""The folder of exec middlewares' per-invocation state files, one per orchestrator.

`state_root()` is `$TMPDIR/openruntime-state-<pid>`: removed at a clean shutdown, and
swept by the next orchestrator when its owner died without cleaning up (SIGKILL, reset).
"""

from __future__ import annotations

import os

STATE_ROOT_PREFIX = "openruntime-state-"
_state_root: str | None = None


def state_root() -> str:
    """This orchestrator's folder for invocation state: `$TMPDIR/openruntime-state-<pid>`.

    An orchestrator killed outright (SIGKILL, a sandbox reset) cannot remove its
    invocations' state files; the next one removes the folders of processes that are
    gone, the first time it needs its own. A folder of that name that is not ours (another
    user's, a link) is not used: then a private temporary folder is."""
    global _state_root
    if _state_root is None:
        import tempfile

        base = tempfile.gettempdir()
        _sweep_state_roots(base)
        root = os.path.join(base, f"{STATE_ROOT_PREFIX}{os.getpid()}")
        try:
            os.mkdir(root, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(root)
        if not (os.path.isdir(root) and not os.path.islink(root) and info.st_uid == os.getuid()
                and info.st_mode & 0o077 == 0):
            root = tempfile.mkdtemp(prefix=STATE_ROOT_PREFIX)
        _state_root = root
    return _state_root


def remove_state_root() -> None:
    """At a clean shutdown: this orchestrator's state folder goes (with any state file left in it)."""
    global _state_root
    if _state_root is not None:
        import shutil

        shutil.rmtree(_state_root, ignore_errors=True)
        _state_root = None


def _sweep_state_roots(base: str) -> None:
    import shutil

    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        pid_text = name[len(STATE_ROOT_PREFIX):]
        if not name.startswith(STATE_ROOT_PREFIX) or not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:  # its orchestrator is gone: what it left behind goes too
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
        except (PermissionError, OverflowError):
            pass  # alive, another user's; or not a pid
