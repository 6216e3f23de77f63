"""A middleware's STDERR, turned into log lines as it comes, in bounded memory.

A middleware may write anything to STDERR: a line of 200 MB, no newline at all, or far more
than anyone reads. It is consumed as it comes (a full pipe must not block the middleware),
complete lines go to the function's log at once, a line longer than `MAX_LINE_BYTES` is
logged in pieces, and past `budget` bytes in one invocation the rest is counted, not logged,
and a closing line says how much was dropped: at the end of the call that overflowed (a
persistent middleware's reader thread may be idle for hours after a flood; the note must not
wait for its next write). The last `TAIL_BYTES` are kept for the error that reports a failed
call. What it holds: at most one unfinished line and the tail.
"""

from __future__ import annotations

import _thread
from collections import deque
from collections.abc import Iterator

from openruntime import errors
from openruntime.errors import BrokenMiddleware
from openruntime.function_log import middleware_line, write, write_encoded

MAX_LINE_BYTES = 32 * 1024  # a CloudWatch event holds 256 KB; a log reader prefers far less
BUDGET_BYTES = 1024 * 1024  # logged per invocation (exec: per call), tags included; the rest counted
TAIL_BYTES = 2048
ANSWER_LOG_BUDGET = 256 * 1024  # one answer's `log` lines once tagged: 4x what its header can hold


class StderrLines:
    """Feed it STDERR bytes; it logs whole lines tagged with the middleware and request id."""

    def __init__(self, name: str, request_id: str = "-", budget: int = BUDGET_BYTES,
                 max_line: int = MAX_LINE_BYTES) -> None:
        self.name = name
        self.request_id = request_id
        self.budget = budget
        self.max_line = max_line
        self._partial = bytearray()
        self._logged = 0
        self._dropped = 0
        self._over = False  # the invocation's budget is spent: the rest is counted, not logged
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self._lock = _thread.allocate_lock()  # fed by a reader thread, read and flushed by the caller

    @property
    def dropped(self) -> int:
        """Bytes dropped and not yet reported (read without the lock: a hint for the caller)."""
        return self._dropped

    def start_invocation(self, request_id: str) -> None:
        """Lines from now on belong to `request_id`; its budget starts afresh."""
        with self._lock:
            self._finish()
            self.request_id = request_id
            self._logged = 0
            self._over = False

    def feed(self, data: bytes) -> None:
        with self._lock:
            self._feed(data)

    def finish(self) -> None:
        """The end of a call or of the stream: the unfinished line, and what was dropped.
        Called by the thread that feeds it (exec: the call's; persistent: the reader's), so
        the look before the lock cannot miss a line that is being fed."""
        if not self._partial and not self._dropped:
            return  # nothing to flush or report: most calls
        with self._lock:
            self._finish()

    def report_dropped(self) -> None:
        """Say now how much was dropped so far; the invocation's budget stays spent."""
        with self._lock:
            self._report_dropped()

    def tail(self, limit: int = TAIL_BYTES) -> str:
        """What it wrote last, for an error message."""
        with self._lock:
            data = b"".join(self._tail)
        return data[-limit:].decode("utf-8", "replace").strip()

    def _feed(self, data: bytes) -> None:
        self._keep_tail(data)
        start = 0
        while (newline := data.find(b"\n", start)) >= 0:
            self._partial += data[start:newline]
            self._emit()
            start = newline + 1
        self._partial += data[start:]
        while len(self._partial) >= self.max_line:  # a very long line: log it in pieces
            cut = utf8_cut(self._partial, self.max_line)
            piece = bytes(self._partial[:cut])
            del self._partial[:cut]
            self._log(piece)

    def _finish(self) -> None:
        if self._partial:
            self._emit()
        self._report_dropped()

    def _report_dropped(self) -> None:
        if self._dropped:
            # At WARN, so that a log level that drops INFO still says the log was cut.
            write(middleware_line(self.name, self.request_id,
                                  f"[openruntime] {self._dropped} more bytes of STDERR not logged "
                                  f"(over {_size(self.budget)} in one invocation)", level="WARN"))
            self._dropped = 0

    def _emit(self) -> None:
        line = bytes(self._partial)
        self._partial.clear()
        self._log(line)

    def _log(self, line: bytes) -> None:
        if self._over:  # once over, the rest too
            self._dropped += len(line) + 1
            return
        tagged = _tagged(self.name, self.request_id, line.decode("utf-8", "replace"))
        # What is logged counts, in bytes, tag included: a flood of empty lines is no cheaper than text.
        if self._logged + len(tagged) > self.budget:
            self._over = True
            self._dropped += len(line) + 1
            return
        self._logged += len(tagged)
        write_encoded(tagged)

    def _keep_tail(self, data: bytes) -> None:
        if len(data) >= TAIL_BYTES:
            self._tail.clear()
            self._tail.append(data[-TAIL_BYTES:])
            self._tail_size = TAIL_BYTES
            return
        self._tail.append(data)
        self._tail_size += len(data)
        while self._tail_size - len(self._tail[0]) >= TAIL_BYTES:
            self._tail_size -= len(self._tail.popleft())


def utf8_cut(data: bytes | bytearray, limit: int) -> int:
    """Where to cut `data` to at most `limit` bytes without splitting a UTF-8 character
    (at `limit` itself when the bytes there are not UTF-8)."""
    if len(data) <= limit:
        return len(data)
    cut = limit
    while cut > limit - 3 and data[cut] & 0xC0 == 0x80:  # a continuation byte: step back
        cut -= 1
    return cut if data[cut] & 0xC0 != 0x80 else limit


def log_answer_lines(name: str, request_id: str, lines: object, max_line: int = MAX_LINE_BYTES,
                     budget: int = ANSWER_LOG_BUDGET) -> None:
    """The `log` lines of a persistent middleware's answer frame, logged as its STDERR
    lines are, for this call's invocation exactly; a line with newlines is several lines,
    as on STDERR. The frame header's 64 KiB bound the input; `budget` bounds what it
    becomes once tagged (64 Ki empty lines would otherwise be 3 MB of log)."""
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        import json

        raise BrokenMiddleware(errors.MIDDLEWARE_INVALID_FRAME,
                               f"answered with a log that is not a list of strings: {json.dumps(lines)[:200]}")
    out = bytearray()
    dropped = 0
    for text in lines:
        for line in _stderr_lines(text, max_line):
            tagged = b"" if dropped else _tagged(name, request_id, line)
            if not dropped and len(out) + len(tagged) <= budget:
                out += tagged
            else:
                dropped += 1  # once over, the rest too
    if dropped:
        out += _tagged(name, request_id, f"[openruntime] {dropped} more lines of this answer's log not logged "
                                         f"(over {_size(budget)} once tagged)")
    if out:
        write_encoded(bytes(out))  # one write: no other thread's line lands between them


def _stderr_lines(text: str, max_line: int) -> Iterator[str]:
    """The lines `text` would be had it been written to STDERR: split at newlines ("line\n"
    is one line), a line over `max_line` bytes in pieces cut at a character boundary."""
    pieces = text.split("\n") if "\n" in text else [text]
    if len(pieces) > 1 and not pieces[-1]:
        pieces.pop()
    for piece in pieces:
        if piece.isascii() and len(piece) <= max_line:
            yield piece
            continue
        data = piece.encode("utf-8", "replace")
        while data:
            cut = utf8_cut(data, max_line)
            yield data[:cut].decode("utf-8", "replace")
            data = data[cut:]


def _tagged(name: str, request_id: str, line: str) -> bytes:
    """One line as the function's log gets it: tagged, encoded, newline-terminated (empty
    when AWS_LAMBDA_LOG_LEVEL filters it out)."""
    tagged = middleware_line(name, request_id, line)
    return b"" if tagged is None else (tagged + "\n").encode("utf-8", "replace")


def _size(count: int) -> str:
    return f"{count // 1024} KiB" if count and count % 1024 == 0 else f"{count} bytes"

