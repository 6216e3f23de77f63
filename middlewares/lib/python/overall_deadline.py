"""One deadline for a whole HTTP exchange made with http.client (stdlib only).

http.client's `timeout` bounds each socket operation, not the exchange: a server that
answers one byte every 0.3 s keeps a 1 s timeout waiting for as long as it likes. This
shuts the connection's socket down when the deadline passes, so whatever call is blocked
on it (connect aside: give that the same timeout) fails at once with an OSError.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def overall_deadline(connection: Any, seconds: float) -> Iterator[threading.Event]:
    """Within the block, `connection` (an http.client connection) is cut off after
    `seconds`; the event it yields is set when that happened."""
    fired = threading.Event()

    def cut() -> None:
        sock = getattr(connection, "sock", None)
        if sock is not None:
            fired.set()
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(max(seconds, 0.0), cut)
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        timer.cancel()
