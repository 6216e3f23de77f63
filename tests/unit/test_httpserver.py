"""The loopback HTTP/1.1 server: what runtime clients send, and what they must not."""

from __future__ import annotations

import io
import socket

import pytest

from openruntime.errors import MalformedRequest
from openruntime.runtime_api.http import LoopbackHTTPServer, Request, Response, read_request


def parse(raw: bytes, max_body: int = 1 << 20) -> Request | None:
    return read_request(io.BufferedReader(io.BytesIO(raw)), max_body)  # type: ignore[arg-type]


def test_content_length_and_chunked_bodies() -> None:
    request = parse(b"POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert request is not None and (request.method, request.path, request.body) == ("POST", "/a", b"hello")
    chunked = parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n")
    assert chunked is not None and chunked.body == b"hello world"


def test_oversize_body_is_drained_and_reported() -> None:
    request = parse(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", max_body=4)
    assert request is not None and request.body == b"" and request.oversize == 10


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    # Where the body ends must be unambiguous (request smuggling): RFC 9112, 6.3.
    b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
])
def test_malformed_requests_are_refused(raw: bytes) -> None:
    with pytest.raises(MalformedRequest):
        parse(raw)


def test_server_answers_400_to_garbage_and_keeps_serving() -> None:
    server = LoopbackHTTPServer(lambda request: Response(200, request.body)).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as bad:
            bad.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            assert bad.recv(1000).startswith(b"HTTP/1.1 400 ")
        with socket.create_connection(("127.0.0.1", server.port)) as good:
            good.sendall(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nokPOST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nyes")
            data = b""
            while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"yes"):
                data += good.recv(1000)
        assert data.count(b"HTTP/1.1 200 OK") == 2  # keep-alive, pipelined
    finally:
        server.close()
