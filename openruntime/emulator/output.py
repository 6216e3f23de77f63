"""A child process's output, read line by line and passed on where it was going, and the
log tail a LogType=Tail invocation answers with.

The emulator's own lines (START, END, REPORT) must come after whatever the function wrote
before them. A reader thread alone cannot promise that: at the bootstrap's /next (END) its
last lines may still sit in the pipe. So the pipe is read without Python's buffering,
under a lock, and the emulator calls `drain()` before each line of its own: everything
the function wrote before that moment is in the pipe (a write to a pipe is there when it
returns), and at most a pipe's capacity of it can be unread, so one bounded drain takes
it all, in order.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import threading
from collections import deque
from collections.abc import Callable
from typing import IO, Any

READ_BYTES = 64 * 1024
# A line longer than this (no newline in sight) is recorded in pieces of this size, so a
# function writing without newlines cannot grow the emulator's memory, and each piece as a
# Telemetry API record fits the smallest batch a subscriber may ask for (maxBytes 262,144).
# The middlewares' STDERR lines have the same bound (middleware/stderr_lines.py).
MAX_LINE_BYTES = 32 * 1024
TAIL_BYTES = 4096  # Lambda's X-Amz-Log-Result: the last 4 KB of the log
_FALLBACK_PIPE_BYTES = 1024 * 1024  # Linux's default pipe-max-size
_LONE_CR = re.compile(rb"\r(?!\n)")


class OutputTee:
    """One pipe of a child process: its bytes written on to `target_fd` as they come, and
    each line given to `on_line`, by a thread of its own (`start()`) or by `drain()`."""

    def __init__(self, source: IO[bytes], target_fd: int, on_line: Callable[[str], None]) -> None:
        self._source = source  # kept open until its end is read
        self._fd = source.fileno()
        os.set_blocking(self._fd, False)
        self._target_fd = target_fd
        # awslambdaric, and the bundled runtimes after it, join a traceback's lines with \r so
        # that CloudWatch keeps it one event; a terminal would draw each over the last.
        self._to_terminal = os.isatty(target_fd)
        self._on_line = on_line
        self._lock = threading.Lock()
        self._partial = b""
        self._ended = False
        try:  # the most that can wait unread in the pipe
            self._capacity = int(fcntl.fcntl(self._fd, getattr(fcntl, "F_GETPIPE_SZ", 1032)))
        except OSError:
            self._capacity = _FALLBACK_PIPE_BYTES
        self.thread = threading.Thread(target=self._run, name="bootstrap-output", daemon=True)

    def start(self) -> OutputTee:
        self.thread.start()
        return self

    def drain(self) -> None:
        """Take now whatever the pipe holds (at most its capacity): lines written before
        this call are passed on before it returns."""
        self._read_available(self._capacity)

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while not self._ended:
            poller.poll()  # readable, or its writers are gone; the read itself is under the lock
            self._read_available(self._capacity)

    def _read_available(self, limit: int) -> None:
        with self._lock:
            taken = 0
            while not self._ended and taken < limit:
                try:
                    chunk = os.read(self._fd, min(READ_BYTES, limit - taken))
                except BlockingIOError:
                    return
                except OSError:
                    chunk = b""
                if not chunk:
                    self._end()
                    return
                taken += len(chunk)
                self._pass_on(chunk)

    def _pass_on(self, chunk: bytes) -> None:
        try:
            _write_all(self._target_fd, _LONE_CR.sub(b"\n", chunk) if self._to_terminal and b"\r" in chunk else chunk)
        except OSError:
            pass  # where it went is gone; the lines still count
        data = self._partial + chunk
        *lines, self._partial = data.split(b"\n")
        while len(self._partial) >= MAX_LINE_BYTES:
            lines.append(self._partial[:MAX_LINE_BYTES])
            self._partial = self._partial[MAX_LINE_BYTES:]
        for line in lines:
            self._on_line(line.decode("utf-8", "replace"))

    def _end(self) -> None:
        self._ended = True
        if self._partial:
            self._on_line(self._partial.decode("utf-8", "replace"))
            self._partial = b""
        self._source.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class LogTail:
    """The last TAIL_BYTES of one invocation's log, line by line."""

    def __init__(self) -> None:
        self._lines: deque[bytes] = deque()
        self._size = 0
        self._lock = threading.Lock()

    def add(self, line: str) -> None:
        data = line.encode("utf-8", "replace") + b"\n"
        with self._lock:
            self._lines.append(data)
            self._size += len(data)
            while len(self._lines) > 1 and self._size - len(self._lines[0]) >= TAIL_BYTES:
                self._size -= len(self._lines.popleft())

    def result(self) -> bytes:
        with self._lock:
            return b"".join(self._lines)[-TAIL_BYTES:]


def target_fd(target: int | IO[Any] | None) -> int:
    """The file descriptor output goes to: `target`'s, or STDERR's."""
    return target if isinstance(target, int) else target.fileno() if target is not None else 2
