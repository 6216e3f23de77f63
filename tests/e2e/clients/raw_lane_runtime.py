"""Raw-socket runtimes that misuse their connections in ways no HTTP library would, chosen
by $PATTERN (tests/e2e/test_runtime_connections.py; found by a clean-room review of the
proxy's lane). Short sleeps order their steps against the orchestrator's: they make the
case happen, and a case that does not happen passes without testing anything.

  lost-wake    after its first answer: begins a request on its first connection, sends
               `GET /next` on a second one, then ends the first request
  lost-head    sends a ping and the head of its answer in one segment, then a post on a
               second connection, then the answer's body
  bad-length   answers {"bad": true} with `Content-Length: ²` (byte 0xB2: a digit to str.isdigit)
  flood        answers {"flood": true} with a huge Content-Length and keeps sending
"""

import json
import os
import socket
import sys
import threading
import time

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
BASE = "/2018-06-01/runtime"
pattern = os.environ["PATTERN"]


def connection() -> tuple[socket.socket, "object"]:
    sock = socket.create_connection((host, int(port)))
    return sock, sock.makefile("rb")


def read_response(reader) -> tuple[int, dict, bytes]:
    status = reader.readline()
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status.split()[1]), headers, reader.read(int(headers.get("content-length", 0)))


def poll(sock, reader) -> tuple[str, dict]:
    sock.sendall(f"GET {BASE}/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    status, headers, body = read_response(reader)
    if status != 200:
        sys.exit(1)
    return headers["lambda-runtime-aws-request-id"], json.loads(body)


def answer(sock, reader, request_id: str, value: dict) -> int:
    body = json.dumps(value).encode()
    sock.sendall(f"POST {BASE}/invocation/{request_id}/response HTTP/1.1\r\nHost: x\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return read_response(reader)[0]


def answer_until(conn, key: str) -> str:
    """Answer events as usual up to the first with `key`; its request id."""
    while True:
        request_id, event = poll(*conn)
        if event.get(key):
            return request_id
        answer(*conn, request_id, {"n": event.get("n")})


def serve(conn) -> None:
    while True:
        request_id, event = poll(*conn)
        answer(*conn, request_id, {"n": event.get("n")})


if pattern == "lost-wake":
    first, second = connection(), connection()
    request_id, event = poll(*first)
    answer(*first, request_id, {"n": event["n"]})  # no /next on `first` after it
    time.sleep(0.5)  # the orchestrator now waits on `first` for the next /next
    first[0].sendall(b"GET /2018-06-01/ping HTTP/1.1\r\n")  # a request begun...
    time.sleep(0.2)
    second[0].sendall(f"GET {BASE}/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n".encode())  # ...a /next elsewhere...
    time.sleep(0.2)
    first[0].sendall(b"Host: x\r\n\r\n")  # ...and the first request ends
    read_response(first[1])
    status, headers, body = read_response(second[1])
    answer(*second, headers["lambda-runtime-aws-request-id"], {"n": json.loads(body)["n"]})
    serve(second)
elif pattern == "lost-head":
    first, second = connection(), connection()
    request_id, event = poll(*first)
    body = json.dumps({"n": event["n"]}).encode()
    first[0].sendall(f"GET /2018-06-01/ping HTTP/1.1\r\nHost: x\r\n\r\n"
                     f"POST {BASE}/invocation/{request_id}/response HTTP/1.1\r\nHost: x\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode())
    time.sleep(0.3)
    second[0].sendall(f"POST {BASE}/invocation/unknown-id/error HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    time.sleep(0.3)
    first[0].sendall(body)
    read_response(first[1])  # the ping's
    read_response(first[1])  # the answer's
    serve(first)
elif pattern == "bad-length":
    conn = connection()
    while True:
        request_id = answer_until(conn, "bad")
        conn[0].sendall(f"POST {BASE}/invocation/{request_id}/response HTTP/1.1\r\nHost: x\r\n"
                        "Content-Length: ".encode() + b"\xb2\r\n\r\n{}")  # latin-1 "²"
        conn[1].readline()  # the 400
        conn = connection()
elif pattern == "flood":
    conn = connection()
    request_id = answer_until(conn, "flood")
    conn[0].sendall(f"POST {BASE}/invocation/{request_id}/response HTTP/1.1\r\nHost: x\r\n"
                    f"Content-Length: {10 ** 15}\r\n\r\n".encode())
    block = b"\0" * (4 << 20)

    def flood() -> None:
        while True:
            conn[0].sendall(block)

    for _ in range(3):
        threading.Thread(target=flood, daemon=True).start()
    flood()
else:
    sys.exit(f"unknown PATTERN {pattern!r}")
