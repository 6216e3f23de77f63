"""The least a Python Runtime API proxy can do: the floor for the orchestrator's hot path.

One thread, raw sockets, no parsing beyond the end of a head, Content-Length and the
request id: it starts the runtime given on its command line behind a loopback listener and
relays `/next` and `/response` between it and `AWS_LAMBDA_RUNTIME_API`, nothing else (no
errors, timeouts, restarts, middlewares or logs). benchmarks/call_by_call.py runs it beside
the orchestrator: what the orchestrator adds above it is what its features cost.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys


def read_message(sock: socket.socket, buffer: bytes) -> tuple[bytes, bytes, bytes]:
    """(head, body, what follows) of the next message with a Content-Length."""
    while (end := buffer.find(b"\r\n\r\n")) < 0:
        data = sock.recv(65536)
        if not data:
            sys.exit(0)
        buffer += data
    head = buffer[:end]
    at = head.lower().find(b"content-length:")
    length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) if at >= 0 else 0
    start = end + 4
    while len(buffer) - start < length:
        buffer += sock.recv(65536)
    return head, buffer[start:start + length], buffer[start + length:]


def main() -> None:
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
    upstream = socket.create_connection((host, int(port)))
    upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{listener.getsockname()[1]}")
    subprocess.Popen(sys.argv[1:], env=env)
    runtime, _ = listener.accept()
    runtime.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    up_buffer = rt_buffer = b""
    _, _, rt_buffer = read_message(runtime, rt_buffer)  # its first GET /next
    while True:
        upstream.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        head, body, up_buffer = read_message(upstream, up_buffer)
        runtime.sendall(head + b"\r\n\r\n" + body)
        at = head.find(b"Lambda-Runtime-Aws-Request-Id:")
        request_id = head[at + 30:head.find(b"\r\n", at)].strip()
        _, answer, rt_buffer = read_message(runtime, rt_buffer)
        upstream.sendall(b"POST /2018-06-01/runtime/invocation/" + request_id + b"/response HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(answer) + answer)
        runtime.sendall(b'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n'
                        b'{"status":"OK"}')
        _, _, up_buffer = read_message(upstream, up_buffer)
        _, _, rt_buffer = read_message(runtime, rt_buffer)  # its next GET /next


if __name__ == "__main__":
    main()
