"""Spans as an OTLP/HTTP JSON request (ExportTraceServiceRequest), POSTed with a bounded
timeout.

OTLP's JSON mapping (opentelemetry-proto, "JSON Protobuf Encoding"): lowerCamelCase field
names, trace and span ids as hex strings, enums as integers, 64-bit integers as decimal
strings. Plain `http://` endpoints (the Collector or ADOT extension on localhost) are
spoken to over a socket: `http.client` alone costs ~25 ms to import, paid by every exec-mode
call; `https://` ones go through http.client and ssl, imported then.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from otel_spans.spans import Span

SCOPE = {"name": "openruntime.trace", "version": "1"}
STATUS_ERROR = 2


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in values.items()]


def span_json(span: Span, trace_id: str, tracestate: str) -> dict[str, Any]:
    encoded: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": attributes(span.attributes),
    }
    if span.parent_id:
        encoded["parentSpanId"] = span.parent_id
    if tracestate:
        encoded["traceState"] = tracestate
    if span.error is not None:
        encoded["status"] = {"code": STATUS_ERROR, "message": f"{span.error[0]}: {span.error[1]}"[:1024]}
    return encoded


def export_request(spans: list[Span], trace_id: str, tracestate: str, resource: dict[str, Any]) -> bytes:
    body = {"resourceSpans": [{
        "resource": {"attributes": attributes(resource)},
        "scopeSpans": [{"scope": SCOPE, "spans": [span_json(span, trace_id, tracestate) for span in spans]}],
    }]}
    return json.dumps(body, separators=(",", ":")).encode()


class ExportError(Exception):
    pass


def post(endpoint: str, body: bytes, headers: dict[str, str], timeout_s: float) -> None:
    """POST `body` to `endpoint`; ExportError unless it answers 2xx within `timeout_s`."""
    url = urlsplit(endpoint)
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    port = url.port or (443 if url.scheme == "https" else 80)
    all_headers = {"Content-Type": "application/json", **headers}
    try:
        if url.scheme == "https":
            status = _post_https(url.hostname or "", port, path, body, all_headers, timeout_s)
        else:
            status = _post_http(url.hostname or "", port, url.netloc, path, body, all_headers, timeout_s)
    except (OSError, ValueError) as exc:
        raise ExportError(f"{type(exc).__name__}: {exc}") from None
    if not 200 <= status < 300:
        raise ExportError(f"HTTP {status}")


# Persistent mode exports once per invocation to the same collector (the ADOT or Collector
# extension on localhost): one kept-alive connection per endpoint saves a connect and a
# close each time. An idle connection the collector dropped (say while Lambda froze the
# sandbox) fails at once, and the request is sent again on a new one.
_idle: dict[tuple[str, int], socket.socket] = {}
MAX_ANSWER_HEAD = 16 * 1024
MAX_ANSWER_BODY = 64 * 1024  # OTLP answers are tiny (a partial-success note at most)


def _post_http(host: str, port: int, netloc: str, path: str, body: bytes, headers: dict[str, str],
               timeout_s: float) -> int:
    head = [f"POST {path} HTTP/1.1", f"Host: {netloc}", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
    deadline = time.monotonic() + timeout_s  # for the whole exchange, not per step

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no answer within {timeout_s * 1000:.0f} ms")
        return remaining

    sock = _idle.pop((host, port), None)
    if sock is not None:
        try:
            return _exchange(sock, request, left, (host, port))
        except (OSError, ValueError):
            sock.close()  # dropped while idle: once more on a new connection
    sock = socket.create_connection((host, port), timeout=left())
    try:
        return _exchange(sock, request, left, (host, port))
    except BaseException:
        sock.close()
        raise


def _exchange(sock: socket.socket, request: bytes, left: Callable[[], float], key: tuple[str, int]) -> int:
    """Send, read the answer (bounded), and keep the connection if its framing allows."""
    sock.settimeout(left())
    sock.sendall(request)
    answer = b""
    while b"\r\n\r\n" not in answer:
        if len(answer) > MAX_ANSWER_HEAD:
            raise ValueError("the collector's answer has no end of headers")
        sock.settimeout(left())
        chunk = sock.recv(4096)
        if not chunk:
            if answer:
                break  # an HTTP/1.0-style answer closed without a blank line: status is enough
            raise ConnectionResetError("the collector closed the connection without answering")
        answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status_line = lines[0].split()
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") or not status_line[1].isdigit():
        raise ValueError(f"not an HTTP answer: {answer[:80]!r}")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip().lower()
    length = fields.get(b"content-length", b"")
    keep = (status_line[0] == b"HTTP/1.1" and fields.get(b"connection") != b"close" and length.isdigit()
            and int(length) <= MAX_ANSWER_BODY)
    if keep:
        while len(rest) < int(length):
            sock.settimeout(left())
            chunk = sock.recv(int(length) - len(rest))
            if not chunk:
                keep = False
                break
            rest += chunk
    if keep:
        _idle[key] = sock
    else:
        sock.close()
    return int(status_line[1])


def _post_https(host: str, port: int, path: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    import http.client  # only for https endpoints: see the module docstring

    from overall_deadline import overall_deadline

    connection = http.client.HTTPSConnection(host, port, timeout=timeout_s)
    try:
        with overall_deadline(connection, timeout_s) as cut_off:  # the timeout, for the whole exchange
            try:
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
                response.read(MAX_ANSWER_BODY)  # the rest is not read: the connection closes
            except (OSError, http.client.HTTPException) as exc:
                if cut_off.is_set():
                    raise TimeoutError(f"no whole answer within {timeout_s * 1000:.0f} ms") from None
                if isinstance(exc, OSError):
                    raise
                raise ValueError(f"not an HTTP answer: {type(exc).__name__}: {exc}") from None
        return response.status
    finally:
        connection.close()
