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

from openruntime.invocation import JSON
from openruntime.runtime_api.http import Request, Response
from openruntime.runtime_api.server import error_response

PATH = "/2022-07-01/telemetry"
SCHEMAS = ("2022-07-01", "2022-12-13", "2025-01-29")
TYPES = ("platform", "function", "extension")
LIMITS = {"maxItems": (1000, 10000, 10000), "maxBytes": (262144, 1048576, 262144), "timeoutMs": (25, 30000, 1000)}
BACKLOG = 1000  # records kept for a subscriber still to come


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Subscriber:
    """One subscription: its buffer and the thread that delivers it."""

    def __init__(self, name: str, types: tuple[str, ...], buffering: dict[str, int], uri: str) -> None:
        self.name, self.types, self.uri = name, types, uri
        self.max_items, self.max_bytes, self.timeout_s = (buffering["maxItems"], buffering["maxBytes"],
                                                          buffering["timeoutMs"] / 1000)
        self.buffer: list[dict[str, Any]] = []
        self.size = 0
        self.dropped = 0
        self.cond = threading.Condition()
        self.closing = False
        self.thread = threading.Thread(target=self._deliver, name=f"telemetry-{name}", daemon=True)
        self.thread.start()

    def add(self, record: dict[str, Any]) -> None:
        size = len(json.dumps(record))
        with self.cond:
            if len(self.buffer) >= self.max_items * 4:  # a destination that does not keep up: Lambda drops
                self.dropped += 1
                return
            self.buffer.append(record)
            self.size += size
            if len(self.buffer) >= self.max_items or self.size >= self.max_bytes:
                self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closing = True
            self.cond.notify_all()
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
                batch, self.buffer, self.size = self.buffer[:self.max_items], self.buffer[self.max_items:], 0
                closing = self.closing and not self.buffer
                dropped, self.dropped = self.dropped, 0
            if dropped:
                batch.append({"time": now_iso(), "type": "platform.logsDropped",
                              "record": {"reason": "the destination did not keep up", "droppedRecords": dropped,
                                         "droppedBytes": 0}})
            if batch:
                self._post(batch)
            if closing:
                return

    def _post(self, batch: list[dict[str, Any]]) -> None:
        parts = urlsplit(self.uri)
        host = "127.0.0.1" if parts.hostname in ("sandbox.localdomain", "sandbox", "localhost") else parts.hostname
        try:
            conn = http.client.HTTPConnection(host or "127.0.0.1", parts.port or 80, timeout=5)
            conn.request("POST", parts.path or "/", json.dumps(batch).encode(), {"Content-Type": JSON})
            conn.getresponse().read()
            conn.close()
        except OSError:
            pass  # as Lambda: a destination that is not there loses the batch


class TelemetryAPI:
    """The sandbox's Telemetry API: `handle` the subscriptions, `emit` what happens."""

    def __init__(self) -> None:
        self.subscribers: dict[str, Subscriber] = {}  # by extension identifier
        self.backlog: deque[tuple[str, dict[str, Any]]] = deque(maxlen=BACKLOG)  # (category, record)
        self.lock = threading.Lock()

    def emit(self, category: str, kind: str, record: Any) -> None:
        """A record of `category` (platform, function, extension); `kind` its type."""
        entry = {"time": now_iso(), "type": kind, "record": record}
        with self.lock:
            self.backlog.append((category, entry))
            subscribers = [s for s in self.subscribers.values() if category in s.types]
        for subscriber in subscribers:
            subscriber.add(entry)

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
        try:
            body = json.loads(request.body)
            schema = body["schemaVersion"]
            types = tuple(body["types"])
            destination = body["destination"]
            buffering = {key: int((body.get("buffering") or {}).get(key, default))
                         for key, (_, _, default) in LIMITS.items()}
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            return error_response(400, "InvalidRequest", f"not a subscription request ({exc!r})")
        problems = [f"schemaVersion {schema!r} is not one of {', '.join(SCHEMAS)}" for _ in [0] if schema not in SCHEMAS]
        problems += [f"type {t!r} is not one of {', '.join(TYPES)}" for t in types if t not in TYPES]
        problems += [f"buffering.{k} {v} is outside {lo}–{hi}" for k, v in buffering.items()
                     for lo, hi, _ in [LIMITS[k]] if not lo <= v <= hi]
        if not isinstance(destination, dict) or destination.get("protocol") != "HTTP" or not str(
                destination.get("URI", "")).startswith("http://"):
            problems.append("destination must be {\"protocol\": \"HTTP\", \"URI\": \"http://sandbox.localdomain:PORT/…\"}")
        if problems:
            return error_response(400, "ValidationError", "; ".join(problems))
        identifier = request.header("lambda-extension-identifier") or ""
        subscriber = Subscriber(extension_name, types, buffering, destination["URI"])
        with self.lock:
            old = self.subscribers.pop(identifier, None)
            self.subscribers[identifier] = subscriber
            earlier = [entry for category, entry in self.backlog if category in types]
        if old is not None:
            old.close()
        for entry in earlier:
            subscriber.add(entry)
        self.emit("platform", "platform.telemetrySubscription",
                  {"name": extension_name, "state": "Subscribed", "types": list(types)})
        return Response(200, b"OK", [("Content-Type", "text/plain")])

    def close(self) -> None:
        with self.lock:
            subscribers, self.subscribers = list(self.subscribers.values()), {}
        for subscriber in subscribers:
            subscriber.close()
