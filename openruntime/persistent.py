"""Persistent middlewares (protocol v2): started once, one framed exchange per hook call.

A frame is a JSON header line (with `length`) followed by that many raw payload bytes;
see docs/middleware-protocol.md. Reads and writes go through the pipes' file
descriptors with `select`, so a hook that overruns its `timeout_ms` (or a middleware that
stops reading a large payload) can always be cut off: it is then killed with its whole
process group and started again, and the invocation at hand gets a clear error.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from openruntime.config import MiddlewareConfig
from openruntime.invocation import Invocation
from openruntime.lambda_errors import error_type_of
from openruntime.middleware import (
    HookResult,
    InvocationScope,
    MiddlewareFailure,
    context_env,
    middleware_env,
)
from openruntime.processes import kill_group, spawn, stop_group

MAX_HEADER_BYTES = 64 * 1024
READY_TIMEOUT_S = float(os.environ.get("OPENRUNTIME_MIDDLEWARE_READY_S", "10"))
_ACTIONS = ("continue", "respond", "fail")


class _Broken(Exception):
    """The exchange cannot go on: (error type, message)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class PersistentMiddleware:
    def __init__(self, config: MiddlewareConfig, command: list[str], environ: Mapping[str, str]) -> None:
        self.config = config
        self.command = [*command, "--persistent"]
        self.env = middleware_env(config, environ)
        self.env["OPENRUNTIME_PROTOCOL"] = "2"
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = bytearray()
        self._ready = False
        self._hooks: frozenset[str] = frozenset(config.hooks)
        self._stderr_tail: deque[str] = deque(maxlen=20)
        self.request_id = "-"  # tags STDERR lines with the invocation they belong to

    # -- process lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self._buffer.clear()
        self._ready = False
        self._stderr_tail.clear()
        process = spawn(
            self.command, self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._process = process
        assert process.stdin is not None
        os.set_blocking(process.stdin.fileno(), False)
        threading.Thread(target=self._log_stderr, args=(process,), name=f"mw-{self.config.name}-stderr",
                         daemon=True).start()

    def await_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Read the ready frame; raises MiddlewareFailure when the middleware does not come up."""
        if self._ready:
            return
        try:
            header, _ = self._read_frame(time.monotonic() + timeout_s)
        except _Broken as broken:
            self._kill()
            raise self._failure(broken.error_type, f"did not start: {broken}", "init") from None
        if header.get("ready") is not True:
            self._kill()
            raise self._failure("Middleware.InvalidFrame", f"first frame is not a ready frame: {header}", "init")
        hooks = header.get("hooks")
        if isinstance(hooks, list):
            self._hooks = frozenset(h for h in hooks if h in self.config.hooks)
        self._ready = True

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin,):
            try:
                if stream:
                    stream.close()  # EOF on STDIN: the polite way to say goodbye
            except OSError:
                pass
        stop_group(process, grace_s=0.2)

    def _kill(self) -> None:
        process, self._process = self._process, None
        self._ready = False
        if process is not None:
            kill_group(process)
            process.wait()

    def _log_stderr(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._stderr_tail.append(line)
            os.write(2, f"[{self.config.name}] {self.request_id} {line}\n".encode())

    def stderr_tail(self) -> str:
        time.sleep(0.02)  # let the STDERR reader catch the last lines of a dying process
        return "\n".join(self._stderr_tail)[-2048:]

    # -- one hook call ---------------------------------------------------------------------

    def handles(self, hook: str) -> bool:
        return hook in self.config.hooks

    def call(
        self, hook: str, payload: bytes, content_type: str, invocation: Invocation,
        scope: InvocationScope, timeout_s: float,
    ) -> HookResult:
        self.request_id = invocation.request_id
        deadline = time.monotonic() + timeout_s
        if self._process is None:
            self.start()
        if not self._ready:
            self.await_ready(max(deadline - time.monotonic(), 0.001))
        if hook not in self._hooks:  # the middleware said it does not implement this hook
            return HookResult(payload, content_type)
        name = self.config.name
        context = context_env(hook, invocation, content_type)
        header: dict[str, Any] = {
            "hook": hook,
            "request_id": invocation.request_id,
            "deadline_ms": invocation.deadline_ms,
            "function_arn": invocation.function_arn,
            "trace_id": invocation.trace_id,
            "content_type": context["OPENRUNTIME_CONTENT_TYPE"],
            "middleware": name,
            "state": scope.values.get(name),
            "length": len(payload),
        }
        try:
            self._write(json.dumps(header, separators=(",", ":")).encode() + b"\n", payload, deadline)
            answer, body = self._read_frame(deadline)
        except _Broken as broken:
            status = self._process.poll() if self._process else None
            tail = self.stderr_tail()
            self._kill()
            self.start()  # ready for the next invocation; this one fails
            message = f"{broken}" + (f" (exit status {status})" if status is not None else "")
            raise self._failure(broken.error_type, message, hook, stderrTail=tail, exitStatus=status) from None
        action = answer.get("action", "continue")
        if action not in _ACTIONS:
            raise self._failure("Middleware.InvalidFrame", f"unknown action {action!r}", hook)
        if "state" in answer:
            scope.values[name] = answer["state"]
        if action == "fail":
            error_type = error_type_of(body, "Middleware.Failed")
            try:
                message = json.loads(body).get("errorMessage", "") if body else ""
            except (ValueError, AttributeError):
                message = body[:500].decode("utf-8", "replace")
            raise MiddlewareFailure(
                error_type, f"middleware '{name}' hook '{hook}' failed: {message}", name, hook
            )
        new_type = answer.get("content_type") or content_type
        return HookResult(body, str(new_type), respond=action == "respond" and hook != "after")

    def _failure(self, error_type: str, message: str, hook: str, **details: Any) -> MiddlewareFailure:
        name = self.config.name
        return MiddlewareFailure(error_type, f"middleware '{name}' hook '{hook}' {message}", name, hook, **details)

    # -- framing over the pipes -------------------------------------------------------------

    def _write(self, header: bytes, payload: bytes, deadline: float) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        fd = process.stdin.fileno()
        for data in (header, payload):
            view = memoryview(data)
            while view:
                try:
                    written = os.write(fd, view)
                except BlockingIOError:
                    written = 0
                except (BrokenPipeError, OSError):
                    raise _Broken("Middleware.Crashed", "exited (its STDIN is closed)") from None
                view = view[written:]
                if view:
                    self._wait(fd, deadline, for_write=True)

    def _wait(self, fd: int, deadline: float, for_write: bool) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Broken("Middleware.Timeout", f"did not answer within {self.config.timeout_ms} ms")
        if for_write:
            _, ready, _ = select.select([], [fd], [], remaining)
        else:
            ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            raise _Broken("Middleware.Timeout", f"did not answer within {self.config.timeout_ms} ms")

    def _fill(self, fd: int, deadline: float) -> None:
        self._wait(fd, deadline, for_write=False)
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise _Broken("Middleware.Crashed", "exited (end of its STDOUT)")
        self._buffer += chunk

    def _read_frame(self, deadline: float) -> tuple[dict[str, Any], bytes]:
        process = self._process
        assert process is not None and process.stdout is not None
        fd = process.stdout.fileno()
        while (newline := self._buffer.find(b"\n")) < 0:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise _Broken("Middleware.InvalidFrame", "wrote a header line over 64 KB")
            self._fill(fd, deadline)
        line = bytes(self._buffer[:newline])
        try:
            header = json.loads(line)
            length = int(header.get("length", 0))
            if length < 0:
                raise ValueError("negative length")
        except (ValueError, TypeError, AttributeError) as exc:
            raise _Broken("Middleware.InvalidFrame", f"wrote a malformed frame header {line[:200]!r}: {exc}") from None
        end = newline + 1 + length
        while len(self._buffer) < end:
            self._fill(fd, deadline)
        body = bytes(self._buffer[newline + 1 : end])
        del self._buffer[:end]
        return header, body
