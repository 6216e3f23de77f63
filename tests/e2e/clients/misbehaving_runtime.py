"""A Runtime API client that misbehaves on request, as broken runtimes do.

The event says what to do (`{"do": ...}`); the status codes the Runtime API answered
are appended to the file named by $STATUS_LOG, so a test can check what the proxy said.
"""

import http.client
import json
import os
import socket
import sys

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
log_path = os.environ.get("STATUS_LOG", os.devnull)


def record(what: str, status: int) -> None:
    with open(log_path, "a") as log:
        log.write(f"{what} {status}\n")


def call(method: str, path: str, body: bytes = b"") -> tuple[int, bytes, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection(host, int(port))
    conn.request(method, path, body=body)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data, response


base = "/2018-06-01/runtime"
while True:
    status, body, response = call("GET", f"{base}/invocation/next")
    if status != 200:
        sys.exit(1)
    request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
    action = json.loads(body).get("do", "answer")
    if action == "post-twice":
        record("first", call("POST", f"{base}/invocation/{request_id}/response", b'"first"')[0])
        record("second", call("POST", f"{base}/invocation/{request_id}/response", b'"second"')[0])
        continue
    if action == "unknown-id":
        record("unknown", call("POST", f"{base}/invocation/not-a-real-id/response", b'"x"')[0])
    if action == "next-again":  # a second /next before answering: no second copy of the event
        conn = http.client.HTTPConnection(host, int(port), timeout=1)
        try:
            conn.request("GET", f"{base}/invocation/next")
            record("next-again answered", conn.getresponse().status)
        except TimeoutError:
            record("next-again waited", 0)
        finally:
            conn.close()
    if action == "malformed":
        with socket.create_connection((host, int(port))) as raw:
            raw.sendall(b"POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
            record("malformed", int(raw.recv(100).split(b" ")[1]))
    if action == "too-big":
        size = int(json.loads(body)["size"])
        record("too-big", call("POST", f"{base}/invocation/{request_id}/response", b"x" * size)[0])
        continue
    if action == "init-error-late":
        record("late-init-error", call("POST", f"{base}/init/error", b'{"errorType":"X","errorMessage":"late"}')[0])
    record("answer", call("POST", f"{base}/invocation/{request_id}/response", json.dumps({"ok": action}).encode())[0])
    if action == "exit-after-answer":
        sys.exit(0)  # as some runtimes do after reporting an uncaught error
