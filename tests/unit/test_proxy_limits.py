"""The proxy's response limit at its exact boundary, with a real socket client playing the
runtime against the real proxy (in-process, loopback)."""

from __future__ import annotations

import http.client
import threading
import time

import pytest

from openruntime import errors
from openruntime.invocation import Invocation
from openruntime.orchestrator.proxy import RuntimeAPIProxy

BASE = "/2018-06-01/runtime"


@pytest.mark.parametrize(("size", "accepted"), [
    (errors.MAX_RESPONSE_BYTES, True),  # 6,291,556 bytes: Lambda takes it
    (errors.MAX_RESPONSE_BYTES + 1, False),  # one more: 413, and the caller's error
])
def test_the_response_limit_is_exact(size: int, accepted: bool) -> None:
    proxy = RuntimeAPIProxy().start()
    statuses: list[int] = []

    def runtime() -> None:
        host, port = proxy.address.split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("GET", f"{BASE}/invocation/next")
        response = conn.getresponse()
        response.read()
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        conn.request("POST", f"{BASE}/invocation/{request_id}/response", body=b"x" * size)
        reply = conn.getresponse()
        reply.read()
        statuses.append(reply.status)

    try:
        thread = threading.Thread(target=runtime)
        thread.start()
        # Its /next waits first: the event goes out on the lane (the orchestrator's own
        # thread reads the answer), and the 202 is not held for an owner that did not ask.
        proxy.wait_ready(30)
        invocation = Invocation("req-1", int(time.time() * 1000) + 30_000, "arn:aws:lambda:x", None, None,
                                "application/json", b"{}", [("Lambda-Runtime-Aws-Request-Id", "req-1")])
        pending = proxy.dispatch(invocation, b"{}", "application/json")
        outcome = proxy.wait_outcome(pending, time.monotonic() + 30)
        thread.join(30)
    finally:
        proxy.close()
    assert outcome is not None
    if accepted:
        assert statuses == [202] and not outcome.is_error and len(outcome.body) == size
    else:
        assert statuses == [413] and outcome.error_type == "Function.ResponseSizeTooLarge"
        assert f"({size} bytes)" in outcome.body.decode()
