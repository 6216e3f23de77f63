"""Several warm sandboxes behind one Invoke API, as Lambda scales a function out.

`openruntime serve --concurrency N`: up to N execution environments, each its own
bootstrap (started on the first invocation that needs it, then reused warm), its own
Runtime API port and its own /tmp (TMPDIR). An invocation goes to an idle sandbox — the
warmest first — and waits in a queue while all N are busy: locally every caller gets an
answer, none is throttled. Log lines, START/END/REPORT included, name their sandbox.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from typing import Any

from openruntime.emulator.sandbox import Emulator, FunctionSettings, InvokeResult
from openruntime.runtime_api.http import LoopbackHTTPServer


class SandboxPool:
    """Up to `size` Emulators made by `make(number, tmpdir)`, each taking as many invocations
    at once as it has slots (1; N in Managed Instances mode). `throttle`: a caller who finds
    every slot busy gets Lambda's 429 instead of waiting."""

    def __init__(self, make: Callable[[int, str], Emulator], size: int, throttle: bool = False) -> None:
        self._make = make
        self.size = size
        self.throttle = throttle
        self._idle: list[Emulator] = []  # a free slot of a warm sandbox each, most recently used last
        self._all: list[Emulator] = []
        self._tmpdirs: list[str] = []
        self._cond = threading.Condition()
        self._invoke_server: LoopbackHTTPServer | None = None
        self.function: FunctionSettings | None = None

    def __enter__(self) -> SandboxPool:
        first = self._new()  # one sandbox from the start: its settings answer for the pool
        self.function = first.function
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def runtime_api(self) -> str:
        return ", ".join(f"sandbox {n + 1}: {e.runtime_api}" for n, e in enumerate(self._all))

    def _new(self) -> Emulator:
        tmpdir = tempfile.mkdtemp(prefix=f"openruntime-sandbox-{len(self._all) + 1}-")
        self._tmpdirs.append(tmpdir)
        emulator = self._make(len(self._all) + 1, tmpdir).start()
        self._all.append(emulator)
        self._idle.extend([emulator] * emulator.max_concurrency)  # its slots
        return emulator

    def invoke(self, payload: bytes, **kwargs: Any) -> InvokeResult:
        with self._cond:
            if not self._idle and len(self._all) < self.size:
                self._new()  # spawns lazily: its bootstrap starts on this invoke
            if not self._idle and self.throttle:
                return _throttled(kwargs.get("request_id"))
            while not self._idle:
                self._cond.wait()
            emulator = self._idle.pop()
        try:
            return emulator.invoke(payload, **kwargs)
        finally:
            with self._cond:
                self._idle.append(emulator)
                self._cond.notify()

    @property
    def max_concurrency(self) -> int:
        return self._all[0].max_concurrency if self._all else 1

    @max_concurrency.setter
    def max_concurrency(self, value: int) -> None:
        pass  # the sandboxes' own (the Invoke API reads it to take the caller's invoke id)

    def restart(self) -> None:
        """Every sandbox's next invocation starts a fresh bootstrap."""
        for emulator in self._all:
            emulator.restart()

    def reconfigure(self, env: dict[str, str], function: FunctionSettings) -> None:
        """New settings for every sandbox (each keeps its own TMPDIR); `make` is expected to
        give the sandboxes started from now on the same."""
        for emulator in self._all:
            own = {**env, "TMPDIR": emulator.env["TMPDIR"]} if emulator.env and "TMPDIR" in emulator.env else env
            emulator.reconfigure(own, function)
        self.function = function

    def serve_invoke_api(self, port: int = 8080) -> LoopbackHTTPServer:
        from openruntime.emulator.invoke_api import invoke_api_server

        self._invoke_server = invoke_api_server(self, port).start()
        return self._invoke_server

    def close(self) -> None:
        if self._invoke_server is not None:
            self._invoke_server.close()
        for emulator in self._all:
            emulator.close()
        for tmpdir in self._tmpdirs:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _throttled(request_id: str | None) -> InvokeResult:
    import json
    import uuid

    from openruntime import errors

    body = json.dumps({"Type": "User", "message": "Rate Exceeded.",
                       "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}).encode()
    return InvokeResult(429, body, {"content-type": "application/json", "x-amzn-errortype": errors.TOO_MANY_REQUESTS},
                        request_id or str(uuid.uuid4()))
