"""Deferred export (persistent mode, `TRACE_EXPORT=deferred`): the hook answers first and
one background thread sends, in order; the process's exit (the orchestrator closes STDIN
at shutdown) waits for what is queued, within a bound.

Why it is a choice and not the default: Lambda may freeze the sandbox as soon as the
response is out, so a send under way then finishes at the next thaw, and one queued when
the sandbox is shut down without a SIGTERM (no extension registered for SHUTDOWN) is lost.
With a collector extension on localhost (the ADOT layer, which registers for SHUTDOWN)
neither loses spans, and the invocation no longer waits for the collector.
"""

from __future__ import annotations

import atexit
import queue
import signal
import sys
import threading
from collections.abc import Callable

QUEUE_LIMIT = 256  # invocations' exports waiting; beyond it the newest are dropped and counted
# The orchestrator closes STDIN and sends SIGTERM together, and SIGKILLs 200 ms later
# (docs/middleware-protocol.md, Shutdown): what is queued has that long.
FLUSH_AT_EXIT_S = 0.15


class DeferredExports:
    def __init__(self, on_dropped: Callable[[int], None], limit: int = QUEUE_LIMIT,
                 on_unsent: Callable[[int, float], None] | None = None) -> None:
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(limit)
        self._on_dropped = on_dropped
        # What was still queued or being sent when the exit's bound ran out: said, not lost quietly.
        self._on_unsent = on_unsent
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="trace-export", daemon=True)
        self._thread.start()
        atexit.register(self.flush, FLUSH_AT_EXIT_S)
        # SIGTERM's default ends the process without atexit: exit normally instead, so the
        # queue is flushed (the main thread is then waiting for the next frame).
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            self._pending += 1
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            with self._lock:
                self._pending -= 1
            self._on_dropped(1)

    def flush(self, within_s: float) -> None:
        """Send what is queued, then stop the thread (at most `within_s`); what is left
        then is said (`on_unsent`)."""
        try:
            self._jobs.put(None, timeout=within_s)
        except queue.Full:
            pass
        else:
            self._thread.join(within_s)
        with self._lock:
            unsent = self._pending
        if unsent and self._on_unsent is not None:
            self._on_unsent(unsent, within_s)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # an exporter bug must not end the thread: later spans still go
                import traceback

                traceback.print_exc()
            finally:
                with self._lock:
                    self._pending -= 1
