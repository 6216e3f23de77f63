"""Persistent middlewares (protocol v2): started once, one framed exchange per hook call.

A frame is a JSON header line (with `length`) followed by that many raw payload bytes;
see docs/middleware-protocol.md. Reads and writes go through the pipes' file
descriptors with `poll`, so a hook that overruns its `timeout_ms` (or a middleware that
stops reading a large payload) can always be cut off: it is then killed with its whole
process group and started again, and the invocation at hand gets a clear error.

The hop is on every invocation's hot path (budget: p50 under 0.3 ms), hence: the request
header is formatted directly instead of through `json.dumps`, header and payload go out
in one `writev`, and the process waits in `poll` only before a read (an answer is never
there yet) or when the pipe to the middleware is full.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import threading
import time
from collections.abc import Mapping
from json.encoder import encode_basestring_ascii as _json_str  # C: escapes controls and non-ASCII
from typing import Any

from openruntime import errors
from openruntime.config import MiddlewareConfig
from openruntime.errors import BrokenMiddleware, MiddlewareFailure
from openruntime.function_log import log
from openruntime.invocation import Invocation
from openruntime.middleware.protocol import HookResult, InvocationScope, MAX_OUTPUT_BYTES, middleware_env
from openruntime.middleware.stderr_lines import StderrLines, log_answer_lines
from openruntime.processes import kill_group, spawn, stop_group

MAX_HEADER_BYTES = 64 * 1024  # a frame header line, newline included, either way
# The request header carries the state back, with the context: a state up to half the
# header limit keeps what the orchestrator writes within the limit too.
MAX_STATE_BYTES = 32 * 1024
READY_TIMEOUT_S = float(os.environ.get("OPENRUNTIME_MIDDLEWARE_READY_S", "10"))
PROTOCOL = 2
_ACTIONS = frozenset(("continue", "respond", "fail"))
_READ_CHUNK = 64 * 1024  # a pipe's capacity: a bigger buffer would only cost an allocation
_EXIT_WAIT_S = 0.5  # how long a middleware that closed its pipes gets to report its exit status
_POLL_IN = select.POLLIN | select.POLLPRI
_dump_state = json.JSONEncoder(separators=(",", ":")).encode  # ASCII only: no raw newline possible


class _Child:
    """One running middleware process: its pipes, pollers, read buffer and STDERR tail."""

    def __init__(self, process: subprocess.Popen[bytes], name: str) -> None:
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        self.process = process
        self.stdin_fd = process.stdin.fileno()
        self.stdout_fd = process.stdout.fileno()
        os.set_blocking(self.stdin_fd, False)  # a full pipe must never block past the deadline
        self.poll_in = select.poll()
        self.poll_in.register(self.stdout_fd, _POLL_IN)
        self.poll_out = select.poll()
        self.poll_out.register(self.stdin_fd, select.POLLOUT)
        # Between two calls: output nobody asked for, or the process's exit, in one poll(2)
        # (its pidfd is readable once it exited; without pidfds, Popen.poll() does that part).
        self.poll_idle = select.poll()
        self.poll_idle.register(self.stdout_fd, _POLL_IN)
        self.pidfd = -1
        try:
            self.pidfd = os.pidfd_open(process.pid)
            self.poll_idle.register(self.pidfd, select.POLLIN)
        except (AttributeError, OSError):
            pass
        self.buffer = bytearray()
        self.stderr = StderrLines(name)
        self.stderr_reader: threading.Thread | None = None


class PersistentMiddleware:
    """A persistent-mode middleware (protocol v2): one process for many calls, framed
    requests and answers over its STDIN/STDOUT; replaced when it breaks."""

    def __init__(self, config: MiddlewareConfig, command: list[str], environ: Mapping[str, str]) -> None:
        self.config = config
        self.command = [*command, "--persistent"]
        self.env = middleware_env(config, environ)
        self.env["OPENRUNTIME_PROTOCOL"] = str(PROTOCOL)
        self._child: _Child | None = None
        self._turn = threading.Lock()  # one call at a time per process
        self._start_error: OSError | None = None
        # Set by `stop`: nothing starts a process after it (a call under way on another
        # poller thread, ending in `_replace`, or a lazy start at its next call).
        self._stopped = False
        self._ready = False
        self._hooks: frozenset[str] = frozenset(config.hooks)
        self._name_json = _json_str(config.name)
        self.starts = 0  # processes started so far (tests and benchmarks look at it)
        self._timeout_ms = READY_TIMEOUT_S * 1000  # of the exchange under way, for its error message
        self.request_id = "-"  # tags STDERR lines with the invocation they belong to

    # -- process lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Spawn the process. Never raises: a spawn failure is reported by `await_ready`
        (at init, the orchestrator turns it into an init error instead of dying)."""
        self._ready = False
        self._start_error = None
        if self._stopped:
            self._start_error = OSError("the orchestrator is shutting down")
            return
        try:
            # die_with_parent: EOF on STDIN tells a middleware the orchestrator is gone only
            # when it reads; one busy (or badly written) must not outlive a killed bootstrap.
            process = spawn(
                self.command, self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                die_with_parent=True,
            )
        except OSError as exc:  # ENOENT, EACCES, ENOEXEC (no shebang), …
            self._start_error = exc
            return
        child = _Child(process, self.config.name)
        child.stderr_reader = threading.Thread(
            target=self._log_stderr, args=(child,), name=f"mw-{self.config.name}-stderr", daemon=True
        )
        child.stderr_reader.start()
        self._child = child
        self.starts += 1

    def await_ready(self, timeout_s: float = READY_TIMEOUT_S, hook: str = "init") -> None:
        """Read the ready frame; raises MiddlewareFailure when the middleware does not come up."""
        if self._ready:
            return
        self._timeout_ms = timeout_s * 1000
        if self._child is None:
            if self._start_error is None:
                self.start()
            if self._child is None:
                error, self._start_error = self._start_error, None  # the next call tries again
                raise self._failure(errors.MIDDLEWARE_NOT_FOUND, f"could not be started: {error}", hook)
        child = self._child
        try:
            header, _ = self._read_frame(child, time.monotonic() + timeout_s)
            if header.get("ready") is not True:
                raise BrokenMiddleware(errors.MIDDLEWARE_INVALID_FRAME, f"wrote {_preview(header)} instead of a ready frame")
            protocol = header.get("protocol", PROTOCOL)
            if protocol != PROTOCOL:
                raise BrokenMiddleware(errors.MIDDLEWARE_INVALID_FRAME, f"speaks protocol {protocol!r}, not {PROTOCOL}")
        except BrokenMiddleware as broken:
            raise self._replace(child, broken, hook, "did not start: ", restart=False) from None
        hooks = header.get("hooks")
        if isinstance(hooks, list):
            # It may implement fewer hooks than the pipeline asks for, never more.
            self._hooks = frozenset(h for h in hooks if h in self.config.hooks)
        else:
            self._hooks = frozenset(self.config.hooks)
        self._ready = True

    def stop(self) -> None:
        self._stopped = True
        child, self._child = self._child, None
        self._ready = False
        if child is None:
            return
        try:
            if child.process.stdin is not None:
                child.process.stdin.close()  # EOF on STDIN: the polite way to say goodbye
        except OSError:
            pass
        stop_group(child.process, grace_s=0.2)
        _close_pipes(child.process)
        _close_pidfd(child)

    def _log_stderr(self, child: _Child) -> None:
        """Its STDERR, as it comes, into the log: bounded lines, a budget per invocation."""
        stream = child.process.stderr
        assert stream is not None
        lines = child.stderr
        try:
            fd = stream.fileno()
            while chunk := os.read(fd, _READ_CHUNK):
                if lines.request_id != self.request_id:
                    lines.start_invocation(self.request_id)
                lines.feed(chunk)
        except (OSError, ValueError):
            pass  # the pipe went away with the process
        finally:
            lines.finish()
            stream.close()

    def _replace(
        self, child: _Child, broken: BrokenMiddleware, hook: str, prefix: str = "", restart: bool = True
    ) -> MiddlewareFailure:
        """Kill the broken process (whole group), start a new one, describe what happened."""
        process = child.process
        status: int | None = process.poll()
        if status is None and broken.error_type == errors.MIDDLEWARE_CRASHED:
            try:  # it closed its pipes: it is exiting; its status says why
                status = process.wait(_EXIT_WAIT_S)
            except subprocess.TimeoutExpired:
                pass
        kill_group(process)
        process.wait()
        if child.stderr_reader is not None:
            child.stderr_reader.join(0.5)  # the last lines of a dying process belong in the error
        _close_pipes(process)
        _close_pidfd(child)
        stderr_tail = child.stderr.tail()
        if self._child is child:
            self._child = None
            self._ready = False
        if restart:
            self.start()  # it boots while this invocation's error goes out
        message = f"{prefix}{broken}"
        details: dict[str, Any] = {"stderrTail": stderr_tail}
        if status is not None:
            message += f" (killed by signal {-status})" if status < 0 else f" (exit status {status})"
            details["exitStatus"] = status
        last_line = stderr_tail.rsplit("\n", 1)[-1]
        if last_line and broken.error_type == errors.MIDDLEWARE_CRASHED:
            message += f": {last_line}"
        return self._failure(broken.error_type, message, hook, **details)

    @staticmethod
    def _idle_trouble(child: _Child) -> tuple[str, str] | None:
        """Why the process between two calls cannot take the next one (error type, what)."""
        if not child.buffer and not child.poll_idle.poll(0) and (child.pidfd >= 0 or child.process.poll() is None):
            return None  # the usual case: one poll(2) with no wait
        if child.process.poll() is not None:
            return errors.MIDDLEWARE_CRASHED, "exited between invocations"
        if not child.buffer and not child.poll_in.poll(0):
            return None
        stray = bytes(child.buffer) or os.read(child.stdout_fd, 200)
        if not stray:
            return errors.MIDDLEWARE_CRASHED, "closed its STDOUT between invocations"
        # An extra frame or stray output: left there, it would be read as the next answer.
        return errors.MIDDLEWARE_INVALID_FRAME, f"wrote to its STDOUT outside a call ({stray[:80]!r})"

    def _restart_idle(self, child: _Child, error_type: str, what: str) -> None:
        """Nothing is in flight, so nothing fails: start it again before the next call."""
        failure = self._replace(child, BrokenMiddleware(error_type, what), "-")
        log(f"{failure.message}; restarted", "WARN")

    def stderr_tail(self) -> str:
        child = self._child
        return child.stderr.tail() if child else ""

    # -- one hook call ---------------------------------------------------------------------

    def handles(self, hook: str) -> bool:
        # Narrowed by the ready frame's `hooks`: a hook it does not implement costs no round trip.
        return hook in self._hooks

    def call(
        self, hook: str, payload: bytes, content_type: str, invocation: Invocation,
        scope: InvocationScope, timeout_s: float,
    ) -> HookResult:
        """One hook call. Calls from concurrent invocations (Managed Instances mode) take
        turns: one process answers one frame at a time (protocol v2 has no request ids in
        its frames yet); the wait counts against the call's timeout."""
        started = time.monotonic()
        if not self._turn.acquire(timeout=max(timeout_s, 0.001)):
            raise self._failure(errors.MIDDLEWARE_TIMEOUT, f"did not get its turn within {timeout_s * 1000:.0f} ms "
                                "(busy with other invocations)", hook)
        try:
            return self._call(hook, payload, content_type, invocation, scope,
                              max(timeout_s - (time.monotonic() - started), 0.001))
        finally:
            self._turn.release()

    def _call(
        self, hook: str, payload: bytes, content_type: str, invocation: Invocation,
        scope: InvocationScope, timeout_s: float,
    ) -> HookResult:
        self.request_id = invocation.request_id
        self._timeout_ms = timeout_s * 1000
        deadline = time.monotonic() + timeout_s
        if self._ready and self._child is not None:
            trouble = self._idle_trouble(self._child)
            if trouble is not None:
                self._restart_idle(self._child, *trouble)
        if not self._ready:
            self.await_ready(max(deadline - time.monotonic(), 0.001), hook)
        if hook not in self._hooks:  # the middleware said it does not implement this hook
            return HookResult(payload, content_type)
        child = self._child
        assert child is not None
        name = self.config.name
        state = scope.values.get(name)
        trace_id = invocation.trace_id
        header = (
            f'{{"hook":"{hook}","request_id":{_json_str(invocation.request_id)},'
            f'"deadline_ms":{int(invocation.answer_by_ms)},"function_arn":{_json_str(invocation.function_arn)},'
            f'"trace_id":{"null" if trace_id is None else _json_str(trace_id)},'
            f'"tenant_id":{"null" if invocation.tenant_id is None else _json_str(invocation.tenant_id)},'
            f'"content_type":{_json_str(content_type)},"middleware":{self._name_json},'
            f'"state":{"null" if state is None else _dump_state(state)},"stages":{scope.stages_json()},'
            f'"event_bytes":{len(invocation.body)},{"" if scope.outcome is None else _outcome_key(scope.outcome)}'
            f'"length":{len(payload)}}}\n'
        ).encode()
        try:
            self._write(child, header, payload, deadline)
            answer, body = self._read_frame(child, deadline)
            action = answer.get("action", "continue")
            if not isinstance(action, str) or action not in _ACTIONS:
                raise BrokenMiddleware(errors.MIDDLEWARE_INVALID_FRAME, f"answered with unknown action {action!r}")
            new_type = answer.get("content_type") or content_type
            if not isinstance(new_type, str):
                raise BrokenMiddleware(errors.MIDDLEWARE_INVALID_FRAME, f"answered with content_type {new_type!r}")
            if "log" in answer:
                log_answer_lines(name, invocation.request_id, answer["log"])
        except BrokenMiddleware as broken:
            raise self._replace(child, broken, hook) from None
        if child.stderr.dropped:  # a flood during this call: say so now, not at its next write
            child.stderr.report_dropped()
        if "state" in answer:
            state = answer["state"]
            if state is not None and len(size := _dump_state(state)) > MAX_STATE_BYTES:
                raise self._failure(
                    errors.MIDDLEWARE_INVALID_FRAME,
                    f"answered with a state of {len(size)} bytes as compact JSON, over the protocol's "
                    f"{MAX_STATE_BYTES // 1024} KiB: keep large data in the payload",
                    hook,
                )
            scope.values[name] = state
        if action == "fail":
            raise MiddlewareFailure.from_error_object(body, name, hook)
        return HookResult(body, new_type, respond=action == "respond" and hook != "after")

    def _failure(self, error_type: str, message: str, hook: str, **details: Any) -> MiddlewareFailure:
        name = self.config.name
        return MiddlewareFailure(error_type, f"middleware '{name}' hook '{hook}' {message}", name, hook, **details)

    # -- framing over the pipes -------------------------------------------------------------

    def _write(self, child: _Child, header: bytes, payload: bytes, deadline: float) -> None:
        """Header and payload in one system call (one wake-up of the middleware), unless the pipe fills."""
        parts = [memoryview(header), memoryview(payload)] if payload else [memoryview(header)]
        while True:
            try:
                written = os.writev(child.stdin_fd, parts)
            except BlockingIOError:
                written = 0
            except OSError:  # EPIPE: nobody reads its STDIN any more
                raise BrokenMiddleware(errors.MIDDLEWARE_CRASHED, "exited (its STDIN is closed)") from None
            while parts and written >= len(parts[0]):
                written -= len(parts[0])
                parts.pop(0)
            if not parts:
                return
            parts[0] = parts[0][written:]
            self._wait(child.poll_out, deadline)

    def _wait(self, poller: select.poll, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(remaining * 1000):
            raise BrokenMiddleware(errors.MIDDLEWARE_TIMEOUT, f"did not answer within {self._timeout_ms:.0f} ms")

    def _fill(self, child: _Child, deadline: float) -> None:
        self._wait(child.poll_in, deadline)
        chunk = os.read(child.stdout_fd, _READ_CHUNK)
        if not chunk:
            raise BrokenMiddleware(errors.MIDDLEWARE_CRASHED, "exited (end of its STDOUT)")
        child.buffer += chunk

    def _read_frame(self, child: _Child, deadline: float) -> tuple[dict[str, Any], bytes]:
        buffer = child.buffer
        while (newline := buffer.find(b"\n", 0, MAX_HEADER_BYTES)) < 0:
            if len(buffer) >= MAX_HEADER_BYTES:
                raise BrokenMiddleware(
                    errors.MIDDLEWARE_INVALID_FRAME,
                    f"wrote a header line over {MAX_HEADER_BYTES // 1024} KiB (the protocol's limit, newline included)",
                )
            self._fill(child, deadline)
        line = bytes(buffer[:newline])
        try:
            header = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise BrokenMiddleware(errors.MIDDLEWARE_INVALID_FRAME, f"wrote a malformed frame header {line[:200]!r}: {exc}") from None
        length = header.get("length", 0) if isinstance(header, dict) else None
        if type(length) is not int or length < 0:
            raise BrokenMiddleware(errors.MIDDLEWARE_INVALID_FRAME, f"wrote a frame header without a valid length: {line[:200]!r}")
        if length > MAX_OUTPUT_BYTES:  # refused before a byte of it is read (or allocated)
            raise BrokenMiddleware(errors.MIDDLEWARE_OUTPUT_TOO_LARGE, f"announced a {length}-byte payload: over {MAX_OUTPUT_BYTES} "
                          "bytes, Lambda's payload limit")
        start = newline + 1
        end = start + length
        if len(buffer) >= end:  # the usual small frame: all of it came with the header
            body = bytes(buffer[start:end])
            del buffer[:end]
            return header, body
        # A large payload: read the rest straight into place, never past this frame.
        body_buffer = bytearray(length)
        have = len(buffer) - start
        body_buffer[:have] = buffer[start:]
        buffer.clear()
        view = memoryview(body_buffer)
        while have < length:
            self._wait(child.poll_in, deadline)
            count = os.readv(child.stdout_fd, [view[have:]])
            if not count:
                raise BrokenMiddleware(errors.MIDDLEWARE_CRASHED, f"exited (end of its STDOUT after {have} of {length} bytes)")
            have += count
        view.release()
        return header, bytes(body_buffer)


def _outcome_key(outcome: str) -> str:
    return f'"outcome":"{outcome}",'  # "response", "error" or "stream": no escaping needed


def _preview(header: object) -> str:
    return json.dumps(header)[:200]


def _close_pidfd(child: _Child) -> None:
    if child.pidfd >= 0:
        os.close(child.pidfd)
        child.pidfd = -1


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for stream in (process.stdin, process.stdout):  # STDERR belongs to its reader thread
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
