"""The deferred export's exit: what is queued is sent within the bound, and what is not
is said (a count), never dropped quietly."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import pytest
from otel_spans.deferred import DeferredExports


@pytest.fixture(autouse=True)
def keep_sigterm() -> Iterator[None]:
    """DeferredExports makes SIGTERM a clean exit, for the middleware's process: not the test's."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_what_the_exit_bound_leaves_unsent_is_counted_and_said() -> None:
    release = threading.Event()
    sent: list[int] = []
    said: list[tuple[int, float]] = []
    exports = DeferredExports(lambda count: None, on_unsent=lambda count, within_s: said.append((count, within_s)))
    for number in range(3):
        exports.submit(lambda number=number: (release.wait(5), sent.append(number)))  # a collector that holds
    exports.flush(0.05)
    assert said == [(3, 0.05)]  # one being sent and two queued, all past the bound
    release.set()


def test_a_flush_in_time_says_nothing() -> None:
    sent: list[int] = []
    said: list[tuple[int, float]] = []
    exports = DeferredExports(lambda count: None, on_unsent=lambda count, within_s: said.append((count, within_s)))
    for number in range(3):
        exports.submit(lambda number=number: sent.append(number))
    exports.flush(5)
    assert sent == [0, 1, 2] and said == []
