"""The upstream Runtime API client: Lambda's (or the emulator's) `AWS_LAMBDA_RUNTIME_API`.

It is on the hot path twice per invocation (one `/next`, one post), so it speaks HTTP/1.1
through `http.client` over one kept-alive connection rather than httpx: measured here, a
loopback round trip costs about 0.2 ms with http.client and 0.6 ms with httpx's sync
client (docs/benchmarks.md). The long poll has no timeout: the sandbox is frozen between
invocations. Connection failures are retried with backoff for a bounded time; a 500 means
"exit now" (Lambda's contract), so it raises FatalUpstreamError.
"""

from __future__ import annotations

import http.client
import os
import time
from collections.abc import Mapping

from openruntime.invocation import Invocation, Outcome

BASE = "/2018-06-01/runtime"
RETRY_SECONDS = float(os.environ.get("OPENRUNTIME_UPSTREAM_RETRY_S", "5"))

_RETRYABLE = (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine, OSError)


class FatalUpstreamError(Exception):
    """The Runtime API cannot be used any more; the bootstrap must exit non-zero."""


class RuntimeAPIClient:
    def __init__(self, address: str, retry_seconds: float = RETRY_SECONDS) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise FatalUpstreamError(f"AWS_LAMBDA_RUNTIME_API {address!r} is not host:port")
        self._host, self._port = host, int(port)
        self._retry_seconds = retry_seconds
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self._host, self._port)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        delay = 0.01
        give_up_at = time.monotonic() + self._retry_seconds
        while True:
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=dict(headers or {}))
                response = conn.getresponse()
                data = response.read()
            except _RETRYABLE as exc:
                self.close()
                if time.monotonic() + delay > give_up_at:
                    raise FatalUpstreamError(
                        f"Runtime API {self._host}:{self._port} unreachable for "
                        f"{self._retry_seconds:.1f}s ({method} {path}): {exc!r}"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if response.status >= 500:
                self.close()
                raise FatalUpstreamError(
                    f"Runtime API answered {response.status} to {method} {path}: {data[:500]!r}"
                )
            return response.status, response.getheaders(), data

    def next_invocation(self) -> Invocation:
        status, headers, body = self._request("GET", f"{BASE}/invocation/next")
        if status != 200:
            raise FatalUpstreamError(f"Runtime API answered {status} to GET next: {body[:500]!r}")
        try:
            return Invocation.from_next(headers, body)
        except ValueError as exc:
            raise FatalUpstreamError(str(exc)) from exc

    def post_outcome(self, invocation: Invocation, outcome: Outcome) -> tuple[int, bytes]:
        """Post a response or an error for `invocation`; returns Lambda's status and body."""
        kind = "error" if outcome.is_error else "response"
        headers = {"Content-Type": outcome.content_type}
        if outcome.is_error and outcome.error_type:
            headers["Lambda-Runtime-Function-Error-Type"] = outcome.error_type
        if invocation.invocation_id:
            headers["Lambda-Runtime-Invocation-Id"] = invocation.invocation_id
        path = f"{BASE}/invocation/{invocation.request_id}/{kind}"
        status, _, body = self._request("POST", path, outcome.body, headers)
        return status, body

    def post_init_error(self, body: bytes, error_type: str) -> int:
        headers = {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error_type}
        status, _, _ = self._request("POST", f"{BASE}/init/error", body, headers)
        return status
