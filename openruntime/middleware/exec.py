"""Exec-mode middlewares (protocol v1): one process per hook call, payload over STDIN/STDOUT.

See docs/middleware-protocol.md. Exit status 0 continues with STDOUT as the new payload,
3 answers with STDOUT as the response, anything else fails the invocation with an error
that names the middleware, the hook, the status and the tail of STDERR.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Mapping

from openruntime import errors
from openruntime.config import MiddlewareConfig
from openruntime.errors import MiddlewareFailure
from openruntime.invocation import Invocation, is_json_type
from openruntime.middleware.protocol import HookResult, InvocationScope, MAX_OUTPUT_BYTES, context_env, middleware_env
from openruntime.middleware.stderr_lines import StderrLines, TAIL_BYTES
from openruntime.processes import PipedChild, kill_group, spawn_piped

EXIT_RESPOND = 3
EXIT_FAIL_WITH_ERROR = 4  # STDOUT is the middleware's own error object
_READ_CHUNK = 1 << 16  # a pipe's capacity
# How long a call waits for the program's exit alone before it watches the pipes too: a
# quick program (compiled, a short script) is done by then; a Python or Node start takes
# 20-80 ms, and one that fills a pipe meanwhile waits at most this long for it to be read.
# Not shorter: a timeout that ends before the scheduler's next tick (4 ms at HZ=250) arms
# the CPU's timer for it, and in a VM that write is a VM exit: 2 ms cost 13-17 µs more a
# call than a timeout past the tick (docs/benchmarks.md).
QUICK_EXIT_S = 0.010
QUICK_EXIT_MAX_BYTES = 1 << 16  # beyond, its answer may not fit a pipe: read as it comes
MAX_CALLS_WATCHED = 64  # after bets lost in a row, at most this many calls are watched before the next bet


class ExecMiddleware:
    """`EXECUTABLE <hook>` once per call, in its own process group."""

    def __init__(self, config: MiddlewareConfig, command: list[str], environ: Mapping[str, str]) -> None:
        self.config = config
        self.command = command
        self.base_env = middleware_env(config, environ)
        self.bets = {hook: QuickExitBet() for hook in config.hooks}  # per hook: each writes its own sizes

    def start(self) -> None:
        pass  # nothing runs between calls

    def await_ready(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def handles(self, hook: str) -> bool:
        return hook in self.config.hooks

    def call(
        self, hook: str, payload: bytes, content_type: str, invocation: Invocation,
        scope: InvocationScope, timeout_s: float,
    ) -> HookResult:
        started = time.monotonic()  # the spawn counts in the timeout too
        name = self.config.name
        env = context_env(hook, invocation, content_type, scope.stages_json(), scope.outcome, self.base_env)
        env["OPENRUNTIME_STATE_FILE"] = scope.state_file(name)
        try:
            child = spawn_piped([*self.command, hook], env, payload)
        except OSError as exc:
            raise MiddlewareFailure(
                errors.MIDDLEWARE_EXIT_ERROR, f"middleware '{name}' hook '{hook}' could not start: {exc}",
                name, hook,
            ) from None
        process = child.process
        stderr = StderrLines(name, invocation.request_id)
        bet = self.bets.get(hook) or self.bets.setdefault(hook, QuickExitBet())
        try:
            left_s = max(timeout_s - (time.monotonic() - started), 0.001)
            stdout, outcome, won = _exchange(child, payload, left_s, stderr, MAX_OUTPUT_BYTES, bet.make())
            bet.settle(won)
            if outcome != EXITED:
                kill_group(process)
                process.wait()
                if child.stderr_fd >= 0:
                    stderr.feed(_drain_fd(child.stderr_fd, TAIL_BYTES))  # why it hung
                stderr.finish()
                if outcome == TOO_LARGE:
                    raise MiddlewareFailure(
                        errors.MIDDLEWARE_OUTPUT_TOO_LARGE,
                        f"middleware '{name}' hook '{hook}' wrote more than {MAX_OUTPUT_BYTES} bytes to "
                        "STDOUT (Lambda's payload limit); it was stopped there",
                        name, hook, limitBytes=MAX_OUTPUT_BYTES, stderrTail=stderr.tail(),
                    )
                raise MiddlewareFailure(
                    errors.MIDDLEWARE_TIMEOUT,
                    f"middleware '{name}' hook '{hook}' did not finish within {timeout_s * 1000:.0f} ms",
                    name, hook, stderrTail=stderr.tail(),
                )
        finally:
            kill_group(process)  # children it left behind must not outlive the call
            child.close_pipes()
        stderr.finish()
        status = process.wait()
        if status == EXIT_FAIL_WITH_ERROR:
            raise MiddlewareFailure.from_error_object(stdout, name, hook)
        if status not in (0, EXIT_RESPOND):
            how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
            stderr_tail = stderr.tail()
            message = f"middleware '{name}' hook '{hook}' {how}"
            raise MiddlewareFailure(
                errors.MIDDLEWARE_EXIT_ERROR, f"{message}: {stderr_tail}" if stderr_tail else message,
                name, hook, exitStatus=status, stderrTail=stderr_tail,
            )
        if stdout.endswith(b"\n") and not payload.endswith(b"\n") and _is_textual(content_type):
            stdout = stdout[:-1]
        return HookResult(stdout, content_type, respond=status == EXIT_RESPOND and hook != "after")


def _is_textual(content_type: str | None) -> bool:
    """Where a trailing newline that the input did not have is forgiven (echo adds one):
    JSON and text. Any other type is bytes, passed on exactly."""
    if not content_type:
        return True
    return is_json_type(content_type) or content_type.strip().lower().startswith("text/")


EXITED, TIMED_OUT, TOO_LARGE = "exited", "timed out", "too large"


class QuickExitBet:
    """Whether a hook's next call is waited for by its exit alone (`_exchange`): a bet that
    the program exits within QUICK_EXIT_S without blocking on a full pipe. Lost, the next
    call is watched as it writes, and after k losses in a row the next 2^k calls (at most
    MAX_CALLS_WATCHED) are; a win starts afresh. A program that lost once by chance (a
    cold page cache) is back after two calls; one that always fills a pipe, or blocks on
    one in packet mode, costs a lost quick wait every 64 calls."""

    __slots__ = ("lost", "watch")

    def __init__(self) -> None:
        self.lost = 0  # bets lost in a row
        self.watch = 0  # calls to watch before the next bet

    def make(self) -> bool:
        if self.watch:
            self.watch -= 1
            return False
        return True

    def settle(self, won: bool | None) -> None:
        """`won`: what `_exchange` said (None: no bet was made, or it could not be)."""
        if won:
            self.lost = 0
        elif won is False:
            self.lost += 1
            self.watch = min(2 ** self.lost, MAX_CALLS_WATCHED)


def _exchange(
    child: PipedChild, payload: bytes, timeout_s: float, stderr: StderrLines, max_stdout: int,
    quick: bool = True,
) -> tuple[bytes, str, bool | None]:
    """Feed STDIN, collect STDOUT and log STDERR as they come until the process exits:
    (stdout, EXITED), or what it wrote so far and TIMED_OUT, or TOO_LARGE as soon as STDOUT
    passes `max_stdout` bytes. Memory stays bounded whatever it writes. The third value:
    whether a bet on a quick exit (`quick`, below) was won; None when none was made.

    Unlike `communicate()`, this stops when the process itself exits (its pidfd turns
    readable), not when its pipes reach EOF: a background child that inherited STDOUT must
    not hold the call until the timeout (the protocol reads "until the process exits"; the
    caller then kills the group). Without pidfds (Linux < 5.3), EOF on both pipes it is.

    The payload was in the pipe before the program started (spawn_piped), and a program
    that exits quickly is waited for by its exit alone: one wake-up of this thread, where
    reading as it comes costs one for its output, one for its exit and one for each EOF.
    On a busy machine every wake-up is a wait for a CPU. That is a bet (`QuickExitBet`): a
    program that writes more than a pipe holds sits blocked on it for the whole quick wait.
    """
    deadline = time.monotonic() + timeout_s  # the quick wait counts in the timeout
    try:
        pidfd = os.pidfd_open(child.process.pid)
    except (AttributeError, OSError):
        pidfd = -1
    try:
        won: bool | None = None
        if quick and pidfd >= 0 and child.stdin_fd < 0 and len(payload) <= QUICK_EXIT_MAX_BYTES:
            # Meanwhile its output waits in the pipes (64 KiB each before it would block).
            exit_poll = select.poll()
            exit_poll.register(pidfd, select.POLLIN)
            if exit_poll.poll(min(QUICK_EXIT_S, timeout_s) * 1000):
                return (*_collect(child, stderr, max_stdout, b"", True, True), True)
            won = False
        return (*_watch(child, payload, deadline, stderr, max_stdout, pidfd), won)
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def _watch(
    child: PipedChild, payload: bytes, deadline: float, stderr: StderrLines, max_stdout: int, pidfd: int
) -> tuple[bytes, str]:
    """`_exchange` for a program still running: write, read and log as it comes until it
    exits (its pidfd, or EOF on both pipes without one) or `deadline` (monotonic) passes."""
    in_fd, out_fd, err_fd = child.stdin_fd, child.stdout_fd, child.stderr_fd
    out: list[bytes] = []
    out_size = 0
    view = memoryview(payload)[child.written:]
    exited = False
    reading = {out_fd, err_fd}
    poller = select.poll()
    for fd in (out_fd, err_fd):
        poller.register(fd, select.POLLIN)
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    if view:
        poller.register(in_fd, select.POLLOUT)
    while not exited:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(out), TIMED_OUT
        for fd, events in poller.poll(remaining * 1000):
            if fd == pidfd:
                exited = True
            elif fd == in_fd:
                try:
                    view = view[os.write(in_fd, view):]
                except BlockingIOError:
                    continue
                except OSError:  # it stopped reading (EPIPE): what it has is all it gets
                    view = view[:0]
                if not view:
                    poller.unregister(in_fd)
                    child.close_stdin()
            elif fd in reading:
                try:
                    data = os.read(fd, _READ_CHUNK)
                except BlockingIOError:
                    continue
                if not data:
                    poller.unregister(fd)
                    reading.discard(fd)
                    exited = exited or (pidfd < 0 and not reading)
                elif fd == err_fd:
                    stderr.feed(data)
                else:
                    out_size += len(data)
                    if out_size > max_stdout:
                        return b"", TOO_LARGE
                    out.append(data)
    return _collect(child, stderr, max_stdout - out_size, b"".join(out), out_fd in reading, err_fd in reading)


def _collect(
    child: PipedChild, stderr: StderrLines, max_stdout: int, stdout: bytes, read_stdout: bool, read_stderr: bool
) -> tuple[bytes, str]:
    """The program exited: everything it wrote is in the pipes now. `stdout` and what is
    left of STDOUT (at most `max_stdout` more bytes), STDERR logged; still bounded."""
    if read_stderr:
        logged = _drain_fd(child.stderr_fd, _READ_CHUNK * 64)
        if logged:
            stderr.feed(logged)
    if read_stdout:
        rest = _drain_fd(child.stdout_fd, max_stdout + 1)
        if len(rest) > max_stdout:
            return b"", TOO_LARGE
        stdout = stdout + rest if stdout else rest
    return stdout, EXITED


def _drain_fd(fd: int, limit: int) -> bytes:
    """What a non-blocking pipe holds right now, up to `limit` bytes. Read until EAGAIN or
    EOF, not until a short read: a writer in packet mode (O_DIRECT, `dd oflag=direct`)
    makes each read return one write's bytes."""
    parts = []
    size = 0
    while size < limit:
        try:
            data = os.read(fd, min(_READ_CHUNK, limit - size))
        except OSError:  # BlockingIOError among them: empty now
            break
        if not data:
            break
        parts.append(data)
        size += len(data)
    return b"".join(parts)
