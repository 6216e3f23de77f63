"""A small DynamoDB JSON-protocol client (`DynamoDB_20120810.<Operation>`) over http.client.

Stdlib only: boto3 is not on every Lambda Python the orchestrator may run on, and
creating a boto3 client costs 0.3–0.6 s at every exec-mode spawn. One connection is
kept and reused (persistent mode); every call has a timeout and a bounded read.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from .sigv4 import Credentials, sign

MAX_RESPONSE_BYTES = 4 * 1024 * 1024  # an item is at most 400 KB; its JSON, at most a few times that
RETRYABLE = {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
             "InternalServerError", "ServiceUnavailable", "TransactionConflictException"}
RETRY_DELAYS_S = (0.05, 0.2)


class DynamoDBError(Exception):
    """A call failed: `code` is AWS's error code (e.g. ConditionalCheckFailedException), or
    one of ours (Timeout, ConnectionError, InvalidResponse)."""

    def __init__(self, operation: str, code: str, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.operation = operation
        self.code = code
        self.message = message
        self.body = body or {}


def endpoint_for(region: str, override: str | None) -> tuple[str, str, int, bool]:
    """(host header, host, port, tls) for the region, or for an endpoint URL override."""
    if override:
        url = urlsplit(override)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"{override!r} is not an http(s) URL")
        tls = url.scheme == "https"
        port = url.port or (443 if tls else 80)
        return url.netloc, url.hostname, port, tls
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    host = f"dynamodb.{region}.{suffix}"
    return host, host, 443, True


class DynamoDBClient:
    def __init__(self, region: str, credentials: Credentials, endpoint_url: str | None = None) -> None:
        self.region = region
        self.credentials = credentials
        self.host_header, self.host, self.port, self.tls = endpoint_for(region, endpoint_url)
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self, timeout_s: float) -> http.client.HTTPConnection:
        if self._connection is None:
            cls = http.client.HTTPSConnection if self.tls else http.client.HTTPConnection
            self._connection = cls(self.host, self.port, timeout=timeout_s)
        else:
            self._connection.timeout = timeout_s
            if self._connection.sock is not None:
                self._connection.sock.settimeout(timeout_s)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def call(self, operation: str, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """One API call within `timeout_s` in all (retries included)."""
        deadline = time.monotonic() + timeout_s
        body = json.dumps(request, separators=(",", ":")).encode()
        attempt = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DynamoDBError(operation, "Timeout", f"no answer within {timeout_s:.3g} s")
            try:
                return self._send(operation, body, left)
            except DynamoDBError as exc:
                retryable = exc.code in RETRYABLE or exc.code == "ConnectionError"
                if not retryable or attempt >= len(RETRY_DELAYS_S) \
                        or time.monotonic() + RETRY_DELAYS_S[attempt] >= deadline:
                    raise
                time.sleep(RETRY_DELAYS_S[attempt])
                attempt += 1

    def _send(self, operation: str, body: bytes, timeout_s: float) -> dict[str, Any]:
        headers = sign({"content-type": "application/x-amz-json-1.0",
                        "x-amz-target": f"DynamoDB_20120810.{operation}"},
                       body, host=self.host_header, region=self.region, service="dynamodb",
                       credentials=self.credentials)
        from overall_deadline import overall_deadline

        connection = self._connect(timeout_s)
        try:
            # The timeout bounds each socket operation; this bounds the exchange (a server
            # answering a byte at a time would otherwise hold the invocation for ever).
            with overall_deadline(connection, timeout_s) as cut_off:
                connection.request("POST", "/", body=body, headers=headers)
                response = connection.getresponse()
                data = response.read(MAX_RESPONSE_BYTES + 1)
        except (TimeoutError, socket.timeout):
            self.close()
            raise DynamoDBError(operation, "Timeout", f"no answer within {timeout_s:.3g} s") from None
        except (OSError, http.client.HTTPException) as exc:
            self.close()  # a stale keep-alive connection: the retry opens a new one
            if cut_off.is_set():
                raise DynamoDBError(operation, "Timeout", f"no whole answer within {timeout_s:.3g} s") from None
            raise DynamoDBError(operation, "ConnectionError",
                                f"{self.host}:{self.port}: {type(exc).__name__}: {exc}") from None
        if len(data) > MAX_RESPONSE_BYTES:
            self.close()
            raise DynamoDBError(operation, "InvalidResponse", f"the answer is over {MAX_RESPONSE_BYTES} bytes")
        if response.will_close:
            self.close()
        try:
            document = json.loads(data) if data else {}
        except (ValueError, RecursionError):
            document = None
        if not isinstance(document, dict):
            raise DynamoDBError(operation, "InvalidResponse" if response.status < 400 else f"HTTP{response.status}",
                                f"HTTP {response.status}, not a JSON object: {data[:200]!r}")
        if response.status >= 400:
            code = str(document.get("__type", f"HTTP{response.status}")).rsplit("#", 1)[-1]
            message = str(document.get("message") or document.get("Message") or "")
            if response.status >= 500 and code.startswith("HTTP"):
                code = "ServiceUnavailable"
            raise DynamoDBError(operation, code, message, document)
        return document
