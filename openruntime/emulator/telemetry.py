"""Lambda's Telemetry API for one sandbox: subscriptions, buffering, delivery.

An extension subscribes with `PUT /2022-07-01/telemetry` (its `Lambda-Extension-Identifier`;
body `{schemaVersion, types, buffering, destination}`): `types` among platform, function
and extension; `buffering` {maxItems 1000–10000, maxBytes 262144–1048576, timeoutMs
25–30000}; `destination` {protocol: HTTP, URI: http://sandbox.localdomain:PORT/PATH}
(`sandbox.localdomain` is loopback here). Its records — `{time, type, record}` — are POSTed
to that URI as a JSON array whenever a batch is full or `timeoutMs` has passed, from a
thread of its own; what happened before it subscribed (the init's platform records and
log lines) is delivered first, as Lambda keeps it for subscribers of the init phase.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from openruntime import errors
from openruntime.invocation import JSON
from openruntime.runtime_api.http import Request, Response
from openruntime.runtime_api.server import error_response

PATH = "/2022-07-01/telemetry"
SCHEMAS = ("2022-07-01", "2022-12-13", "2025-01-29")
TYPES = ("platform", "function", "extension")
LIMITS = {"maxItems": (1000, 10000, 10000), "maxBytes": (262144, 1048576, 262144), "timeoutMs": (25, 30000, 1000)}
BACKLOG = 1000  # records kept for a subscriber still to come, and at most these bytes of them:
BACKLOG_BYTES = 4 * 1024 * 1024
BUFFERED_BATCHES = 4  # a subscriber's buffer holds at most this many full batches (ours)
# Destination hosts understood, and where they are: `sandbox.localdomain` is Lambda's name
# for the sandbox; it resolves nowhere on this machine, so it is read here, never looked up.
LOOPBACK_NAMES = {"sandbox.localdomain": "127.0.0.1", "sandbox": "127.0.0.1", "localhost": "127.0.0.1",
                  "127.0.0.1": "127.0.0.1", "::1": "::1"}
ANSWER_LIMIT = 64 * 1024  # what is read of a destination's answer


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_subscription(raw: bytes) -> tuple[tuple[str, ...], dict[str, int], tuple[str, int, str]] | str:
    """(types, buffering, (host, port, path)) of a subscription body, or every problem with it
    (each field named), so that nothing malformed reaches a delivery thread."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return "the body is not JSON"
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    problems: list[str] = []
    schema = body.get("schemaVersion")
    if schema not in SCHEMAS:
        problems.append(f"schemaVersion {str(schema)[:40]!r} is not one of {', '.join(SCHEMAS)}")
    types = body.get("types")
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        problems.append(f"types must be a list of {', '.join(TYPES)}")
        types = []
    problems += [f"type {t[:40]!r} is not one of {', '.join(TYPES)}" for t in types if t not in TYPES]
    buffering = _buffering(body.get("buffering"), problems)
    destination = _destination(body.get("destination"), problems)
    if problems or destination is None:
        return "; ".join(problems)
    return tuple(types), buffering, destination


def _buffering(given: Any, problems: list[str]) -> dict[str, int]:
    """`buffering` with Lambda's defaults; a value that is not a whole number in range is a
    problem (a float such as 1e400 or NaN included, not an exception)."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        problems.append("buffering must be an object")
        given = {}
    values: dict[str, int] = {}
    for key, (lo, hi, default) in LIMITS.items():
        value = given.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"buffering.{key} {str(value)[:40]} is not a whole number")
        elif not lo <= value <= hi:
            problems.append(f"buffering.{key} {value} is outside {lo}–{hi}")
        else:
            values[key] = value
            continue
        values[key] = default
    return values


def _destination(given: Any, problems: list[str]) -> tuple[str, int, str] | None:
    """(host, port, path) to POST to: HTTP, a valid port, and a loopback host (the emulator
    sends nothing off this machine; `sandbox.localdomain` is read as 127.0.0.1)."""
    usage = 'destination must be {"protocol": "HTTP", "URI": "http://sandbox.localdomain:PORT/PATH"}'
    uri = given.get("URI") if isinstance(given, dict) else None
    if not isinstance(given, dict) or given.get("protocol") != "HTTP" or not isinstance(uri, str) \
            or not uri.startswith("http://"):
        problems.append(usage)
        return None
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        problems.append(f"destination.URI {uri[:100]!r}: the port is not a number in 1–65535")
        return None
    if port is None or not 0 < port < 65536:
        problems.append(f"destination.URI {uri[:100]!r}: give a port in 1–65535")
        return None
    host = LOOPBACK_NAMES.get(parts.hostname or "")
    if host is None:
        problems.append(f"destination.URI {uri[:100]!r}: the host must be sandbox.localdomain (or loopback)")
        return None
    return host, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class Subscriber:
    """One subscription: its buffer (bounded in items and in bytes) and the thread that
    delivers it, in batches of at most maxItems records and maxBytes bytes."""

    def __init__(self, name: str, types: tuple[str, ...], buffering: dict[str, int],
                 destination: tuple[str, int, str]) -> None:
        self.name, self.types, self.destination = name, types, destination
        self.max_items, self.max_bytes, self.timeout_s = (buffering["maxItems"], buffering["maxBytes"],
                                                          buffering["timeoutMs"] / 1000)
        self.buffer: deque[str] = deque()  # each record as the JSON that will be sent
        self.size = 0  # bytes in `buffer`
        self.dropped = self.dropped_bytes = 0  # since the last platform.logsDropped
        self.cond = threading.Condition()
        self.closing = False
        self.thread = threading.Thread(target=self._deliver, name=f"telemetry-{name}", daemon=True)
        self.thread.start()

    def add(self, record: dict[str, Any]) -> None:
        encoded = json.dumps(record, separators=(",", ":"))  # ASCII: its length is its size in bytes
        size = len(encoded)
        with self.cond:
            # A destination that does not keep up (or a record no batch could hold): Lambda
            # drops, and says so with platform.logsDropped. The bound (4 batches) is ours.
            if (size + 2 > self.max_bytes or len(self.buffer) >= self.max_items * BUFFERED_BATCHES
                    or self.size + size > self.max_bytes * BUFFERED_BATCHES):
                self.dropped += 1
                self.dropped_bytes += size
                return
            self.buffer.append(encoded)
            self.size += size
            if len(self.buffer) >= self.max_items or self.size >= self.max_bytes:
                self.cond.notify_all()

    def close(self, flush: bool = True) -> None:
        """Stop delivering: the buffer is sent first (`flush`) or dropped (an environment
        that is reset: its records are not the next one's)."""
        with self.cond:
            self.closing = True
            if not flush:
                self.buffer.clear()
                self.size = self.dropped = self.dropped_bytes = 0
            self.cond.notify_all()
        if flush:
            self.thread.join(5)

    def _deliver(self) -> None:
        while True:
            with self.cond:
                deadline = time.monotonic() + self.timeout_s
                while not self.closing and len(self.buffer) < self.max_items and self.size < self.max_bytes:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self.cond.wait(left)
                batch = self._take()
                closing = self.closing and not self.buffer
            if batch:
                self._post("[" + ",".join(batch) + "]")
            if closing:
                return

    def _take(self) -> list[str]:
        """The next batch: a platform.logsDropped record first when records were dropped,
        then buffered records while the batch stays within maxItems and maxBytes (the JSON
        array's brackets and commas counted). Lock held."""
        batch: list[str] = []
        used = 2  # "[" and "]"
        if self.dropped:
            notice = json.dumps({"time": now_iso(), "type": "platform.logsDropped", "record": {
                "reason": "the destination did not keep up, or a record was over maxBytes",
                "droppedRecords": self.dropped, "droppedBytes": self.dropped_bytes}}, separators=(",", ":"))
            batch.append(notice)
            used += len(notice)
            self.dropped = self.dropped_bytes = 0
        while self.buffer and len(batch) < self.max_items:
            size = len(self.buffer[0])
            if used + size + (1 if batch else 0) > self.max_bytes:
                break
            batch.append(self.buffer.popleft())
            used += size + (1 if len(batch) > 1 else 0)
            self.size -= size
        return batch

    def _post(self, body: str) -> None:
        host, port, path = self.destination
        try:
            conn = http.client.HTTPConnection(host, port, timeout=5)
            try:
                conn.request("POST", path, body.encode(), {"Content-Type": JSON})
                conn.getresponse().read(ANSWER_LIMIT)
            finally:
                conn.close()
        except (OSError, http.client.HTTPException, ValueError):
            pass  # as Lambda: a destination that is not there (or answers nonsense) loses the batch


class TelemetryAPI:
    """The sandbox's Telemetry API: `handle` the subscriptions, `emit` what happens."""

    def __init__(self) -> None:
        self.subscribers: dict[str, Subscriber] = {}  # by extension identifier
        self.backlog: deque[tuple[str, dict[str, Any], int]] = deque()  # (category, record, its size)
        self.backlog_bytes = 0
        self.epoch = 0  # the execution environment's number: a reset starts the next
        self.lock = threading.Lock()

    def emit(self, category: str, kind: str, record: Any, epoch: int | None = None) -> None:
        """A record of `category` (platform, function, extension); `kind` its type. `epoch`:
        the environment it comes from, when it may come late (a killed process's last
        output): dropped if that environment is gone."""
        entry = {"time": now_iso(), "type": kind, "record": record}
        with self.lock:
            if epoch is not None and epoch != self.epoch:
                return
            self._keep(category, entry)
            subscribers = [s for s in self.subscribers.values() if category in s.types]
        for subscriber in subscribers:
            subscriber.add(entry)

    def _keep(self, category: str, entry: dict[str, Any]) -> None:
        """Into the backlog for subscribers still to come, the oldest out past BACKLOG records
        or BACKLOG_BYTES. Lock held."""
        size = len(entry["record"]) if isinstance(entry["record"], str) else 256  # a log line, or a small record
        self.backlog.append((category, entry, size))
        self.backlog_bytes += size
        while len(self.backlog) > BACKLOG or self.backlog_bytes > BACKLOG_BYTES:
            self.backlog_bytes -= self.backlog.popleft()[2]

    def handle(self, request: Request, extension_name: str | None) -> Response | None:
        """`PUT /2022-07-01/telemetry` from the extension named `extension_name` (None: an
        unknown identifier); None for any other path."""
        if request.path != PATH:
            return None
        if request.method != "PUT":
            return error_response(405, "MethodNotAllowed", f"{request.method} {PATH}: use PUT")
        if extension_name is None:
            return error_response(403, "Telemetry.UnknownExtensionIdentifier",
                                  "Lambda-Extension-Identifier is missing or unknown: register first")
        if request.oversize is not None:
            return error_response(413, errors.REQUEST_ENTITY_TOO_LARGE,
                                  f"the subscription body ({request.oversize} bytes) is over the limit")
        parsed = parse_subscription(request.body)
        if isinstance(parsed, str):
            return error_response(400, "ValidationError", parsed)
        types, buffering, uri = parsed
        identifier = request.header("lambda-extension-identifier") or ""
        subscriber = Subscriber(extension_name, types, buffering, uri)
        with self.lock:
            old = self.subscribers.pop(identifier, None)
            self.subscribers[identifier] = subscriber
            earlier = [entry for category, entry, _ in self.backlog if category in types]
        if old is not None:
            old.close()
        for entry in earlier:
            subscriber.add(entry)
        self.emit("platform", "platform.telemetrySubscription",
                  {"name": extension_name, "state": "Subscribed", "types": list(types)})
        return Response(200, b"OK", [("Content-Type", "text/plain")])

    def reset(self) -> None:
        """A new execution environment (after a timeout or a crash, as Lambda resets one):
        the old one's subscriptions, their buffers and its records are gone, so the new
        extension instances get the new environment's records only, once."""
        with self.lock:
            subscribers, self.subscribers = list(self.subscribers.values()), {}
            self.backlog.clear()
            self.backlog_bytes = 0
            self.epoch += 1
        for subscriber in subscribers:
            subscriber.close(flush=False)

    def close(self) -> None:
        with self.lock:
            subscribers, self.subscribers = list(self.subscribers.values()), {}
        for subscriber in subscribers:
            subscriber.close()
