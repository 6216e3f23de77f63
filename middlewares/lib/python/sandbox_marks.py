"""Facts that outlive one middleware process but not the sandbox: "first invocation here?".

An exec-mode middleware is a new process at every hook call, and a persistent one may be
replaced after a crash, so neither can keep "this is the sandbox's first invocation" in
memory. The orchestrator is the sandbox's one long-lived process and every middleware's
parent; a mark is a file in a folder named after it (pid and start time, so a reused pid
is another folder), under the temporary folder (`/tmp` on Lambda, kept while the sandbox
lives, fresh in a new one). Folders of orchestrators that are gone are removed when a new
folder is made: once per sandbox.

Stdlib only, a few system calls per check; `mark_once` answers from memory after its
first answer in a process (persistent mode).
"""

from __future__ import annotations

import os

PREFIX = "openruntime-marks-"
_known: dict[str, bool] = {}
_folder: str | None = None


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' where /proc is not there)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _temporary_folder() -> str:
    """tempfile.gettempdir()'s first choices, without importing tempfile (~5 ms, paid by
    every exec-mode call)."""
    for name in ("TMPDIR", "TEMP", "TMP"):
        folder = os.environ.get(name)
        if folder and os.path.isdir(folder):
            return folder
    return "/tmp"


def _sweep(base: str, keep: str) -> None:
    import shutil  # once per sandbox

    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        pid_text = name[len(PREFIX):].split("-", 1)[0]
        if name.startswith(PREFIX) and name != keep and pid_text.isdigit() and not _alive(int(pid_text)):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)


def sandbox_folder() -> str:
    """This sandbox's marks folder (made on first use)."""
    global _folder
    if _folder is None:
        parent = os.getppid()
        base = _temporary_folder()
        name = f"{PREFIX}{parent}-{_start_time(parent) or 'x'}"
        path = os.path.join(base, name)
        try:
            os.mkdir(path, 0o700)
            _sweep(base, name)  # a new folder: a new sandbox (or orchestrator), once
        except FileExistsError:
            pass
        _folder = path
    return _folder


def mark_once(name: str) -> bool:
    """True the first time `name` is marked in this sandbox, False every time after."""
    answer = _known.get(name)
    if answer is not None:
        return False
    try:
        fd = os.open(os.path.join(sandbox_folder(), name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        first = False
    except OSError:  # no writable temporary folder: say "first" once per process
        first = True
    else:
        os.close(fd)
        first = True
    _known[name] = first
    return first


def is_marked(name: str) -> bool:
    return os.path.exists(os.path.join(sandbox_folder(), name))


def unmark(name: str) -> None:
    _known.pop(name, None)
    try:
        os.unlink(os.path.join(sandbox_folder(), name))
    except OSError:
        pass
