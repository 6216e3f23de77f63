"""A small threaded HTTP/1.1 server for loopback use.

Both the local Runtime API proxy (on the hot path of every invocation) and the emulator
speak HTTP/1.1 to Lambda runtime clients. `http.server` parses headers with the email
package and costs a few hundred microseconds a request; this server reads with C-level
buffered I/O, keeps connections alive (runtime clients reuse one connection) and gives
every connection its own thread, so a long-polling `GET /next` never blocks another
request. Only what Runtime API clients send is supported: Content-Length and chunked
bodies, keep-alive, `Connection: close`. Anything malformed gets a 400 and the
connection is closed.

Hand-over: a handler may return `HANDED_OVER`; its connection's thread then stops
serving it and leaves it open, and whoever the handler gave `request.connection` to
serves it from their own thread (the orchestrator's loop, which so answers its runtime
with no thread hand-off: runtime_api/server.py), with reads bounded by a deadline;
`serve_from` gives it back to a thread of its own.

Streams, both ways: a chunked request the server's `stream_if` picks (a runtime's
streamed /response) reaches the handler unread, as `Request.body_stream` (chunks as they
arrive, then its trailers); a `Response` with `stream` goes out chunked, chunk by chunk,
with trailers at the end. Neither is ever held whole.
"""

from __future__ import annotations

import _socket
import io
import os
import select
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from openruntime.errors import MalformedRequest
from openruntime.invocation import JSON
from openruntime.runtime_api.netio import Socket, accept, listen_loopback, send_chunk
from openruntime.runtime_api.wire import read_fields, read_head

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import BinaryIO

_READ_CHUNK = 256 * 1024

REASONS = {  # what the servers here answer (the HTTP front: whatever a function says)
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
    301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified", 307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 410: "Gone", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Content", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}


def _never_closed() -> bool:
    return False


class ChunkedBody:
    """A chunked request body read as it arrives: iterate for the chunks (each at most
    `max_chunk` bytes), then `trailers` holds the trailer fields. MalformedRequest (or
    OSError) when the framing breaks or the peer goes away mid-body."""

    def __init__(self, reader: BinaryIO, max_chunk: int = _READ_CHUNK) -> None:
        self._reader = reader
        self._max_chunk = max_chunk
        self.trailers: list[tuple[str, str]] = []
        self.complete = False

    def __iter__(self) -> Iterator[bytes]:
        reader = self._reader
        while not self.complete:
            size_line = reader.readline(1024)
            if not size_line.endswith(b"\n"):
                raise MalformedRequest("chunked body truncated")
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise MalformedRequest(f"bad chunk size {size_line[:40]!r}") from None
            if size == 0:
                self.trailers = read_fields(reader)
                self.complete = True
                return
            while size:
                piece = reader.read(min(size, self._max_chunk))
                if not piece:
                    raise MalformedRequest("chunked body truncated")
                size -= len(piece)
                yield piece
            if reader.readline(3) not in (b"\r\n", b"\n"):
                raise MalformedRequest("chunk not followed by CRLF")


class Interrupted(Exception):
    """A wait for a connection's next request was cut short by its `wake_fd` (below)."""


class _SocketRaw(io.RawIOBase):
    """The raw stream under a connection's buffered reader: `recv_into`. With a `deadline`
    (monotonic), each read first waits for data until then at most (TimeoutError after);
    a byte on `wake_fd` meanwhile raises Interrupted, while `at_request_start` (no byte of
    the request being read has come yet: cutting it short loses nothing)."""

    def __init__(self, sock: Socket) -> None:
        self._sock = sock
        self.deadline: float | None = None
        self.wake_fd: int | None = None
        self.at_request_start = False
        self.woken = False  # a wake-up came while a request was being read: acted on after it
        self._poller: select.poll | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        if self.deadline is not None:
            try:  # what is there already, without a poll(2) first (the usual case on the lane)
                count = self._sock.recv_into(buffer, 0, _socket.MSG_DONTWAIT)
            except BlockingIOError:
                self._wait_readable(self.deadline)
                count = self._sock.recv_into(buffer)
            else:
                if time.monotonic() > self.deadline:  # a client that always has more ready
                    raise TimeoutError("deadline passed")
        else:
            count = self._sock.recv_into(buffer)
        self.at_request_start = False
        return count

    def _wait_readable(self, deadline: float) -> None:
        if self._poller is None:
            self._poller = select.poll()
            self._poller.register(self._sock.fileno(), select.POLLIN)
            if self.wake_fd is not None:
                self._poller.register(self.wake_fd, select.POLLIN)
        sock_fd = self._sock.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("deadline passed")
            for fd, _ in self._poller.poll(left * 1000 + 1):
                if fd == sock_fd:
                    return  # data, or its end: recv says which
                drain_wakeups(fd)
                if self.at_request_start:
                    raise Interrupted()
                self.woken = True  # mid-request: the request is read whole first


def drain_wakeups(fd: int) -> None:
    """Empty a non-blocking wake-up pipe."""
    try:
        while os.read(fd, 64):
            pass
    except BlockingIOError:
        pass


class Connection:
    """One accepted connection: its socket and the buffered reader every request on it is
    read through (whoever serves it, so nothing read ahead is lost in a hand-over)."""

    __slots__ = ("sock", "reader", "_raw")

    def __init__(self, sock: Socket) -> None:
        self.sock = sock
        self._raw = _SocketRaw(sock)
        self.reader = io.BufferedReader(self._raw, _READ_CHUNK)

    def set_deadline(self, deadline: float | None, wake_fd: int | None = None) -> None:
        """Reads wait until the monotonic `deadline` at most (None: no limit); a byte on
        `wake_fd` (non-blocking, drained here) interrupts a wait for the next request."""
        raw = self._raw
        raw.deadline = deadline
        raw.woken = False
        if wake_fd != raw.wake_fd:
            raw.wake_fd = wake_fd
            raw._poller = None

    def read_request(self, max_body: int, stream_if: StreamIf | None = None) -> Request | None:
        """The next request, as `read_request` reads it; Interrupted (see above) when the
        wait for its first byte is cut short, or was asked for while the last one was read
        (nothing of the next one is read then: it stays for whoever serves it)."""
        raw = self._raw
        if raw.woken:
            raw.woken = False
            raise Interrupted()
        raw.at_request_start = True
        try:
            head = read_head(self.reader)
        finally:
            raw.at_request_start = False  # from its first byte on, it is read whole
        request = request_from_head(head, self.reader, max_body, stream_if)
        if request is not None:
            request.connection = self
        return request

    def send(self, response: Response, keep_alive: bool = True) -> None:
        """A response; with a deadline, a client that does not read fails it then."""
        deadline = self._raw.deadline
        if deadline is None:
            _send(self.sock, response, keep_alive)
            return
        self.sock.settimeout(max(deadline - time.monotonic(), 1e-6))
        try:
            _send(self.sock, response, keep_alive)
        finally:
            self.sock.settimeout(None)

    def peer_closed(self) -> bool:
        """The client has gone (a request read long ago may have been given up on)."""
        return _peer_closed(self.sock)

    def shutdown(self) -> None:
        """Wake whoever reads or writes it (they see the end of the stream), from any thread."""
        try:
            self.sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


class Request:
    """One HTTP/1.1 request as read (its body bounded: `oversize` says how much was refused;
    or unread, as `body_stream`, when the server streams it). `connection`: the one it came
    on, for a handler that takes it over (`HANDED_OVER`)."""

    __slots__ = ("method", "target", "headers", "body", "oversize", "peer_closed", "body_stream", "connection")

    def __init__(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes,
                 oversize: int | None = None, body_stream: ChunkedBody | None = None) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.body_stream = body_stream
        # Set when the body was larger than the server's limit: the body was read and
        # dropped (so the connection stays usable) and only its size is kept.
        self.oversize = oversize
        # Long-polling handlers ask this before answering, so that an event is never
        # handed to a client that has gone away (a killed runtime) while it waited.
        self.peer_closed: Callable[[], bool] = _never_closed
        self.connection: Connection | None = None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


class Response:
    """One HTTP/1.1 response to send: `body`, or `stream` (sent chunked as it yields, then
    the fields `trailers()` gives, asked once the stream has ended)."""

    __slots__ = ("status", "body", "headers", "stream", "trailers")

    def __init__(self, status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None,
                 stream: Iterable[bytes] | None = None,
                 trailers: Callable[[], list[tuple[str, str]]] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers if headers is not None else []
        self.stream = stream
        self.trailers = trailers

    def encode_head(self, keep_alive: bool) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {REASONS.get(self.status, 'Status')}"]
        for key, value in self.headers:
            lines.append(f"{key}: {value}")
        if self.stream is not None:
            lines.append("Transfer-Encoding: chunked")
        elif self.status != 204:  # a 204 has no body and no length (RFC 9110, 8.6)
            lines.append(f"Content-Length: {len(self.body)}")
        if not keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# A handler's answer that is no answer: it took the request's connection over (above).
HANDED_OVER = Response(0)

Handler = Callable[[Request], Response]
StreamIf = Callable[[str, str, list[tuple[str, str]]], bool]  # (method, target, headers): leave the body unread


def read_request(reader: BinaryIO, max_body: int, stream_if: StreamIf | None = None) -> Request | None:
    """Read one request; None on a clean end of stream before any byte."""
    return request_from_head(read_head(reader), reader, max_body, stream_if)


def request_from_head(head: tuple[str, list[tuple[str, str]]] | None, reader: BinaryIO, max_body: int,
                      stream_if: StreamIf | None = None) -> Request | None:
    """The request whose head (`wire.read_head`'s) was just read, its body read from `reader`."""
    if head is None:
        return None
    request_line, headers = head
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1]:
        raise MalformedRequest(f"bad request line {request_line[:100]!r}")
    method, target, _version = parts
    if stream_if is not None and stream_if(method, target, headers):
        _check_framing(headers)
        if (_header(headers, "transfer-encoding") or "").lower() == "chunked":
            return Request(method, target, headers, b"", None, ChunkedBody(reader))
    body, oversize = _read_body(reader, headers, max_body)
    return Request(method, target, headers, body, oversize)


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _read_body(
    reader: BinaryIO, headers: list[tuple[str, str]], max_body: int
) -> tuple[bytes, int | None]:
    lengths = _check_framing(headers)
    encoding = _header(headers, "transfer-encoding")
    if encoding is not None:
        if encoding.lower() != "chunked":
            raise MalformedRequest(f"unsupported Transfer-Encoding {encoding!r}")
        return _read_chunked(reader, max_body)
    if not lengths:
        return b"", None
    length_text = lengths[0]
    if not (length_text.isascii() and length_text.isdigit()):  # str.isdigit takes "²" too
        raise MalformedRequest(f"bad Content-Length {length_text!r}")
    length = int(length_text)
    if length > max_body:
        _discard(reader, length)
        return b"", length
    body = reader.read(length)
    if len(body) != length:
        raise MalformedRequest(f"body truncated: {len(body)} of {length} bytes")
    return body, None


def _check_framing(headers: list[tuple[str, str]]) -> list[str]:
    """The Content-Length values, once it is sure where the body ends: it must be
    unambiguous (RFC 9112, 6.3): two lengths, or a length beside chunked framing, is how
    requests are smuggled past one reader to the next."""
    lengths = [value for key, value in headers if key.lower() == "content-length"]
    if len(lengths) > 1:
        raise MalformedRequest(f"{len(lengths)} Content-Length headers")
    if _header(headers, "transfer-encoding") is not None and lengths:
        raise MalformedRequest("both Transfer-Encoding and Content-Length")
    return lengths


def _read_chunked(reader: BinaryIO, max_body: int) -> tuple[bytes, int | None]:
    """A chunked body read whole, within `max_body`; past it, read to the end and dropped
    (the connection stays usable) and only its size kept."""
    chunks: list[bytes] = []
    size_seen = 0
    for chunk in ChunkedBody(reader):
        size_seen += len(chunk)
        if size_seen <= max_body:
            chunks.append(chunk)
        elif chunks:
            chunks.clear()  # over: nothing of it is kept
    if size_seen > max_body:
        return b"", size_seen
    return b"".join(chunks), None


def _discard(reader: BinaryIO, length: int) -> None:
    remaining = length
    while remaining:
        chunk = reader.read(min(remaining, _READ_CHUNK))
        if not chunk:
            raise MalformedRequest("body truncated")
        remaining -= len(chunk)


class LoopbackHTTPServer:
    """Serves `handler` on 127.0.0.1, one thread per connection."""

    def __init__(
        self,
        handler: Handler,
        port: int = 0,
        max_body: int = 64 * 1024 * 1024,
        name: str = "http",
        listener: Socket | None = None,
        stream_if: StreamIf | None = None,
    ) -> None:
        self._handler = handler
        self._max_body = max_body
        self._stream_if = stream_if
        self._name = name
        if listener is None:  # else: bound and listening already (the cold start's early bind)
            listener = listen_loopback(port)
        self._listener = listener
        self._connections: set[Socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name=f"{name}-accept", daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "LoopbackHTTPServer":
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed = True
        try:
            self._listener.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn = accept(self._listener)
            except OSError:
                return
            with self._lock:
                self._connections.add(conn)
            threading.Thread(
                target=self._serve_connection, args=(Connection(conn),), name=f"{self._name}-conn", daemon=True
            ).start()

    def serve_from(self, connection: Connection, request: Request | None = None) -> None:
        """A connection taken over (`HANDED_OVER`) goes back to a thread of its own, which
        first answers `request` (read already, not answered) when there is one."""
        connection.set_deadline(None)
        threading.Thread(target=self._serve_connection, args=(connection, request),
                         name=f"{self._name}-conn", daemon=True).start()

    def forget(self, connection: Connection) -> None:
        """Close a connection taken over."""
        with self._lock:
            self._connections.discard(connection.sock)
        connection.close()

    def _serve_connection(self, connection: Connection, pending: Request | None = None) -> None:
        conn = connection.sock
        handed_over = False
        try:
            while not self._closed:
                if pending is not None:
                    request: Request | None = pending
                    pending = None
                else:
                    try:
                        request = read_request(connection.reader, self._max_body, self._stream_if)
                    except MalformedRequest as exc:
                        import json

                        body = json.dumps(
                            {"errorType": "MalformedRequest", "errorMessage": str(exc)}
                        ).encode()
                        _send(conn, Response(400, body, [("Content-Type", JSON)]), False)
                        return
                if request is None:
                    return
                request.peer_closed = lambda: _peer_closed(conn)
                request.connection = connection
                response = self._handler(request)
                if response is HANDED_OVER:
                    handed_over = True
                    return
                keep_alive = (request.header("connection") or "").lower() != "close"
                if request.body_stream is not None and not request.body_stream.complete:
                    keep_alive = False  # a streamed body the handler left unread: framing lost
                _send(conn, response, keep_alive)
                if not keep_alive:
                    return
        except OSError:
            return  # peer went away: nothing to answer
        finally:
            if not handed_over:
                with self._lock:
                    self._connections.discard(conn)
                connection.close()


def _peer_closed(conn: Socket) -> bool:
    try:
        return conn.recv(1, _socket.MSG_PEEK | _socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _send(conn: Socket, response: Response, keep_alive: bool) -> None:
    head = response.encode_head(keep_alive)
    if response.stream is not None:
        conn.sendall(head)
        for chunk in response.stream:
            if chunk:  # an empty chunk would end the body
                send_chunk(conn, chunk)
        trailers = response.trailers() if response.trailers is not None else []
        conn.sendall(b"0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in trailers).encode("latin-1") + b"\r\n")
        return
    if len(response.body) < 65536:
        conn.sendall(head + response.body)  # one segment: small answers are the hot path
    else:
        conn.sendall(head)  # large bodies go out without being copied into the head
        conn.sendall(response.body)
