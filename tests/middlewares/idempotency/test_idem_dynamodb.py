"""The DynamoDB store against moto's server: Powertools' item layout, records written by
another client (boto3) honoured, expiry by the conditional write, and AWS errors named."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from aws_fixtures import load
from idempotency_support import ARN, DynamoDB, Middleware, now_ms

EVENT = load("sqs-batch.json")["Records"][0]  # one SQS record; keyed by its messageId
KEY_ENV = {"IDEMPOTENCY_EVENT_KEY_JMESPATH": "messageId"}
# The key: the function's name, '#', and sha256 of the selected value as canonical JSON.
KEY = "orders#" + hashlib.sha256(json.dumps(EVENT["messageId"]).encode()).hexdigest()


def test_the_item_has_powertools_layout(dynamodb: DynamoDB) -> None:
    mw = Middleware({**dynamodb.env(), **KEY_ENV})
    deadline = now_ms() + 20_000
    try:
        before, _ = mw.call("before", json.dumps(EVENT).encode(), deadline_ms=deadline)
        [claimed] = dynamodb.items()
        mw.call("after", b'{"ok": true}', state=before["state"], deadline_ms=deadline)
        [done] = dynamodb.items()
    finally:
        mw.close()

    assert ARN.endswith(":function:orders")  # the key's prefix is the function's name
    assert claimed["id"] == {"S": KEY} and claimed["status"] == {"S": "INPROGRESS"}
    assert claimed["in_progress_expiration"] == {"N": str(deadline)}  # the invocation's deadline
    assert abs(int(claimed["expiration"]["N"]) - (time.time() + 3600)) < 5  # Unix seconds: the TTL attribute
    assert done["status"] == {"S": "COMPLETED"}
    assert done["data"] == {"S": '{"ok": true}'}
    assert done["content_type"] == {"S": "application/json"}


def seed(dynamodb: DynamoDB, status: str, expiration: int, data: str | None = None) -> None:
    item: dict[str, Any] = {"id": {"S": KEY}, "status": {"S": status}, "expiration": {"N": str(expiration)}}
    if data is not None:
        item["data"] = {"S": data}
    dynamodb.client.put_item(TableName=dynamodb.table, Item=item)


def test_records_written_by_another_client_are_honoured_and_expired_ones_reclaimed(dynamodb: DynamoDB) -> None:
    mw = Middleware({**dynamodb.env(), **KEY_ENV})
    payload = json.dumps(EVENT).encode()
    try:
        seed(dynamodb, "COMPLETED", int(time.time()) + 60, '{"from": "boto3"}')
        replayed = mw.call("before", payload)
        seed(dynamodb, "INPROGRESS", int(time.time()) + 60)  # no in_progress_expiration: held until expiration
        refused = mw.call("before", payload)
        seed(dynamodb, "COMPLETED", int(time.time()) - 1, '{"stale": true}')
        reclaimed = mw.call("before", payload)
        [item] = dynamodb.items()
    finally:
        mw.close()

    assert replayed == ({"action": "respond", "length": 17}, b'{"from": "boto3"}')
    assert refused[0]["action"] == "fail"
    assert json.loads(refused[1])["errorType"] == "Idempotency.AlreadyInProgress"
    assert reclaimed[0].get("action", "continue") == "continue" and reclaimed[1] == payload
    assert item["status"] == {"S": "INPROGRESS"} and "data" not in item


def test_a_missing_table_fails_naming_the_table_and_the_aws_error(dynamodb: DynamoDB) -> None:
    mw = Middleware({**dynamodb.env(), "IDEMPOTENCY_TABLE": "no-such-table"})
    try:
        header, payload = mw.call("before", json.dumps(EVENT).encode())
    finally:
        mw.close()

    error = json.loads(payload)
    assert header["action"] == "fail"
    assert error["errorType"] == "Idempotency.PersistenceError"
    assert error["errorMessage"].startswith("DynamoDB table no-such-table: PutItem failed: ResourceNotFoundException")
    assert error["table"] == "no-such-table" and error["awsErrorCode"] == "ResourceNotFoundException"


def test_an_unreachable_endpoint_fails_within_the_timeout(dynamodb: DynamoDB) -> None:
    mw = Middleware({**dynamodb.env(), "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9"})
    try:
        started = time.monotonic()
        header, payload = mw.call("before", json.dumps(EVENT).encode())
        took = time.monotonic() - started
    finally:
        mw.close()

    error = json.loads(payload)
    assert header["action"] == "fail" and error["errorType"] == "Idempotency.PersistenceError"
    assert error["awsErrorCode"] == "ConnectionError" and "127.0.0.1:9" in error["errorMessage"]
    assert took < 2.5


def test_a_store_that_answers_a_byte_at_a_time_is_cut_off_at_the_timeout(dynamodb: DynamoDB) -> None:
    """IDEMPOTENCY_TIMEOUT_MS bounds the whole exchange, not each read: this server's
    complete, valid answer takes 13 s to arrive, a byte every 0.1 s."""
    import socket
    import threading

    answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\n\r\n{}'
    listener = socket.create_server(("127.0.0.1", 0))

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in answer:
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.1)

    threading.Thread(target=drip, daemon=True).start()
    mw = Middleware({**dynamodb.env(), "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{listener.getsockname()[1]}",
                     "IDEMPOTENCY_TIMEOUT_MS": "1000"})
    try:
        header, payload = mw.call("before", json.dumps(EVENT).encode())
    finally:
        mw.close()
        listener.close()
    error = json.loads(payload)
    assert header["action"] == "fail" and error["awsErrorCode"] == "Timeout", error


def test_a_claim_whose_answer_was_lost_is_still_ours(dynamodb: DynamoDB) -> None:
    """The first PutItem reaches DynamoDB but its answer is lost (the connection drops):
    the retried conditional write finds our own claim, which is not a duplicate's."""
    import http.client
    import socket
    import threading
    from urllib.parse import urlsplit

    upstream = urlsplit(dynamodb.url)
    listener = socket.create_server(("127.0.0.1", 0))
    dropped: list[bool] = []

    def forward(conn: socket.socket) -> None:
        with conn:
            reader = conn.makefile("rb")
            while True:
                request_line = reader.readline()
                if not request_line:
                    return
                headers = {}
                while (line := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip()] = value.strip()
                body = reader.read(int(headers.get("Content-Length", headers.get("content-length", "0"))))
                client = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=10)
                client.request("POST", "/", body, headers)
                answer = client.getresponse()
                data = answer.read()
                if not dropped:  # applied upstream, never answered here
                    dropped.append(True)
                    return
                conn.sendall(b"HTTP/1.1 %d OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
                             b"Content-Length: %d\r\n\r\n" % (answer.status, len(data)) + data)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=forward, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    mw = Middleware({**dynamodb.env(), "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{listener.getsockname()[1]}"})
    try:
        header, payload = mw.call("before", json.dumps(EVENT).encode())
    finally:
        mw.close()
        listener.close()
    assert dropped and header.get("action", "continue") == "continue", payload  # claimed, by us
    assert [item["status"]["S"] for item in dynamodb.items()] == ["INPROGRESS"]
