"""A Runtime API that fails on purpose: the faults real Lambda can show, on loopback.

This stands in for AWS only (which cannot fail on demand here); everything downstream of
it (the orchestrator, its proxy, the runtime) is real. Each `GET /next` takes the next
scripted step: ("event", body), ("status", code), ("reset",), ("slow", seconds, body).
Posts are recorded; `response_status` makes every `/response` post answer that code.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

from openruntime.errors import MalformedRequest
from openruntime.runtime_api.http import Request, read_request


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FaultInjectingRuntimeAPI:
    script: list[tuple]
    response_status: int = 202
    posts: list[Post] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._steps = deque(self.script)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._listener.getsockname()[1]}"

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while True:
                try:
                    request = read_request(reader, 1 << 24)
                except MalformedRequest:
                    return
                if request is None or not self._answer(conn, request):
                    return
        finally:
            conn.close()

    def _answer(self, conn: socket.socket, request: Request) -> bool:
        if request.method == "POST":
            with self._lock:
                self.posts.append(Post(request.path, {k.lower(): v for k, v in request.headers}, request.body))
            status = self.response_status if request.path.endswith("/response") else 202
            _send(conn, status, b'{"status":"OK"}' if status == 202 else b'{"errorType":"RequestEntityTooLarge"}')
            return True
        with self._lock:
            step = self._steps.popleft() if self._steps else ("status", 500)
        kind = step[0]
        if kind == "reset":
            # SO_LINGER 0: close with a TCP reset, as a crashed peer would.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if kind == "status":
            _send(conn, step[1], b'{"errorType":"ServiceError"}')
            return True
        if kind == "slow":
            time.sleep(step[1])
        body = step[-1]
        request_id = str(uuid.uuid4())
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30_000),
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:012345678912:function:faulty",
            "Content-Type": "application/json",
        }
        _send(conn, 200, body, headers)
        return True

    def posted(self) -> list[tuple[str, object]]:
        return [(p.path.rsplit("/", 1)[-1], json.loads(p.body)) for p in self.posts]


def _send(conn: socket.socket, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
