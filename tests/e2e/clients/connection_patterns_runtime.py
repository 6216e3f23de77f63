"""A Runtime API client that uses its connections as real clients do, chosen by $PATTERN.

The orchestrator's proxy serves a runtime's one kept-alive connection from its own
thread (no hand-off); these are the clients that do something else, each answering
`{"n": N}` with `{"n": N, "pattern": ...}`:

  pool         polls on one connection, answers on another (an HTTP client's pool)
  alternate    polls on each of two connections in turn, answers where it polled
  cross        polls on each of two connections in turn, answers on the other one
  close        answers with `Connection: close` where it polled, then polls on a new one
  two-pollers  two threads in classic mode, each polling on its own connection; every
               execution is appended to $EXECUTIONS ("request-id thread")
  trickle      the event {"trickle": true} is answered one byte every 0.1 s (its head
               and body) on the connection it came on; other events as usual
  stream       answers in Lambda's streaming mode, chunked, on its one connection
"""

import http.client
import json
import os
import sys
import threading
import time

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
pattern = os.environ["PATTERN"]
BASE = "/2018-06-01/runtime"


def connection() -> http.client.HTTPConnection:
    return http.client.HTTPConnection(host, int(port), timeout=None)


def poll(conn: http.client.HTTPConnection) -> tuple[str, dict]:
    conn.request("GET", f"{BASE}/invocation/next")
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        sys.exit(1)
    return response.getheader("Lambda-Runtime-Aws-Request-Id"), json.loads(body)


def answer(conn: http.client.HTTPConnection, request_id: str, event: dict, **headers: str) -> None:
    body = json.dumps({"n": event.get("n"), "pattern": pattern}).encode()
    conn.request("POST", f"{BASE}/invocation/{request_id}/response", body=body,
                 headers={"Content-Type": "application/json", **headers})
    response = conn.getresponse()
    response.read()


def trickle(conn: http.client.HTTPConnection, request_id: str) -> None:
    body = json.dumps({"pattern": pattern, "trickled": True}).encode()
    message = (f"POST {BASE}/invocation/{request_id}/response HTTP/1.1\r\nHost: {host}\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    for i in range(len(message)):
        conn.sock.sendall(message[i:i + 1])
        time.sleep(0.1)
    sys.exit(0)  # not reached in time: the orchestrator replaces this runtime at the deadline


if pattern == "pool":
    polling, answering = connection(), connection()
    while True:
        request_id, event = poll(polling)
        answer(answering, request_id, event)
elif pattern in ("alternate", "cross"):
    connections = [connection(), connection()]
    elsewhere = 1 if pattern == "cross" else 0  # where it answers, counted from where it polled
    turn = 0
    while True:
        request_id, event = poll(connections[turn % 2])
        answer(connections[(turn + elsewhere) % 2], request_id, event)
        turn += 1
elif pattern == "close":
    while True:
        conn = connection()
        request_id, event = poll(conn)
        answer(conn, request_id, event, Connection="close")
        conn.close()
elif pattern == "two-pollers":
    lock = threading.Lock()

    def worker(name: str) -> None:
        conn = connection()
        while True:
            request_id, event = poll(conn)
            with lock, open(os.environ["EXECUTIONS"], "a") as log:
                log.write(f"{request_id} {name}\n")
            answer(conn, request_id, event)

    threads = [threading.Thread(target=worker, args=(f"t{i}",), daemon=True) for i in range(2)]
    for thread in threads:
        thread.start()
    threads[0].join()
elif pattern == "trickle":
    conn = connection()
    while True:
        request_id, event = poll(conn)
        if event.get("trickle"):
            trickle(conn, request_id)
        answer(conn, request_id, event)
elif pattern == "stream":
    conn = connection()
    while True:
        request_id, event = poll(conn)
        conn.putrequest("POST", f"{BASE}/invocation/{request_id}/response")
        conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
        conn.putheader("Content-Type", "text/plain")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for i in range(event.get("chunks", 3)):
            piece = f"chunk {i};".encode()
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.02)
        conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        response.read()
else:
    sys.exit(f"unknown PATTERN {pattern!r}")
