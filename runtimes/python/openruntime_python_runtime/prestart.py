"""Started by the openruntime layer's /opt/bootstrap before the orchestrator ran: wait
for the orchestrator's word, then become the runtime it would have started itself.

/opt/bootstrap starts this runtime first, so that its boot overlaps the orchestrator's
(docs/layers.md, "The runtime first"), with OPENRUNTIME_PRESTART_GO naming a file. The
orchestrator writes that file once its Runtime API proxy listens and it has checked that
this is the runtime it plans: the environment and folder it would have given it. Until
then nothing of the function runs and nothing is asked of the Runtime API (whatever
listens on the port before the proxy does is not ours to talk to); the orchestrator kills
a runtime that is not its plan while it waits here. Then: exactly that environment and
folder, a session of its own (so that `kill 0` in the function's code is not the
orchestrator's business), SIGINT back to Python's handler and SIGQUIT to its default (a
shell starts background commands with both ignored), and no descriptor but 0-2, as the
orchestrator's own start would give. The plan names this process's pid: a file left by an
earlier sandbox is not taken for it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

WAIT_S = 10.0  # Lambda's own init limit: no orchestrator takes longer to answer
# What the interpreter read from the environment as it started: a plan that says other
# values cannot be had by this process any more.
_INTERPRETER_SETTINGS = ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "PYTHONUSERBASE",
                         "PYTHONHASHSEED", "PYTHONUTF8", "PYTHONIOENCODING", "PYTHONDONTWRITEBYTECODE",
                         "PYTHONPYCACHEPREFIX", "PYTHONOPTIMIZE", "PYTHONWARNINGS", "PYTHONDEVMODE",
                         "PYTHONINTMAXSTRDIGITS", "PYTHONPLATLIBDIR")
EXIT_NOT_THE_PLAN = 3  # the orchestrator then starts its own runtime


def await_plan(path: str) -> None:
    """Block until the orchestrator's plan is in `path`, then apply it; exit if it cannot be."""
    plan = _read_when_there(path)
    env, cwd = plan.get("env"), plan.get("cwd")
    if not isinstance(env, dict) or not isinstance(cwd, str):
        _refuse(path, f"{path}: not a plan")
    differs = [name for name in _INTERPRETER_SETTINGS if env.get(name) != os.environ.get(name)]
    if differs:  # the orchestrator checks this too: a second line of defence
        _refuse(path, f"the orchestrator plans other interpreter settings ({', '.join(differs)}): "
                      "it starts its own runtime")
    os.chdir(cwd)
    if "PWD" in env:
        env = {**env, "PWD": cwd}  # as a shell started there would say (the runtime's own bootstrap is one)
    os.environ.clear()
    os.environ.update(env)
    try:
        os.setsid()
    except OSError:
        pass  # a session leader already
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    _close_inherited_descriptors()


def _read_when_there(path: str) -> dict[str, object]:
    """The plan, once written (the orchestrator renames it into place whole); only a file of
    this user's, readable by nobody else, is taken."""
    deadline = time.monotonic() + WAIT_S
    delay = 0.0002
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            delay = _pause(delay, deadline, path)
            continue
        except OSError as exc:
            _leave(f"{path}: {exc}")
        try:
            info = os.fstat(fd)
            if info.st_uid != os.getuid() or info.st_mode & 0o077:
                _leave(f"{path}: not this user's private file")
            with os.fdopen(fd, "rb") as f:
                fd = -1
                data = f.read(1 << 20)
        finally:
            if fd >= 0:
                os.close(fd)
        try:
            plan = json.loads(data)
        except ValueError:
            plan = None
        if not isinstance(plan, dict) or plan.get("pid") != os.getpid():
            # An earlier sandbox's, whose runtime had this pid: left as it is, ours
            # replaces it whole (a rename) when it comes.
            delay = _pause(delay, deadline, path)
            continue
        try:
            os.unlink(path)
        except OSError:
            pass
        return plan


def _pause(delay: float, deadline: float, path: str) -> float:
    """A short sleep before the next look (a millisecond late at most; a look costs a few
    µs); the next delay. Past the deadline: gone."""
    if time.monotonic() > deadline:
        _leave(f"no word from the orchestrator in {WAIT_S:g} s ({path})")
    time.sleep(delay)
    return min(delay * 2, 0.001)


def _close_inherited_descriptors() -> None:
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return
    for name in names:
        fd = int(name)
        if fd > 2:
            try:
                os.close(fd)
            except OSError:
                pass  # the listing's own descriptor, closed already


def _refuse(path: str, message: str) -> NoReturn:
    """Tell the orchestrator this runtime left because it could not take the plan (it then
    starts its own), not because the function's init failed (which it reports)."""
    try:
        os.close(os.open(f"{path}.refused", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    except OSError:
        pass
    _leave(message)


def _leave(message: str) -> NoReturn:
    sys.stderr.write(f"openruntime python runtime: {message}\n")
    sys.stderr.flush()
    os._exit(EXIT_NOT_THE_PLAN)

