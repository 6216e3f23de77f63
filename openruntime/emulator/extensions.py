"""Lambda's Extensions API for one sandbox: external extensions, their events, their share
of each invocation's phase.

The contract (Lambda's): an extension registers with `POST /2020-01-01/extension/register`
(`Lambda-Extension-Name`, body `{"events": ["INVOKE", "SHUTDOWN"]}`) and gets its
`Lambda-Extension-Identifier`; `GET /2020-01-01/extension/event/next` blocks until its next
event: `INVOKE {deadlineMs, requestId, invokedFunctionArn, tracing}` for each invocation,
`SHUTDOWN {shutdownReason, deadlineMs}` at the end; `POST …/init/error` and `…/exit/error`
report its failures. External extensions are the executables in `/opt/extensions/`,
started before the runtime, which starts once each of them has registered; init ends
when each has also called `/next`; an invoke phase ends when the runtime and every extension registered for INVOKE
have called `/next` again (so REPORT includes their time); SHUTDOWN gives them 2 s
before SIGKILL. Served on the sandbox's Runtime API port (`AWS_LAMBDA_RUNTIME_API`),
under the sandbox's lock.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

from openruntime import errors
from openruntime.invocation import JSON
from openruntime.runtime_api.http import Request, Response
from openruntime.runtime_api.server import error_response

if TYPE_CHECKING:
    import subprocess
    import threading
    from collections.abc import Callable

PREFIX = "/2020-01-01/extension/"
EVENTS = ("INVOKE", "SHUTDOWN")
SHUTDOWN_GRACE_S = 2.0  # Lambda's, with extensions registered for SHUTDOWN


class Extension:
    """One registered extension: its events and where it is in them."""

    __slots__ = ("name", "identifier", "events", "queue", "waiting", "nexts", "given", "init_error")

    def __init__(self, name: str, events: tuple[str, ...]) -> None:
        self.name = name
        self.identifier = str(uuid.uuid4())
        self.events = events
        self.queue: deque[dict[str, Any]] = deque()
        self.waiting = False  # in /next now, with nothing to give it
        self.nexts = 0  # /next calls so far
        self.given = 0  # events handed to it
        self.init_error: str | None = None  # the type it posted to /init/error: no call succeeds after it


def parse_events(request: Request) -> tuple[str, ...] | Response:
    """The `events` of a register body; else the refusal AWS's RIE gives (403: a body it
    cannot read is `InvalidRequestFormat`, an event it does not know `Extension.InvalidEventType`),
    and 413 for a body over the server's limit (it was never read, so not taken as {})."""
    if request.oversize is not None:
        return error_response(413, errors.REQUEST_ENTITY_TOO_LARGE,
                              f"the register body ({request.oversize} bytes) is over the limit")
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        return error_response(403, "InvalidRequestFormat", "the body is not JSON")
    events = body.get("events", []) if isinstance(body, dict) else None
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        return error_response(403, "InvalidRequestFormat", "the body must be {\"events\": [names]}")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        return error_response(403, "Extension.InvalidEventType", f"{unknown[0][:100]}: ErrorInvalidEventType")
    return tuple(events)


class ExtensionsAPI:
    """The extensions of one sandbox: the HTTP routes, and what the sandbox asks of them."""

    def __init__(self, cond: threading.Condition, function: Any, log: Callable[[str], None],
                 on_next: Callable[[], None] | None = None,
                 on_register: Callable[[str, tuple[str, ...]], None] | None = None,
                 on_init_error: Callable[[str, str], None] | None = None) -> None:
        self.cond = cond
        self.on_register = on_register  # the Telemetry API's platform.extension record
        self.on_init_error = on_init_error  # the sandbox's: its init fails (lock held)
        self.init_failure: str | None = None  # why init failed: an extension posted /init/error
        self.on_next = on_next  # the sandbox's: an invoke phase may be over now (lock held)
        self.function = function  # FunctionSettings: name, version, handler for /register
        self.log = log
        self.registered: dict[str, Extension] = {}
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []  # (name, process) of the external ones
        self.errors: list[tuple[str, str]] = []  # (extension, error type) reported by them
        # Set when the runtime is ready (its first /next), as AWS's RIE turns registration
        # off then: a name it did not start is refused after that.
        self.registration_closed = False
        # The first external extension that exited when nobody asked it to, and its exit
        # status (negative: a signal): Lambda fails the environment with Extension.Crash.
        self.crash: tuple[str, int] | None = None
        self.shutting_down = False  # SHUTDOWN sent or being killed: an exit now is no crash

    # -- the sandbox's side ------------------------------------------------------------

    def found(self, folder: str | None) -> list[str]:
        """The external extensions in `folder` (Lambda's /opt/extensions), by name."""
        if not folder or not os.path.isdir(folder):
            return []
        return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                      if os.path.isfile(os.path.join(folder, name)) and os.access(os.path.join(folder, name), os.X_OK))

    def _exited_unready(self) -> str | None:
        """Why init cannot go on because an external extension exited (None: none did). Lock held."""
        crashed = self.crashed() or (self.crash[0] if self.crash is not None else None)
        if crashed is None:
            return None
        return f"extension {crashed!r} exited before it was ready (it never called /extension/event/next)"

    def crashed(self) -> str | None:
        """The name of an external extension that exited before it was ready, if any. Lock held."""
        ready = {e.name for e in self.registered.values() if e.nexts}
        for name, process in self.processes:
            if process.poll() is not None and os.path.basename(name) not in ready:
                return os.path.basename(name)
        return None

    def exited(self, process: subprocess.Popen[bytes], status: int) -> bool:
        """An external extension's process ended with `status`: True when that is a crash
        (the first, while this environment is not shutting its extensions down). Lock held."""
        name = next((os.path.basename(n) for n, p in self.processes if p is process), None)
        if name is None or self.shutting_down or self.crash is not None:
            return False
        if any(e.name == name and e.init_error is not None for e in self.registered.values()):
            return False  # it reported an init error and exits, as it should: init failed with that
        self.crash = (name, status)
        self.cond.notify_all()
        return True

    def wait_registered(self, until: float) -> str | None:
        """Init's first step (AWS RIE's AwaitExternalAgentsRegistered): every external
        extension started has registered, before the runtime starts. None when they have;
        else why not (for the caller's error). Lock held."""
        expected = {os.path.basename(name) for name, _ in self.processes}
        while True:
            if self.init_failure is not None:
                return self.init_failure
            if (exited := self._exited_unready()) is not None:
                return exited
            missing = expected - {e.name for e in self.registered.values()}
            if not missing:
                return None
            remaining = until - time.monotonic()
            if remaining <= 0:
                return f"extensions not registered in time: {', '.join(sorted(missing))}"
            self.cond.wait(min(remaining, 0.05))  # a crash wakes nobody: look again soon

    def wait_ready(self, until: float) -> str | None:
        """Init's share of the extensions: each started one registered and called /next.
        None when they are; else why not (for the caller's error). Lock held."""
        expected = {os.path.basename(name) for name, _ in self.processes}
        while True:
            ready = {e.name for e in self.registered.values() if e.nexts}
            if self.init_failure is not None:
                return self.init_failure
            if expected <= ready and self.crash is None:
                return None
            if (exited := self._exited_unready()) is not None:
                return exited
            remaining = until - time.monotonic()
            if remaining <= 0:
                return f"extensions not ready in time: {', '.join(sorted(expected - ready))}"
            self.cond.wait(min(remaining, 0.05))  # a crash wakes nobody: look again soon

    def invoke(self, request_id: str, deadline_ms: int, function_arn: str, trace_id: str) -> None:
        """The INVOKE event to each extension registered for it. Lock held."""
        event = {"eventType": "INVOKE", "deadlineMs": deadline_ms, "requestId": request_id,
                 "invokedFunctionArn": function_arn, "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id}}
        for extension in self.registered.values():
            if "INVOKE" in extension.events:
                extension.queue.append(event)
                extension.given += 1
        self.cond.notify_all()

    def idle(self) -> bool:
        """Every extension registered for INVOKE is back in /next after its last event."""
        return all(e.waiting and not e.queue for e in self.registered.values() if "INVOKE" in e.events)

    def shutdown(self, reason: str, kill: Callable[[subprocess.Popen[bytes]], None]) -> None:
        """SHUTDOWN to those registered for it, up to 2 s for them to finish (call /next
        again, or exit), then every external extension is killed."""
        with self.cond:
            self.shutting_down = True
            deadline = time.monotonic() + (SHUTDOWN_GRACE_S if any("SHUTDOWN" in e.events
                                                                   for e in self.registered.values()) else 0)
            event = {"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": int(time.time() * 1000 + 2000)}
            told = []
            for extension in self.registered.values():
                if "SHUTDOWN" in extension.events:
                    extension.queue.append(event)
                    told.append((extension, extension.nexts))
            self.cond.notify_all()
            while time.monotonic() < deadline:
                done = all(e.nexts > seen or not self._running(e.name) for e, seen in told)
                if done:
                    break
                self.cond.wait(min(deadline - time.monotonic(), 0.05))
            self.registered.clear()
        for _, process in self.processes:
            kill(process)
        with self.cond:
            self.processes.clear()
            # The next environment's extensions start afresh.
            self.crash, self.shutting_down, self.init_failure = None, False, None

    def _running(self, name: str) -> bool:
        return any(os.path.basename(n) == name and p.poll() is None for n, p in self.processes)

    # -- the extensions' side (HTTP) ---------------------------------------------------------

    def handle(self, request: Request) -> Response | None:
        """Answer a request under /2020-01-01/extension/; None for any other path."""
        if not request.path.startswith(PREFIX):
            return None
        action = request.path[len(PREFIX):]
        if action == "register" and request.method == "POST":
            return self._register(request)
        if action == "event/next" and request.method == "GET":
            return self._next(request)
        if action in ("init/error", "exit/error") and request.method == "POST":
            return self._error(request, action)
        return error_response(404, errors.NOT_FOUND, f"no route for {request.method} {request.path}")

    def _register(self, request: Request) -> Response:
        name = request.header("lambda-extension-name")
        if not name:
            return error_response(403, "Extension.InvalidExtensionName", "Lambda-Extension-Name is required")
        events = parse_events(request)
        if isinstance(events, Response):
            return events
        refused = self._refused(name, events)
        if refused is not None:
            return refused
        with self.cond:
            if any(e.name == name for e in self.registered.values()):
                return error_response(409, "Extension.AlreadyRegistered", f"extension {name!r} is registered already")
            extension = Extension(name, events)
            self.registered[extension.identifier] = extension
            self.cond.notify_all()
        if self.on_register is not None:
            self.on_register(name, events)
        fn = self.function
        answer = {"functionName": fn.name, "functionVersion": fn.version, "handler": fn.handler or ""}
        if "accountId" in (request.header("lambda-extension-accept-feature") or ""):
            from openruntime.emulator.sandbox import ACCOUNT_ID

            answer["accountId"] = ACCOUNT_ID
        return Response(200, json.dumps(answer).encode(), [("Content-Type", JSON),
                                                           ("Lambda-Extension-Identifier", extension.identifier)])

    def _refused(self, name: str, events: tuple[str, ...]) -> Response | None:
        """AWS RIE's rules for an internal extension (one this sandbox did not start): it
        cannot take SHUTDOWN, and cannot register once the runtime is ready."""
        if any(os.path.basename(path) == name for path, _ in self.processes):
            return None  # an external one
        if "SHUTDOWN" in events:
            return error_response(403, "Extension.InvalidEventType",
                                  "SHUTDOWN: ShutdownEventNotSupportedForInternalExtension")
        if self.registration_closed:
            return error_response(403, "Extension.RegistrationClosed", "Extension registration closed already")
        return None

    def name_of(self, identifier: str | None) -> str | None:
        """The name of a registered extension that may still call (not after /init/error)."""
        extension = self.registered.get(identifier or "")
        return extension.name if extension is not None and extension.init_error is None else None

    def _known(self, request: Request) -> Extension | Response:
        identifier = request.header("lambda-extension-identifier") or ""
        extension = self.registered.get(identifier)
        if extension is None:
            return error_response(403, "Extension.UnknownExtensionIdentifier",
                                  "Lambda-Extension-Identifier is missing or unknown")
        return extension

    def _next(self, request: Request) -> Response:
        with self.cond:
            extension = self._known(request)
            if isinstance(extension, Response):
                return extension
            if extension.init_error is not None:
                return _after_init_error(extension)
            extension.nexts += 1
            extension.waiting = True
            self.cond.notify_all()  # init may be waiting for this, and an invoke phase
            if self.on_next is not None and not extension.queue:
                self.on_next()
            try:
                while not extension.queue:
                    if extension.identifier not in self.registered:  # the sandbox went away
                        return error_response(500, "Extension.Reset", "the environment was reset")
                    self.cond.wait()
            finally:
                extension.waiting = False
            event = extension.queue.popleft()
        return Response(200, json.dumps(event).encode(), [("Content-Type", JSON),
                                                          ("Lambda-Extension-Event-Identifier", str(uuid.uuid4()))])

    def _error(self, request: Request, action: str) -> Response:
        """/init/error and /exit/error. The error type header is required (AWS RIE: 403
        Extension.MissingHeader). An init error fails the sandbox's init, and no later
        call of that extension succeeds (AWS's documentation)."""
        error_type = request.header("lambda-extension-function-error-type")
        with self.cond:
            extension = self._known(request)
            if isinstance(extension, Response):
                return extension
            if not error_type:
                return error_response(403, "Extension.MissingHeader", "Lambda-Extension-Function-Error-Type not found")
            if action == "init/error":
                refused = self._init_error(extension, error_type[:200])
                if refused is not None:
                    return refused
            elif extension.init_error is not None:
                return _after_init_error(extension)
            self.errors.append((extension.name, error_type[:200]))
        self.log(f"EXTENSION Name: {extension.name} {action.replace('/', ' ')}: {error_type[:200]}")
        return Response(202, b'{"status":"OK"}', [("Content-Type", JSON)])

    def _init_error(self, extension: Extension, error_type: str) -> Response | None:
        """An extension's /init/error: allowed before its first /next (and again after it,
        as AWS's RIE lets the InitError state be re-entered); the sandbox's init fails with
        the first one. Lock held."""
        if extension.init_error is None and extension.nexts:
            return error_response(403, "Extension.InvalidExtensionState",
                                  f"extension {extension.name!r} is past its init (it called /next): no init error now")
        first = extension.init_error is None
        extension.init_error = error_type
        if first and self.init_failure is None:
            self.init_failure = f"extension {extension.name!r} reported an init error: {error_type}"
            if self.on_init_error is not None:
                self.on_init_error(extension.name, error_type)
            self.cond.notify_all()
        return None


def _after_init_error(extension: Extension) -> Response:
    """What any later call of an extension that posted /init/error gets (AWS RIE's type
    for a call its state does not allow)."""
    return error_response(403, "Extension.InvalidExtensionState",
                          f"extension {extension.name!r} reported an init error: no further call succeeds")
