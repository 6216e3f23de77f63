"""Child processes in their own process group, so a kill takes their children too.

`spawn` is `subprocess.Popen`. `fork_exec` + `adopt` start the sub-runtime on the cold
path without it: `subprocess` (signal, selectors, threading, locale → re, enum) costs
~13 ms of a `python -S` start and ctypes ~2 ms, so `fork_exec` forks with `os` only and
returns without waiting for the exec, and `adopt` turns the child into a `ChildProcess`
(`Popen`'s wait/poll/kill, nothing more; a failed exec is an `OSError`, like `Popen`'s).
A pipeline with no exec middleware never imports `subprocess` before its first restart.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal's C half: its constants without importing signal (enum, ~5 ms)
import _thread
import errno
import os
import time

SIGKILL = _signal.SIGKILL
SIGTERM = _signal.SIGTERM

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Mapping, Sequence
    from typing import IO, Any, TypeAlias

    from openruntime.short_slice import short_slice

    Process: TypeAlias = "subprocess.Popen[bytes] | ChildProcess"  # what spawn or adopt gave

DEVNULL = -3  # subprocess.DEVNULL
PIPE = -1  # subprocess.PIPE


def spawn(
    command: Sequence[str],
    env: Mapping[str, str],
    cwd: str | os.PathLike[str] | None = None,
    stdin: int | IO[Any] | None = DEVNULL,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    die_with_parent: bool = False,
) -> subprocess.Popen[bytes]:
    """Start `command` as the leader of a new process group (like the RIE does).

    `die_with_parent`: the child gets SIGKILL if the spawning thread's process dies, so a
    bootstrap killed outright (the emulator's timeout, Lambda's reset) leaves no orphan
    runtime or middleware behind, although they live in their own process groups.
    """
    import subprocess

    with _spawning():
        process = subprocess.Popen(
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
        _spawned.add(process.pid)
    return process


_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_libc_prctl: Any = None


def _prctl() -> Any:
    """libc's prctl on Linux (None elsewhere); loaded once, before any fork."""
    global _libc_prctl
    if _libc_prctl is None:
        _libc_prctl = libc_function("prctl") or False
    return _libc_prctl or None


# -- libc's functions for the calls `os` lacks (prctl, syscall) -------------------------------
# Built from `_ctypes`, the extension ctypes wraps: importing ctypes itself costs ~2 ms of the
# cold start (it defines every C type). Here, not in a module of their own: prctl is loaded
# on every cold start (fork_exec), and a module more costs 0.1-0.6 ms to import there.

_libc_functions: dict[tuple[str, bool], Any] = {}
_libc_make: Callable[[str, bool], Any] | None = None  # (name, returns a long) → the function
_c_long: Any = None


def libc_function(name: str, returns_long: bool = False) -> Any | None:
    """libc's `name`, errno kept for `libc_errno`; None where it cannot be loaded. It returns
    a C int, or a C long (`returns_long`: syscall's). Python ints are passed as C ints: wrap
    in `c_long()` what must be a long."""
    key = (name, returns_long)
    if key not in _libc_functions:
        try:
            _libc_functions[key] = _libc_loader()(name, returns_long)
        except (ImportError, OSError, AttributeError, TypeError):
            _libc_functions[key] = None
    return _libc_functions[key]


def c_long(value: int) -> Any:
    """`value` as a C long: what a variadic function such as syscall() reads."""
    _libc_loader()
    return _c_long(value)


def libc_errno() -> int:
    """errno as the last call through `libc_function` left it."""
    import _ctypes

    return int(_ctypes.get_errno())


def _libc_loader() -> Callable[[str, bool], Any]:
    global _libc_make, _c_long
    if _libc_make is None:
        try:
            import _ctypes

            handle = _ctypes.dlopen(None, os.RTLD_NOW)  # type: ignore[arg-type]

            class _Process:  # what CFuncPtr((name, library)) reads: the dlopen handle
                _handle = handle

            class _Int(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_int
                _type_ = "i"

            class _Long(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_long
                _type_ = "l"

            class _ReturnsInt(_ctypes.CFuncPtr):  # ctypes.CDLL(None, use_errno=True)._FuncPtr
                _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
                _restype_ = _Int

            class _ReturnsLong(_ctypes.CFuncPtr):
                _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
                _restype_ = _Long

            def make(name: str, returns_long: bool) -> Any:
                return (_ReturnsLong if returns_long else _ReturnsInt)((name, _Process))  # type: ignore[arg-type]

            _c_long = _Long
        except (AttributeError, TypeError):
            import ctypes

            library = ctypes.CDLL(None, use_errno=True)

            def make(name: str, returns_long: bool) -> Any:
                loaded = getattr(library, name)
                loaded.restype = ctypes.c_long if returns_long else ctypes.c_int
                return loaded

            _c_long = ctypes.c_long
        _libc_make = make
    return _libc_make


def _set_parent_death_signal() -> None:
    _libc_prctl(_PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)


# -- the cold start's spawn ----------------------------------------------------------------


class EarlyChild:
    """A child from `fork_exec`: its pid, its STDERR's read end, and the pipe on which
    it reports a failed exec (closed unread when the exec succeeded)."""

    __slots__ = ("args", "cwd", "pid", "status_fd", "stderr_fd")

    def __init__(self, args: list[str], cwd: str | None, pid: int, stderr_fd: int, status_fd: int) -> None:
        self.args, self.cwd, self.pid, self.stderr_fd, self.status_fd = args, cwd, pid, stderr_fd, status_fd


def spawn_piped(command: Sequence[str], env: Mapping[str, str], stdin: bytes = b"") -> PipedChild:
    """Start `command` as the leader of a new session, its STDIN, STDOUT and STDERR on
    pipes, `stdin` already in its STDIN (as much as the pipe holds; the rest is the
    caller's to write, and STDIN is closed when all of it is there). `OSError` when it
    cannot be started, as from `Popen`.

    What `spawn(..., PIPE ×3)` does, through posix_spawn: glibc's vfork, no Python between
    fork and exec, no file objects; ~0.2 ms where `Popen` takes ~0.35 ms. An exec
    middleware pays a spawn on every hook call. The input is written first so that the
    child never waits for this process: on a busy machine, each wait is a wait for a CPU.
    The child gets SIGPIPE and SIGXFSZ back at their defaults (Python ignores them) and
    only descriptors 0–2: this process's own are close-on-exec, and what it inherited is
    made so once (`_seal_inherited_fds`)."""
    global _inherited_sealed, short_slice
    if not _inherited_sealed:  # the first spawn: not on the cold start's path
        from openruntime.short_slice import short_slice

        _seal_inherited_fds()
        _inherited_sealed = True
    program = _find_program(command[0], env)
    argv = list(command)
    # Straight-line, few calls: in a hook call each bytecode costs ~36 ns, several times
    # what a warm loop shows (the caches are cold between spawns; docs/benchmarks.md).
    fds: tuple[int, ...] = ()
    try:
        fds = os.pipe2(os.O_CLOEXEC)
        fds += os.pipe2(os.O_CLOEXEC)
        fds += os.pipe2(os.O_CLOEXEC)
        if min(fds) < 3:
            moving, fds = fds, ()
            fds = _above_2(moving)
        stdin_read, stdin_write, stdout_read, stdout_write, stderr_read, stderr_write = fds
        os.set_blocking(stdin_write, False)  # this side's ends only: the child's stay blocking
        os.set_blocking(stdout_read, False)
        os.set_blocking(stderr_read, False)
        written = _prefill(stdin_write, stdin)
        with _spawning(), short_slice():  # the child starts on a short slice: short_slice.py
            pid = os.posix_spawn(
                program, argv, env,
                file_actions=[(_DUP2, stdin_read, 0), (_DUP2, stdout_write, 1), (_DUP2, stderr_write, 2)],
                setsid=True, setsigdef=_DEFAULT_IN_CHILD,
            )
            _spawned.add(pid)
    except BaseException as exc:
        if isinstance(exc, FileNotFoundError):
            _programs.pop((command[0], env.get("PATH")), None)  # it went away: look again next time
        for fd in fds:
            os.close(fd)
        raise
    os.close(stdin_read)
    os.close(stdout_write)
    os.close(stderr_write)
    child = PipedChild(argv, pid, stdin_write, stdout_read, stderr_read, written)
    if written == len(stdin):
        child.close_stdin()
    return child


class PipedChild:
    """A child of `spawn_piped`: `ChildProcess`'s bookkeeping, and this side's pipe ends
    (non-blocking; -1 once closed)."""

    def __init__(self, args: list[str], pid: int, stdin: int, stdout: int, stderr: int, written: int) -> None:
        self.process = ChildProcess(args, pid, None)
        self.stdin_fd, self.stdout_fd, self.stderr_fd = stdin, stdout, stderr
        self.written = written  # of the input, already in the pipe

    def close_stdin(self) -> None:
        if self.stdin_fd >= 0:
            os.close(self.stdin_fd)
            self.stdin_fd = -1

    def close_pipes(self) -> None:
        for fd in (self.stdin_fd, self.stdout_fd, self.stderr_fd):
            if fd >= 0:
                os.close(fd)
        self.stdin_fd = self.stdout_fd = self.stderr_fd = -1


_PIPE_CAPACITY = 1 << 16
_PIPE_MAX = 1 << 20  # /proc/sys/fs/pipe-max-size's default: what an unprivileged process may ask


def _prefill(fd: int, data: bytes) -> int:
    """Write what the pipe takes now (a bigger pipe first for a bigger input); bytes written."""
    if not data:
        return 0
    if len(data) > _PIPE_CAPACITY:
        import fcntl

        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, min(len(data), _PIPE_MAX))
        except OSError:
            pass  # over the user's pipe quota: the caller writes the rest as it is read
    try:
        return os.write(fd, data)
    except BlockingIOError:
        return 0


_DUP2 = os.POSIX_SPAWN_DUP2
_DEFAULT_IN_CHILD = tuple(getattr(_signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(_signal, name))
_inherited_sealed = False
_programs: dict[tuple[str, str | None], str] = {}  # (command[0], PATH) → the file posix_spawn runs


def _above_2(fds: tuple[int, ...]) -> tuple[int, ...]:
    """`fds`, each moved above 2 when it took the number of a closed STDIN/STDOUT/STDERR
    (posix_spawn's dup2 onto 0-2 would then overwrite one end before it is used). When a
    move fails, every one of `fds` is closed."""
    import fcntl

    moved = list(fds)
    try:
        for index, fd in enumerate(fds):
            if fd <= 2:
                moved[index] = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
                os.close(fd)
    except BaseException:
        for fd in moved:  # what is open: each copy, and each original not yet moved (the failed one)
            os.close(fd)
        raise
    return tuple(moved)


def _find_program(name: str, env: Mapping[str, str]) -> str:
    """`name` along the PATH of `env`, as `Popen` looks it up (the first executable file)."""
    if "/" in name:
        return name
    key = (name, env.get("PATH"))
    found = _programs.get(key)
    if found is None:
        for folder in os.get_exec_path(env):
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                found = _programs[key] = candidate
                break
        else:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)
    return found


def _seal_inherited_fds() -> None:
    """Close-on-exec for every descriptor above 2 that this process inherited (Python makes
    its own so): children never get them, as `Popen(close_fds=True)` promises."""
    for fd in _open_fds():
        try:
            if os.get_inheritable(fd):
                os.set_inheritable(fd, False)
        except OSError:
            pass  # closed meanwhile (the listing's own descriptor among them)


def fork_exec(command: Sequence[str], env: Mapping[str, str], cwd: str | None) -> EarlyChild:
    """`spawn(command, env, cwd=cwd, stderr=PIPE, die_with_parent=True)` without
    `subprocess`; returns right after the fork (the child execs on another core while this
    process goes on importing). Only while this process has one thread: it forks.

    The child does what `Popen` does: STDIN from /dev/null, STDERR into a pipe, every
    other inherited descriptor closed, SIGPIPE/SIGXFSZ back to their defaults, a new
    session, the working directory, PR_SET_PDEATHSIG, then execve along the PATH of `env`
    when the program has no slash. A failure goes back as "errno:step:detail" on a
    close-on-exec pipe, which the exec otherwise closes unwritten.
    """
    args = [os.fspath(a) for a in command]
    env = dict(env)
    program = args[0]
    if os.path.dirname(program):
        executables = [program]
    else:
        executables = [os.path.join(d, program) for d in os.get_exec_path(env)]
    prctl = _prctl()
    parent = os.getpid()
    inherited = _open_fds()
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    err_read, err_write = os.pipe()
    status_read, status_write = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:  # the child: no return from here
            _child(args, env, cwd, executables, prctl, parent, inherited, devnull, err_write, status_write)
    except BaseException:
        os.close(err_read)
        os.close(status_read)
        raise
    finally:
        os.close(devnull)
        os.close(err_write)
        os.close(status_write)
    _spawned.add(pid)
    return EarlyChild(args, cwd, pid, err_read, status_read)


def _open_fds() -> list[int]:
    try:
        return sorted(int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) > 2)
    except OSError:
        return list(range(3, 256))


def _child(
    args: list[str], env: dict[str, str], cwd: str | None, executables: list[str], prctl: Any,
    parent: int, inherited: list[int], devnull: int, err_write: int, status_write: int,
) -> None:
    step = "setup"
    try:
        for fd, target in ((devnull, 0), (err_write, 2)):
            if fd == target:  # the parent had it closed: the new descriptor took its number
                os.set_inheritable(fd, True)
            else:
                os.dup2(fd, target)
        if cwd is not None:
            step = "chdir"
            os.chdir(cwd)
            step = "setup"
        for name in ("SIGPIPE", "SIGXFSZ"):  # Python ignores them; a child starts with the defaults
            if hasattr(_signal, name):
                _signal.signal(getattr(_signal, name), _signal.SIG_DFL)
        os.setsid()
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before the signal was armed
                os._exit(255)
        for fd in inherited:
            if fd != status_write:
                try:
                    os.close(fd)
                except OSError:
                    pass
        step = "exec"
        first_error: OSError | None = None
        error: OSError | None = None
        for executable in executables:
            try:
                os.execve(executable, args, env)
            except OSError as exc:
                error = exc
                if first_error is None and exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                    first_error = exc
        raise first_error or error or OSError(errno.ENOENT, os.strerror(errno.ENOENT))
    except BaseException as exc:  # noqa: BLE001 - whatever it is, the parent hears of it
        try:
            number = exc.errno if isinstance(exc, OSError) and exc.errno else 0
            detail = "" if isinstance(exc, OSError) and exc.errno else f"{type(exc).__name__}: {exc}"
            os.write(status_write, f"{number}:{step}:{detail}".encode("utf-8", "replace"))
        finally:
            os._exit(255)


def adopt(child: EarlyChild) -> ChildProcess:
    """The child of `fork_exec`, with `stderr` on the pipe; `OSError` (as `Popen` raises
    it) when the exec failed, after reaping the child."""
    report = b""
    try:
        while chunk := os.read(child.status_fd, 4096):  # EOF: the exec closed it
            report += chunk
    finally:
        os.close(child.status_fd)
    if report:
        os.close(child.stderr_fd)
        try:
            os.waitpid(child.pid, 0)
        except ChildProcessError:
            pass
        number_text, step, detail = report.decode("utf-8", "replace").split(":", 2)
        number = int(number_text)
        if not number:
            raise OSError(f"cannot start {child.args[0]!r}: {detail}")
        filename = child.cwd if step == "chdir" else child.args[0] if step == "exec" else None
        raise OSError(number, os.strerror(number), filename)

    return ChildProcess(child.args, child.pid, open(child.stderr_fd, "rb"))  # noqa: SIM115 - as Popen(stderr=PIPE)


def adopt_started(args: list[str], pid: int) -> ChildProcess:
    """A child this process did not fork itself: one the layer's /opt/bootstrap started
    before it exec'd into this interpreter (it inherited the shell's pid, so the shell's
    children are its own). Its STDERR is the sandbox's, not a pipe; it leads no group."""
    _spawned.add(pid)  # its owner (the SubRuntime) reaps it, not the orphan sweep
    return ChildProcess(args, pid, None)


class ChildProcess:
    """A running child of `fork_exec`, with `Popen`'s bookkeeping for it: `poll`, `wait`
    (with a timeout: `subprocess.TimeoutExpired`), `send_signal`/`kill`, and the waitpid
    lock that lets one thread block in `wait()` while another polls."""

    stdin = None
    stdout = None

    def __init__(self, args: list[str], pid: int, stderr: IO[bytes] | None) -> None:
        self.args, self.pid, self.stderr = args, pid, stderr
        self.returncode: int | None = None
        self._waitpid_lock = _thread.allocate_lock()

    def _reap(self, flags: int) -> None:
        """One waitpid; the caller holds the lock."""
        if self.returncode is not None:
            return
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:  # reaped elsewhere: Popen reports 0 then too
            self.returncode = 0
            return
        if pid == self.pid:
            self.returncode = os.waitstatus_to_exitcode(status)
            _spawned.discard(pid)  # its number is free again: an orphan may get it next

    def poll(self) -> int | None:
        if self.returncode is None and self._waitpid_lock.acquire(False):
            try:
                self._reap(os.WNOHANG)
            finally:
                self._waitpid_lock.release()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if timeout is None:
            with self._waitpid_lock:
                while self.returncode is None:
                    self._reap(0)
            return self.returncode
        status = self.wait_at_most(timeout)
        if status is None:
            import subprocess

            raise subprocess.TimeoutExpired(self.args, timeout)
        return status

    def wait_at_most(self, timeout: float) -> int | None:
        """The exit status, or None if it is still running after `timeout` seconds."""
        end = time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return None
            delay = min(delay * 2, remaining, 0.05)
            time.sleep(delay)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(SIGKILL)

    def terminate(self) -> None:
        self.send_signal(SIGTERM)


def kill_group(process: Process, sig: int = SIGKILL) -> None:
    """Signal the whole process group of `process`; a no-op once it is gone. A process that
    leads no group yet (a runtime /opt/bootstrap started, before it takes its own session)
    is signalled alone: no group has its pid for id, and its group is ours."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        if process.poll() is None:  # still ours, unreaped: its pid is not anyone else's
            try:
                os.kill(process.pid, sig)
            except ProcessLookupError:
                pass
    except PermissionError:
        pass


def wait_at_most(process: Process, timeout: float) -> int | None:
    """The exit status of `process`, or None if it still runs after `timeout` seconds."""
    if isinstance(process, ChildProcess):
        return process.wait_at_most(timeout)
    import subprocess  # a Popen: loaded already

    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def stop_group(process: Process, grace_s: float = 0.5) -> int | None:
    """SIGTERM the group, wait up to `grace_s`, then SIGKILL it. Returns the exit status."""
    if process.poll() is None:
        kill_group(process, SIGTERM)
        wait_at_most(process, grace_s)
    # The leader may be gone while its children linger: always finish the group.
    kill_group(process, SIGKILL)
    return wait_at_most(process, 5)


# -- a whole tree, as a sandbox reset ends it ------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) from /proc; None once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[19])  # ppid (4th field), starttime (22nd)


def parent_of(pid: int) -> int | None:
    """`pid`'s parent now (None once it is gone, or without /proc)."""
    stat = _stat(pid)
    return stat[0] if stat is not None else None


def descendants(pid: int) -> dict[int, int]:
    """Every process below `pid` right now, in any group or session: pid → start time
    (so that a pid reused later is never mistaken for one of them). Empty without /proc."""
    children: dict[int, list[tuple[int, int]]] = {}
    try:
        entries = [int(e) for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return {}
    for child in entries:
        stat = _stat(child)
        if stat is not None:
            children.setdefault(stat[0], []).append((child, stat[1]))
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        for child, started in children.get(todo.pop(), ()):
            if child not in found:
                found[child] = started
                todo.append(child)
    return found


def _signal_if_same(pid: int, started: int, sig: int) -> None:
    stat = _stat(pid)
    if stat is not None and stat[1] == started:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def kill_tree(process: Process, grace_s: float | None = None) -> None:
    """End `process`, its group, and every process below it, including those in groups and
    sessions of their own (runtimes and middlewares start in new sessions, and so may what
    they start): what a Lambda sandbox reset does. With `grace_s`, the group gets SIGTERM
    first and that long to clean up; without, everything is frozen, then killed."""
    below = descendants(process.pid)
    if grace_s is None:
        for pid, started in [*below.items()]:
            _signal_if_same(pid, started, _signal.SIGSTOP)  # frozen: nothing forks while we look
        kill_group(process, _signal.SIGSTOP)
        below.update(descendants(process.pid))
        kill_group(process)
    else:
        stop_group(process, grace_s)
    for pid, started in below.items():
        _signal_if_same(pid, started, SIGKILL)


# -- orphans: what a child started and left behind -------------------------------------------

_spawned: set[int] = set()  # pids this process started itself: their owners reap them
# A child can exit between its spawn and its pid's registration; the sweep must not reap
# it then (its owner would read status 0: "respond" and "fail" would become "continue").
# Spawns in flight are counted, and the sweep waits for none: it skips its turn.
_sweep_lock = _thread.allocate_lock()
_spawns_in_flight = 0


class _spawning:
    """`with _spawning():` around a spawn and the registration of its pid."""

    def __enter__(self) -> None:
        global _spawns_in_flight
        with _sweep_lock:
            _spawns_in_flight += 1

    def __exit__(self, *exc: object) -> None:
        global _spawns_in_flight
        with _sweep_lock:
            _spawns_in_flight -= 1


_subreaper = False  # become_subreaper() succeeded: orphans come to this process


def become_subreaper(parent_death_signal: int | None = None) -> bool:
    """Make this process the reaper of every orphan below it (PR_SET_CHILD_SUBREAPER).

    A middleware's child that calls `setsid` and whose parent exits would otherwise be
    reparented to init, out of every tree walk and kill: here it stays below us, so
    `end_descendants` finds it. `parent_death_signal`: the signal this process gets when
    its parent dies (SIGTERM: time to end its tree; SIGKILL would leave the orphans it
    adopted to init). False where prctl is not available (not Linux).
    """
    global _subreaper
    prctl = _prctl()
    if prctl is None:
        return False
    parent = os.getppid()
    if prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        return False
    _subreaper = True
    if parent_death_signal is not None and parent != 1:
        prctl(_PR_SET_PDEATHSIG, parent_death_signal, 0, 0, 0)
        if os.getppid() != parent:  # it died before the signal was armed
            os.kill(os.getpid(), parent_death_signal)
    return True


def reap_orphans() -> int:
    """Reap the exited orphans this subreaper adopted (never a child it spawned itself:
    that one's `Popen`/`ChildProcess` reaps it and needs its status). Returns how many;
    one `waitid` when there are none. A no-op in a process that is not a subreaper: its
    other children (a test runner's) are not ours to reap."""
    if not _subreaper:
        return 0
    reaped = 0
    with _sweep_lock:
        if _spawns_in_flight:
            return 0  # another thread's child may not be registered yet: next time
        while True:
            try:
                found = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return reaped
            if found is None or found.si_pid in _spawned:
                if len(_spawned) > 64:  # children of Popen stay listed: keep the set small
                    _forget_reaped()
                return reaped
            try:
                os.waitpid(found.si_pid, os.WNOHANG)
            except ChildProcessError:
                return reaped
            reaped += 1


def _forget_reaped() -> None:
    """Drop the pids that are no longer our children (reaped by their owners)."""
    me = os.getpid()
    for pid in [*_spawned]:
        stat = _stat(pid)
        if stat is None or stat[0] != me:
            _spawned.discard(pid)


def end_descendants() -> None:
    """SIGKILL every process below this one, frozen first so that none forks meanwhile,
    and reap them: the last step of a shutdown, after the runtime and middlewares had
    their grace. Catches what escaped into a session of its own (see `become_subreaper`)."""
    below = descendants(os.getpid())
    if not below:
        return
    for _ in range(3):  # a fork between the listing and the freeze: look again
        for pid, started in below.items():
            _signal_if_same(pid, started, _signal.SIGSTOP)
        more = descendants(os.getpid())
        if more.keys() <= below.keys():
            break
        below.update(more)
    for pid, started in below.items():
        _signal_if_same(pid, started, SIGKILL)
    for pid in below:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # not our child (a grandchild: its parent reaps it), or reaped already
