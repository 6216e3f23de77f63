"""Message heads read whole (the fast way) and line by line give the same answer.

`read_head` takes a head in one piece when the reader has it buffered whole; a head cut
across reads, or with bare LF line ends, is read line by line. Whichever way a client's
bytes arrive, the request (or the error) must be the same.
"""

from __future__ import annotations

import io

import pytest

from openruntime.errors import MalformedRequest
from openruntime.runtime_api.wire import MAX_HEADER_COUNT, read_head


class Trickle(io.RawIOBase):
    """A raw stream that hands out `step` bytes per read, as a slow socket does."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        n = min(self._step, len(buffer), len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def read_all_ways(data: bytes) -> list[object]:
    """What read_head says (or raises), then what is left unread, for several arrivals."""
    outcomes = []
    for step in (len(data) + 1, 1, 7):
        reader = io.BufferedReader(Trickle(data, step), 64)
        try:
            outcomes.append((read_head(reader), reader.read()))
        except MalformedRequest as exc:
            outcomes.append(("error", str(exc)))
    return outcomes


HEADS = [
    b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
    b"POST /r HTTP/1.1\r\nContent-Length: 2\r\nX-Spaced:   padded value  \r\n\r\n{}",
    b"POST /r HTTP/1.1\nContent-Length: 2\n\n{}",  # bare LF throughout
    b"POST /r HTTP/1.1\r\nA: 1\nB: 2\r\n\r\n",  # mixed: never split on CRLF alone
    b"POST /r HTTP/1.1\r\nX: a\rContent-Length: 5\nY: z\r\n\r\nhello",  # a bare CR and a bare LF
    b"\r\n\r\nGET /after-stray-crlf HTTP/1.1\r\nHost: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r-1\r\nContent-Length: 0\r\n\r\nnext message",
    b"GET / HTTP/1.1\r\nno-colon-here\r\n\r\n",
    b"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
    b"GET / HTTP/1.1\r\nName : space before colon\r\n\r\n",
    b"GET / HTTP/1.1\r\nName\t: tab before colon\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n folded: continuation\r\n\r\n",  # obs-fold: refused
    b"GET / HTTP/1.1\r\n\xa0Name: latin-1 space\r\n\r\n",
    b"GET / HTTP/1.1\r\nX-Twice: 1\r\nx-twice: 2\r\nX-Url: http://a:b@c:8/\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n",  # cut off before the blank line
    b"GET / HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(MAX_HEADER_COUNT)) + b"\r\n",
    b"GET / HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(MAX_HEADER_COUNT + 1)) + b"\r\n",
    b"",
]


@pytest.mark.parametrize("data", HEADS, ids=range(len(HEADS)))
def test_a_head_reads_the_same_however_it_arrives(data: bytes) -> None:
    whole, *pieces = read_all_ways(data)
    assert all(p == whole for p in pieces), (whole, pieces)


def test_what_a_head_gives() -> None:
    (head, rest), *_ = read_all_ways(HEADS[1])
    assert head == ("POST /r HTTP/1.1", [("Content-Length", "2"), ("X-Spaced", "padded value")])
    assert rest == b"{}"
    assert read_all_ways(HEADS[-1])[0] == (None, b"")
    twice = next(h for h in HEADS if b"X-Twice" in h)
    assert read_all_ways(twice)[0][0] == (
        "GET / HTTP/1.1", [("X-Twice", "1"), ("x-twice", "2"), ("X-Url", "http://a:b@c:8/")])
    for bad in (b"Name\t:", b" folded", b"\xa0Name"):
        assert read_all_ways(next(h for h in HEADS if bad in h))[0][0] == "error"
    assert read_all_ways(HEADS[7])[0][0] == "error"
    assert read_all_ways(HEADS[-2])[0][0] == "error" and read_all_ways(HEADS[-3])[0][0] != "error"
