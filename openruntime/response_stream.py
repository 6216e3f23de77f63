"""A streamed response on its way: chunks from the thread that reads them (the Runtime API
server, from the runtime's chunked /response) to the one that sends them on (the
orchestrator posting upstream, the emulator answering InvokeWithResponseStream).

At most `MAX_BUFFERED_CHUNKS` chunks wait between the two: a slow reader slows the
runtime down through TCP, and memory stays flat whatever the stream's size. Past Lambda's
200 MB the stream ends with `Function.ResponseSizeTooLarge`; an error the runtime sends
in its trailers (or a stream cut short) ends it with that error.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from openruntime import errors

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Iterator

    from openruntime.invocation import Outcome

MAX_BUFFERED_CHUNKS = 8  # each at most 256 KiB as the HTTP server reads them


class StreamTimeout(Exception):
    """The stream did not end before the invocation's deadline."""


class ResponseStream:
    """One streamed response: `put`/`finish` on the producing side, `chunks` on the other."""

    def __init__(self, content_type: str, limit: int = errors.MAX_STREAM_BYTES) -> None:
        self.content_type = content_type
        self.limit = limit
        self.size = 0
        self.error_type: str | None = None
        self.error_body: bytes | None = None
        self.first_chunk_at: float | None = None  # monotonic
        self._cond = threading.Condition()
        self._chunks: deque[bytes] = deque()
        self._done = False
        self._abandoned = False

    # -- the producer --------------------------------------------------------------------

    def put(self, chunk: bytes) -> bool:
        """Hand on one chunk, waiting while the reader is behind; False once nobody reads
        any more (the caller stops reading its source) or the size limit is crossed."""
        with self._cond:
            while len(self._chunks) >= MAX_BUFFERED_CHUNKS and not self._abandoned and not self._done:
                self._cond.wait()
            if self._abandoned or self._done:
                return False
            if self.size + len(chunk) > self.limit:
                self._end(errors.FUNCTION_RESPONSE_TOO_LARGE, errors.error_body(
                    errors.FUNCTION_RESPONSE_TOO_LARGE,
                    f"Response payload size exceeded maximum allowed payload size ({self.limit} bytes)."))
                return False
            if self.first_chunk_at is None:
                self.first_chunk_at = time.monotonic()
            self.size += len(chunk)
            self._chunks.append(chunk)
            self._cond.notify_all()
            return True

    def finish(self, error_type: str | None = None, error_body: bytes | None = None) -> None:
        """The end: cleanly, or with the error that cut it (the first word stands)."""
        with self._cond:
            self._end(error_type, error_body)

    def _end(self, error_type: str | None, error_body: bytes | None) -> None:
        if not self._done:
            self._done = True
            if error_type is not None:
                self.error_type = error_type
                self.error_body = error_body or errors.error_body(error_type, "")
            self._cond.notify_all()

    # -- the consumer ---------------------------------------------------------------------

    @property
    def done(self) -> bool:
        with self._cond:
            return self._done and not self._chunks

    def chunks(self, until: float | None = None) -> Iterator[bytes]:
        """The chunks as they come; StreamTimeout when the monotonic `until` passes first."""
        while True:
            with self._cond:
                while not self._chunks and not self._done:
                    remaining = None if until is None else until - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise StreamTimeout()
                    self._cond.wait(remaining)
                if not self._chunks:
                    return
                chunk = self._chunks.popleft()
                self._cond.notify_all()
            yield chunk

    def collect(self, until: float, request_id: str | None = None) -> Outcome | None:
        """The whole response, buffered (an `after` hook that asked for it, a buffered
        Invoke): within Lambda's 6 MB (past it, Function.ResponseSizeTooLarge and the rest
        is never read); the stream's own error if it ended with one; None when the monotonic
        `until` passes first."""
        from openruntime.invocation import Outcome

        parts: list[bytes] = []
        size = 0
        try:
            for chunk in self.chunks(until):
                size += len(chunk)
                if size > errors.MAX_RESPONSE_BYTES:
                    self.abandon()
                    return Outcome.error(errors.error_body(errors.FUNCTION_RESPONSE_TOO_LARGE,
                                                           errors.response_too_large_message(None), request_id),
                                         errors.FUNCTION_RESPONSE_TOO_LARGE)
                parts.append(chunk)
        except StreamTimeout:
            self.abandon()
            return None
        if self.error_type is not None:
            return Outcome.error(self.error_body or b"", self.error_type)
        return Outcome(b"".join(parts), self.content_type)

    def abandon(self) -> None:
        """Nobody reads any more: the producer stops at its next `put`."""
        with self._cond:
            self._abandoned = True
            self._chunks.clear()
            self._cond.notify_all()
