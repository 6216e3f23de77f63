"""A small threaded HTTP/1.1 server for loopback use.

Both the local Runtime API proxy (on the hot path of every invocation) and the emulator
speak HTTP/1.1 to Lambda runtime clients. `http.server` parses headers with the email
package and costs a few hundred microseconds a request; this server reads with C-level
buffered I/O, keeps connections alive (runtime clients reuse one connection) and gives
every connection its own thread, so a long-polling `GET /next` never blocks another
request. Only what Runtime API clients send is supported: Content-Length and chunked
bodies, keep-alive, `Connection: close`. Anything malformed gets a 400 and the
connection is closed.

Streams, both ways: a chunked request the server's `stream_if` picks (a runtime's
streamed /response) reaches the handler unread, as `Request.body_stream` (chunks as they
arrive, then its trailers); a `Response` with `stream` goes out chunked, chunk by chunk,
with trailers at the end. Neither is ever held whole.
"""

from __future__ import annotations

import _socket
import threading
from collections.abc import Callable, Iterable, Iterator

from openruntime.errors import MalformedRequest
from openruntime.invocation import JSON
from openruntime.runtime_api.netio import Socket, accept, listen_loopback, reader, send_chunk

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import BinaryIO

# Lambda accepts about 1 MiB of headers; awslambdaric sends X-Ray causes of 100 KB and
# more on deep stack traces, and dies if such a post is refused.
MAX_HEADER_BYTES = 1024 * 1024
MAX_HEADER_COUNT = 200
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
                self.trailers = _read_headers(reader)
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


class Request:
    """One HTTP/1.1 request as read (its body bounded: `oversize` says how much was refused;
    or unread, as `body_stream`, when the server streams it)."""

    __slots__ = ("method", "target", "headers", "body", "oversize", "peer_closed", "body_stream")

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


Handler = Callable[[Request], Response]
StreamIf = Callable[[str, str, list[tuple[str, str]]], bool]  # (method, target, headers): leave the body unread


def read_request(reader: BinaryIO, max_body: int, stream_if: StreamIf | None = None) -> Request | None:
    """Read one request; None on a clean end of stream before any byte."""
    line = reader.readline(MAX_HEADER_BYTES + 1)
    while line in (b"\r\n", b"\n"):  # tolerated: stray CRLF between requests
        line = reader.readline(MAX_HEADER_BYTES + 1)
    if not line:
        return None
    if len(line) > MAX_HEADER_BYTES or not line.endswith(b"\n"):
        raise MalformedRequest("request line too long or truncated")
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1]:
        raise MalformedRequest(f"bad request line {line[:100]!r}")
    method, target, _version = parts
    headers = _read_headers(reader)
    if stream_if is not None and stream_if(method, target, headers):
        _check_framing(headers)
        if (_header(headers, "transfer-encoding") or "").lower() == "chunked":
            return Request(method, target, headers, b"", None, ChunkedBody(reader))
    body, oversize = _read_body(reader, headers, max_body)
    return Request(method, target, headers, body, oversize)


def _read_headers(reader: BinaryIO) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    total = 0
    while True:
        line = reader.readline(MAX_HEADER_BYTES + 1)
        total += len(line)
        if not line or total > MAX_HEADER_BYTES:
            raise MalformedRequest("headers truncated or too large")
        if line in (b"\r\n", b"\n"):
            return headers
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or not name or name != name.strip() or len(headers) >= MAX_HEADER_COUNT:
            raise MalformedRequest(f"bad header line {line[:100]!r}")
        headers.append((name, value.strip()))


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
    if not length_text.isdigit():
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
                target=self._serve_connection, args=(conn,), name=f"{self._name}-conn", daemon=True
            ).start()

    def _serve_connection(self, conn: Socket) -> None:
        stream = reader(conn, _READ_CHUNK)
        try:
            while not self._closed:
                try:
                    request = read_request(stream, self._max_body, self._stream_if)
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
                response = self._handler(request)
                keep_alive = (request.header("connection") or "").lower() != "close"
                if request.body_stream is not None and not request.body_stream.complete:
                    keep_alive = False  # a streamed body the handler left unread: framing lost
                _send(conn, response, keep_alive)
                if not keep_alive:
                    return
        except OSError:
            return  # peer went away: nothing to answer
        finally:
            with self._lock:
                self._connections.discard(conn)
            stream.close()
            conn.close()


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
