"""Real loopback receivers for the trace tests: an OTLP/HTTP endpoint and an X-Ray daemon's
UDP port."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Received:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], Any]] = []  # (path, headers, JSON body)
        self.status = 200
        self.connections = 0

    def spans(self) -> list[dict[str, Any]]:
        return [span for _, _, body in self.requests for resource in body["resourceSpans"]
                for scope in resource["scopeSpans"] for span in scope["spans"]]

    def wait(self, count: int, within_s: float = 10.0) -> None:
        end = time.monotonic() + within_s
        while len(self.requests) < count and time.monotonic() < end:
            time.sleep(0.01)


@contextmanager
def otlp_collector(keep_alive: bool = False, drop_idle: bool = False,
                   gate: threading.Event | None = None) -> Iterator[tuple[str, Received]]:
    """An OTLP/HTTP receiver on loopback; yields its base URL and what it got.
    `keep_alive`: HTTP/1.1 with persistent connections, as the OpenTelemetry Collector;
    `drop_idle`: it then closes each connection after answering without saying so (as a
    collector does with one idle too long). `gate`: nothing is answered until it is set."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def setup(self) -> None:
            received.connections += 1
            super().setup()

        def do_POST(self) -> None:  # noqa: N802 - the http.server name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if gate is not None:
                gate.wait(30)
            received.requests.append((self.path, dict(self.headers), json.loads(body)))
            self.send_response(received.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            if drop_idle:
                self.close_connection = True

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def xray_daemon() -> Iterator[tuple[str, socket.socket]]:
    """A UDP socket on loopback standing for the X-Ray daemon; yields `host:port` and it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}", sock
    finally:
        sock.close()


def read_segment(sock: socket.socket) -> dict[str, Any]:
    data = sock.recv(65536)
    header, _, document = data.partition(b"\n")
    assert json.loads(header) == {"format": "json", "version": 1}
    return json.loads(document)
