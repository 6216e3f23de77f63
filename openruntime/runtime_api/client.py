"""The upstream Runtime API client: Lambda's (or the emulator's) `AWS_LAMBDA_RUNTIME_API`.

It is on the hot path twice per invocation (one `/next`, one post), so it speaks the little
HTTP/1.1 it needs itself, over one kept-alive socket: a loopback round trip costs about
0.03 ms that way, 0.11 ms with http.client (whose header parsing goes through the email
package) and 0.4 ms with httpx's sync client (docs/benchmarks.md). The long poll has no
timeout: the sandbox is frozen between invocations. Connection failures are retried with backoff for a bounded time; a 500 means
"exit now" (Lambda's contract), so it raises FatalUpstreamError.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping

from openruntime.errors import BadResponse, FatalUpstreamError, MalformedRequest
from openruntime.invocation import Invocation, JSON, Outcome
from openruntime.runtime_api.netio import connect, reader, send_chunk
from openruntime.runtime_api.wire import read_fields, read_head

BASE = "/2018-06-01/runtime"
RETRY_SECONDS = float(os.environ.get("OPENRUNTIME_UPSTREAM_RETRY_S", "5"))

_MAX_HEADER_LINE = 1024 * 1024  # Lambda's headers (client context) stay far below this
_RETRYABLE = (ConnectionError, OSError)


class _Connection:
    """One kept-alive HTTP/1.1 connection: Content-Length or chunked answers, nothing else."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = connect(host, port)
        self.reader = reader(self.sock, 256 * 1024)
        self.host_header = f"Host: {host}:{port}\r\n"

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def request(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes, bool]:
        """(status, headers, body, keep-alive) of one exchange."""
        head = f"{method} {path} HTTP/1.1\r\n{self.host_header}"
        for name, value in headers.items():
            head += f"{name}: {value}\r\n"
        if body is not None:
            head += f"Content-Length: {len(body)}\r\n"
        data = (head + "\r\n").encode("latin-1")
        if body and len(body) > 65536:
            self.sock.sendall(data)  # no copy of a large body into the head (TCP_NODELAY: no stall)
            self.sock.sendall(body)
        else:
            self.sock.sendall(data + body if body else data)
        return self._response()

    def stream(
        self, path: str, headers: Mapping[str, str], chunks: Iterable[bytes],
        trailers: Callable[[], Mapping[str, str]],
    ) -> tuple[int, list[tuple[str, str]], bytes, bool]:
        """One exchange whose request body is sent chunked as `chunks` yields, then the
        fields `trailers()` gives (asked once the chunks have ended)."""
        head = f"POST {path} HTTP/1.1\r\n{self.host_header}Transfer-Encoding: chunked\r\n"
        for name, value in headers.items():
            head += f"{name}: {value}\r\n"
        self.sock.sendall((head + "\r\n").encode("latin-1"))
        for chunk in chunks:
            if chunk:
                send_chunk(self.sock, chunk)
        fields = "".join(f"{k}: {v}\r\n" for k, v in trailers().items())
        self.sock.sendall(b"0\r\n" + fields.encode("latin-1") + b"\r\n")
        return self._response()

    def _line(self) -> bytes:
        line = self.reader.readline(_MAX_HEADER_LINE)
        if not line.endswith(b"\n"):
            raise BadResponse("the Runtime API closed the connection" if not line else "header line too long")
        return line

    def _response(self) -> tuple[int, list[tuple[str, str]], bytes, bool]:
        try:
            head = read_head(self.reader)
        except MalformedRequest as exc:
            raise BadResponse(str(exc)) from None
        if head is None:
            raise BadResponse("the Runtime API closed the connection")
        status_line, headers = head
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise BadResponse(f"bad status line {status_line[:100]!r}")
        status = int(parts[1])
        length: int | None = None
        chunked = False
        keep_alive = parts[0] != "HTTP/1.0"
        for name, value in headers:
            lowered = name.lower()
            if lowered == "content-length":
                length = int(value)
            elif lowered == "transfer-encoding":
                chunked = value.lower() == "chunked"
            elif lowered == "connection":
                keep_alive = value.lower() != "close"
        if chunked:
            body = self._chunked()
        elif length is not None:
            body = self.reader.read(length)
            if len(body) != length:
                raise BadResponse(f"body truncated: {len(body)} of {length} bytes")
        else:
            body, keep_alive = self.reader.read(), False  # ends with the connection
        return status, headers, body, keep_alive

    def _chunked(self) -> bytes:
        chunks = []
        while (size := int(self._line().split(b";", 1)[0], 16)) > 0:
            chunks.append(self.reader.read(size))
            self._line()
        try:
            read_fields(self.reader)  # trailers: nothing here needs them
        except MalformedRequest as exc:
            raise BadResponse(str(exc)) from None
        return b"".join(chunks)


class RuntimeAPIClient:
    """Lambda's Runtime API from the bootstrap's side: `next_invocation`, `post_outcome`,
    `post_init_error`, over one kept-alive connection, retried while Lambda restarts it."""

    def __init__(self, address: str, retry_seconds: float = RETRY_SECONDS) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise FatalUpstreamError(f"AWS_LAMBDA_RUNTIME_API {address!r} is not host:port")
        self._host, self._port = host, int(port)
        self._retry_seconds = retry_seconds
        self._conn: _Connection | None = None

    def another(self) -> RuntimeAPIClient:
        """A client of its own for another poller (Managed Instances mode): each long-polls
        /next on its own connection."""
        return RuntimeAPIClient(f"{self._host}:{self._port}", self._retry_seconds)

    def _connection(self) -> _Connection:
        if self._conn is None:
            self._conn = _Connection(self._host, self._port)
        return self._conn

    def connect(self) -> None:
        """Open the connection now (the cold start does, while the runtime boots), so the
        first `/next` does not wait for it; a failure is left to the first request's retries."""
        try:
            self._connection()
        except OSError:
            pass

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        delay = 0.01
        give_up_at = time.monotonic() + self._retry_seconds
        while True:
            try:
                status, response_headers, data, keep_alive = self._connection().request(
                    method, path, body, headers or {}
                )
            except (_RETRYABLE + (ValueError,)) as exc:
                self.close()
                if time.monotonic() + delay > give_up_at:
                    raise FatalUpstreamError(
                        f"Runtime API {self._host}:{self._port} unreachable for "
                        f"{self._retry_seconds:.1f}s ({method} {path}): {exc!r}"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if not keep_alive:
                self.close()
            if status >= 500:
                self.close()
                raise FatalUpstreamError(f"Runtime API answered {status} to {method} {path}: {data[:500]!r}")
            return status, response_headers, data

    def next_invocation(self) -> Invocation:
        status, headers, body = self._request("GET", f"{BASE}/invocation/next")
        if status != 200:
            raise FatalUpstreamError(f"Runtime API answered {status} to GET next: {body[:500]!r}")
        try:
            return Invocation.from_next(headers, body)
        except ValueError as exc:
            raise FatalUpstreamError(str(exc)) from exc

    def post_outcome(self, invocation: Invocation, outcome: Outcome) -> tuple[int, bytes]:
        """Post a response or an error for `invocation`; returns Lambda's status and body."""
        kind = "error" if outcome.is_error else "response"
        headers = {"Content-Type": outcome.content_type}
        if outcome.is_error and outcome.error_type:
            headers["Lambda-Runtime-Function-Error-Type"] = outcome.error_type
        if invocation.invocation_id:
            headers["Lambda-Runtime-Invocation-Id"] = invocation.invocation_id
        path = f"{BASE}/invocation/{invocation.request_id}/{kind}"
        status, _, body = self._request("POST", path, outcome.body, headers)
        return status, body

    def post_stream(
        self, invocation: Invocation, content_type: str, chunks: Iterable[bytes],
        trailers: Callable[[], Mapping[str, str]],
    ) -> tuple[int, bytes]:
        """A streamed response, passed on as it comes (Lambda's streaming mode: chunked,
        an error after the first byte in the trailers). Not retried: a stream cannot be
        replayed; a broken connection is fatal, as for any post."""
        headers = {
            "Content-Type": content_type,
            "Lambda-Runtime-Function-Response-Mode": "streaming",
            "Trailer": "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
        }
        if invocation.invocation_id:
            headers["Lambda-Runtime-Invocation-Id"] = invocation.invocation_id
        path = f"{BASE}/invocation/{invocation.request_id}/response"
        try:
            status, _, body, keep_alive = self._connection().stream(path, headers, chunks, trailers)
        except _RETRYABLE as exc:
            self.close()
            raise FatalUpstreamError(f"Runtime API {self._host}:{self._port} broke off a streamed response: {exc!r}") from exc
        if not keep_alive:
            self.close()
        return status, body

    def restore_next(self) -> None:
        """SnapStart: the environment is ready for its snapshot; returns once restored."""
        status, _, body = self._request("GET", f"{BASE}/restore/next")
        if status != 200:
            raise FatalUpstreamError(f"Runtime API answered {status} to GET restore/next: {body[:500]!r}")

    def post_restore_error(self, body: bytes, error_type: str) -> int:
        headers = {"Content-Type": JSON, "Lambda-Runtime-Function-Error-Type": error_type}
        status, _, _ = self._request("POST", f"{BASE}/restore/error", body, headers)
        return status

    def post_init_error(self, body: bytes, error_type: str) -> int:
        headers = {"Content-Type": JSON, "Lambda-Runtime-Function-Error-Type": error_type}
        status, _, _ = self._request("POST", f"{BASE}/init/error", body, headers)
        return status
