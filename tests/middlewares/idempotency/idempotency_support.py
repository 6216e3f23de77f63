"""What the idempotency tests share: moto in server mode (a real DynamoDB API over HTTP on
loopback), a table per test, and the middleware driven over persistent-mode frames."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_fixtures import PersistentProcess

EXECUTABLE = Path(__file__).resolve().parents[3] / "middlewares" / "idempotency" / "idempotency"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
REGION = "us-east-1"
# moto accepts any credentials; these only have to be present and signed with.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SESSION_TOKEN": "testing-token", "AWS_REGION": REGION}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# `python -m moto.server`, one request at a time: its server is threaded, and moto's
# DynamoDB checks a ConditionExpression and then writes, not atomically, so concurrent
# conditional puts could both win there (in CI under load: 3 of 4 racers claimed one key),
# which DynamoDB itself never lets happen. Served one by one, each put is atomic, as there.
MOTO_SERVER = """
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
run_simple("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=False)
"""


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's server (MOTO_SERVER) on a free loopback port; its URL."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        pytest.fail("moto[server] is not installed (pip install -e '.[test]')", pytrace=False)
    process = subprocess.Popen(
        [sys.executable, "-c", MOTO_SERVER],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert process.stdout is not None
    found: list[str] = []
    ready = threading.Event()

    def watch() -> None:  # keeps draining its output so the server never blocks on a pipe
        assert process.stdout is not None
        for line in process.stdout:
            match = re.search(r"Running on (http://127\.0\.0\.1:\d+)", line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=watch, daemon=True).start()
    ready.wait(30)
    try:
        if not found:
            pytest.fail("moto server did not start within 30 s", pytrace=False)
        yield found[0]
    finally:
        process.terminate()
        process.wait(10)


class DynamoDB:
    """A table on the moto server, made with boto3 (AWS's client, not ours)."""

    def __init__(self, url: str) -> None:
        import boto3

        self.url = url
        self.client = boto3.client("dynamodb", endpoint_url=url, region_name=REGION,
                                   aws_access_key_id="testing", aws_secret_access_key="testing")
        self.table = f"idempotency-{uuid.uuid4().hex[:12]}"
        self.client.create_table(
            TableName=self.table, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )

    def env(self) -> dict[str, str]:
        return {"IDEMPOTENCY_TABLE": self.table, "AWS_ENDPOINT_URL_DYNAMODB": self.url, **FAKE_CREDENTIALS}

    def items(self) -> list[dict[str, Any]]:
        return self.client.scan(TableName=self.table, ConsistentRead=True)["Items"]


@pytest.fixture
def dynamodb(moto_server: str) -> DynamoDB:
    return DynamoDB(moto_server)


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without anything the middleware reads, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("IDEMPOTENCY_", "AWS_", "OPENRUNTIME_", "LAMBDA_TASK_ROOT"))}
    return {**env, **extra}


class Middleware:
    """The executable in persistent mode; `call` sends one hook's frame and gives the answer."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = PersistentProcess(EXECUTABLE, clean_env(env))
        self.ready, _ = self.process.read()

    def call(self, hook: str, payload: bytes, *, state: Any = None, deadline_ms: int | None = None,
             content_type: str = "application/json", request_id: str | None = None) -> tuple[dict[str, Any], bytes]:
        import uuid

        # Lambda's request ids are unique: each call is another invocation unless told.
        header = {"hook": hook, "request_id": request_id or str(uuid.uuid4()),
                  "deadline_ms": deadline_ms if deadline_ms is not None else now_ms() + 30_000,
                  "function_arn": ARN, "trace_id": None, "tenant_id": None, "content_type": content_type,
                  "middleware": "idempotency", "state": state}
        return self.process.send(header, payload)

    def close(self) -> str:
        self.process.close()
        return self.process.stderr
