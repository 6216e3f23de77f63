"""openruntime middleware SDK for Python (stdlib only): one file serves both modes.

A middleware at ``middlewares/NAME/NAME`` finds this module with one line::

    #!/usr/bin/env python3
    import os, sys; sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "lib", "python"))
    from openruntime_middleware import Context, Fail, Respond, after, before, run

    @before
    def tag(event, ctx: Context):
        if event.get("ping"):
            return Respond({"pong": True})          # short-circuit: the handler is skipped
        ctx.state = {"seen": True}                  # handed to this middleware's after/error
        event["tagged_by"] = ctx.middleware
        return event                                # the new event

    @after
    def untouched(response, ctx):
        return None                                 # None: payload passes through byte-identical

    run()

(A single-file middleware at ``middlewares/NAME`` uses ``"lib", "python"`` without ``".."``.)

What a hook function receives, by the payload's content type:
  * JSON (``application/json``, ``type/x+json``, or no content type, Lambda's default):
    the parsed value (dict, list, str, number, bool, None). Payloads that do not parse
    (including an empty payload) are handed over as ``bytes``.
  * anything else: the raw ``bytes``.
  * ``@before(raw=True)`` (same for after/error): always the raw ``bytes``.

Hook functions may be ``async def``. What they may return:
  * ``None``: the payload it received, byte-identical (nothing is re-encoded).
  * ``bytes``/``bytearray``/``memoryview``: the new payload as is; ``str``: as UTF-8.
  * any other value: the new payload as compact JSON.
  * ``Continue(payload, content_type=...)``: a new payload with a new content type.
  * ``Respond(payload)``: in ``before`` short-circuit, in ``error`` recover, with
    ``payload`` (converted as above) as the response. In ``after`` it equals a plain return.
  * raise ``Fail(message, error_type, details)``, or any exception: the invocation fails
    with that error object (``errorType``, ``errorMessage`` and the ``details`` keys; for
    another exception its class name, message and ``stackTrace``), in both modes.

Modes (docs/middleware-protocol.md):
  * exec: ``NAME <hook>``; payload on STDIN, new payload on STDOUT, exit 0 (continue),
    3 (respond) or 4 (fail: STDOUT is the error object, which becomes the invocation's
    error as it is). The last STDERR line is then ``<errorType>: <errorMessage>``, for the
    logs and for orchestrators that predate exit status 4 (they report any status other
    than 0 and 3 as ``Middleware.ExitError`` quoting the STDERR tail).
    ``ctx.state`` is stored as JSON in ``$OPENRUNTIME_STATE_FILE``.
  * persistent: ``NAME --persistent`` (or no argument with ``OPENRUNTIME_PROTOCOL=2``):
    a ready frame listing the registered hooks, then one answer frame per request frame.
    A failing hook answers ``fail`` and the process keeps serving.

``ctx.log(line)`` writes one line to the function's log for this invocation: in the
answer frame in persistent mode (logged with the answer), on STDERR in exec mode.

In both modes file descriptor 1 is reserved for the protocol: ``print()`` and child
processes write to STDERR instead, so they cannot corrupt a payload or a frame.
"""

from __future__ import annotations

import _thread
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import IO, Any, Final, Literal, NoReturn, TypeVar, overload

__all__ = [
    "Context",
    "Continue",
    "Fail",
    "Respond",
    "after",
    "before",
    "done",
    "error",
    "is_json_content_type",
    "received",
    "run",
]

HOOKS: Final = ("before", "after", "error", "received", "done")
# Observers' hooks, once the answer is posted: what they answer is not used (only `state`).
OBSERVER_HOOKS: Final = ("received", "done")
PROTOCOL: Final = 2
EXIT_CONTINUE: Final = 0
EXIT_FAIL: Final = 1  # no error object could be written (exec), or a broken stream
EXIT_USAGE: Final = 2
EXIT_RESPOND: Final = 3
EXIT_FAIL_WITH_ERROR: Final = 4  # exec: STDOUT is the error object
# A header line longer than this is a broken stream, not a frame: stop instead of buffering it.
MAX_HEADER_BYTES: Final = 1 << 20
# The orchestrator reads answer headers up to 64 KiB, a state up to 32 KiB among them:
# log lines beyond this share of an answer go to STDERR instead.
MAX_ANSWER_LOG_BYTES: Final = 24 * 1024

Action = Literal["continue", "respond", "fail"]
HookFn = Callable[[Any, "Context"], Any]
F = TypeVar("F", bound=HookFn)


class Context:
    """The invocation context of one hook call.

    A plain slotted class, not a dataclass: importing dataclasses costs ~4 ms, paid by
    every exec-mode spawn.
    """

    __slots__ = ("hook", "request_id", "deadline_ms", "function_arn", "trace_id",
                 "content_type", "middleware", "state", "tenant_id", "stages", "event_bytes", "outcome",
                 "_log", "_log_size")

    def __init__(
        self,
        hook: str,
        request_id: str = "",
        deadline_ms: int | None = None,
        function_arn: str = "",
        trace_id: str = "",
        content_type: str = "",
        middleware: str = "",
        state: Any = None,
        tenant_id: str | None = None,
        stages: list[Any] | None = None,
        event_bytes: int | None = None,
        outcome: str | None = None,
    ) -> None:
        self.hook = hook
        self.request_id = request_id
        self.deadline_ms = deadline_ms  # Unix ms, None when unknown
        self.function_arn = function_arn
        self.trace_id = trace_id
        self.content_type = content_type
        self.middleware = middleware
        self.tenant_id = tenant_id  # the caller's tenant (Lambda's tenant isolation mode), else None
        # Invocation-scoped, private to this middleware: what `before` sets, `after`/`error`
        # read. Any JSON-serialisable value.
        self.state = state
        # The stages the orchestrator timed so far in this invocation, each
        # [middleware name or None, hook or "handler", start Unix µs, duration µs];
        # None from an orchestrator that does not report them.
        self.stages = stages
        # The invocation's event as Lambda delivered it, in bytes (before any middleware
        # changed it); None from an orchestrator that does not report it.
        self.event_bytes = event_bytes
        # In a `done` hook, what was posted: "response", "error" (the payload is the error
        # JSON) or "stream" (a streamed response: no payload); None in the other hooks.
        self.outcome = outcome
        self._log: list[str] | None = None  # persistent mode: lines for the answer frame
        self._log_size = 0

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__ if name[0] != "_")
        return f"Context({fields})"

    def log(self, line: Any) -> None:
        """One line for the function's log, tagged with this invocation's request id. A dict
        or list is logged as one compact JSON line (an object then stays one, the
        orchestrator adding `middleware` and `requestId` where it lacks them: a structured
        line CloudWatch Logs Insights can query); any other value as `str(value)`.

        In persistent mode it travels in the answer frame (`log`): the orchestrator logs it
        with the answer, inside the invocation, and it costs no STDERR round. In exec mode,
        once a hook's lines pass what one frame header holds (24 KiB), and after the answer
        (a thread that kept `ctx`), it goes to STDERR at once; the lines held until then go
        first, so a hook's lines keep their order."""
        text = line if isinstance(line, str) else _log_text(line)
        with _log_lock:  # the answer may be taken by the main thread while another logs
            held = self._log
            if held is not None:
                room = MAX_ANSWER_LOG_BYTES - self._log_size
                # Its length first: a 20 MB line must not be escaped only to be refused.
                size = len(text) + 1 if len(text) >= room else len(_encode_ascii(text)) + 1
                if size <= room:
                    held.append(text)
                    self._log_size += size
                    return
                self._log = None  # from now on STDERR, after what was held: in order
        pending = held or []
        sys.stderr.flush()
        for text_line in (*pending, text):
            sys.stderr.buffer.write(text_line.encode("utf-8", "replace") + b"\n")
        sys.stderr.buffer.flush()

    def remaining_time_ms(self) -> int | None:
        """Milliseconds until the invocation's deadline (never negative), None if unknown."""
        if self.deadline_ms is None:
            return None
        return max(0, self.deadline_ms - time.time_ns() // 1_000_000)

    @property
    def is_json(self) -> bool:
        return is_json_content_type(self.content_type)


class Respond:
    """Short-circuit (`before`) or recover (`error`) with this payload as the response."""

    __slots__ = ("payload", "content_type")

    def __init__(self, payload: Any = None, content_type: str | None = None) -> None:
        self.payload = payload
        self.content_type = content_type


class Continue:
    """A new payload together with a new content type."""

    __slots__ = ("payload", "content_type")

    def __init__(self, payload: Any = None, content_type: str | None = None) -> None:
        self.payload = payload
        self.content_type = content_type


class Fail(Exception):
    """Fail the invocation with a Lambda-shaped error; `details` are extra error keys."""

    def __init__(
        self,
        message: str,
        error_type: str = "Middleware.Failed",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.details = dict(details or {})

    def to_error(self) -> dict[str, Any]:
        return {**self.details, "errorType": self.error_type, "errorMessage": self.message}


def is_json_content_type(content_type: str | None) -> bool:
    """`application/json`, `type/anything+json`, or absent (Lambda payloads are JSON)."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.endswith("+json") and "/" in media)


# ---------------------------------------------------------------------------- registry


class _Handler:
    __slots__ = ("fn", "raw")

    def __init__(self, fn: HookFn, raw: bool) -> None:
        self.fn = fn
        self.raw = raw


_handlers: dict[str, _Handler] = {}


def _register(hook: str, fn: F | None, raw: bool) -> Any:
    def decorate(func: F) -> F:
        if hook in _handlers:
            raise ValueError(f"a {hook!r} hook is already registered")
        _handlers[hook] = _Handler(func, raw)
        return func

    return decorate(fn) if fn is not None else decorate


@overload
def before(fn: F, /) -> F: ...
@overload
def before(*, raw: bool = False) -> Callable[[F], F]: ...
def before(fn: F | None = None, /, *, raw: bool = False) -> Any:
    """Register the request hook: `@before` or `@before(raw=True)`."""
    return _register("before", fn, raw)


@overload
def after(fn: F, /) -> F: ...
@overload
def after(*, raw: bool = False) -> Callable[[F], F]: ...
def after(fn: F | None = None, /, *, raw: bool = False) -> Any:
    """Register the response hook: `@after` or `@after(raw=True)`."""
    return _register("after", fn, raw)


@overload
def error(fn: F, /) -> F: ...
@overload
def error(*, raw: bool = False) -> Callable[[F], F]: ...
def error(fn: F | None = None, /, *, raw: bool = False) -> Any:
    """Register the failure hook: `@error` or `@error(raw=True)`; it gets the error JSON."""
    return _register("error", fn, raw)


@overload
def done(fn: F, /) -> F: ...
@overload
def done(*, raw: bool = False) -> Callable[[F], F]: ...
def done(fn: F | None = None, /, *, raw: bool = False) -> Any:
    """Register the observer hook: `@done` or `@done(raw=True)`. It runs once the answer
    is posted (`ctx.outcome` says which kind) and gets what was posted; what it returns
    is ignored, and the caller does not wait for it."""
    return _register("done", fn, raw)


@overload
def received(fn: F, /) -> F: ...
@overload
def received(*, raw: bool = False) -> Callable[[F], F]: ...
def received(fn: F | None = None, /, *, raw: bool = False) -> Any:
    """Register the observer's event hook: `@received` or `@received(raw=True)`. It gets the
    event as Lambda delivered it, once the answer is posted and just before `done`; what
    it returns is ignored, what it sets in `ctx.state` reaches `done`."""
    return _register("received", fn, raw)


# ---------------------------------------------------------------------------- calling


_encode_ascii = json.encoder.encode_basestring_ascii  # a JSON string as an answer header holds it
_log_lock = _thread.allocate_lock()  # Context.log against the answer taking the lines


def _dumps(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:  # lone surrogates from "\ud800"-style input: keep them escaped
        return json.dumps(value, separators=(",", ":")).encode()


def _encode(value: Any, received: bytes) -> bytes:
    if value is None:
        return received
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return _dumps(value)


_loop: Any = None


def _event_loop() -> Any:
    """One loop for the process, created on first use (asyncio costs ~15 ms to import)."""
    global _loop
    if _loop is None:
        import asyncio

        _loop = asyncio.new_event_loop()
    return _loop


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _call(handler: _Handler, ctx: Context, payload: bytes) -> tuple[Action, bytes, str | None]:
    """Run one hook function; exceptions propagate to the mode's failure handling."""
    arg: Any = payload
    if not handler.raw and payload and is_json_content_type(ctx.content_type):
        try:
            arg = json.loads(payload)
        except (ValueError, RecursionError):  # documented: unparseable JSON payloads arrive as bytes
            arg = payload  # (RecursionError: nested deeper than Python's parser goes)
    result = handler.fn(arg, ctx)
    if hasattr(result, "__await__"):  # `async def` hooks
        result = _event_loop().run_until_complete(_awaited(result))
    if isinstance(result, Respond):
        # `respond` only means something in before (short-circuit) and error (recovery).
        action: Action = "continue" if ctx.hook == "after" else "respond"
        return action, _encode(result.payload, payload), result.content_type
    if isinstance(result, Continue):
        return "continue", _encode(result.payload, payload), result.content_type
    return "continue", _encode(result, payload), None


def _exception_error(exc: BaseException) -> dict[str, Any]:
    """Lambda's shape for an unhandled exception: errorType is the class name."""
    if isinstance(exc, Fail):
        return exc.to_error()
    import traceback  # lazily: only failures pay for it

    # The hook's frames, not this module's (its dispatch is noise in the caller's error).
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename != __file__]
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_list(frames) + traceback.format_exception_only(exc),
    }


def _error_payload(err: dict[str, Any]) -> bytes:
    """The error object as JSON; without its extra keys when they are not JSON."""
    try:
        return _dumps(err)
    except (TypeError, ValueError) as exc:  # e.g. Fail(details={"when": datetime.now()})
        print(f"openruntime_middleware: error details dropped, not JSON: {exc}", file=sys.stderr)
        return _dumps({"errorType": str(err.get("errorType")), "errorMessage": str(err.get("errorMessage"))})


def _print_trace(exc: BaseException) -> None:
    import traceback

    traceback.print_exception(exc, file=sys.stderr)


def _claim_stdout() -> IO[bytes]:
    """Keep fd 1 for the protocol; point the old fd 1 (print, children) at STDERR."""
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


# ---------------------------------------------------------------------------- exec mode


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _log_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            pass  # keys that are not strings, a cycle: logged as Python shows it
    return str(value)


def _non_negative_int(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _context_from_env(hook: str) -> Context:
    env = os.environ
    return Context(
        hook=hook,
        request_id=env.get("OPENRUNTIME_REQUEST_ID", ""),
        deadline_ms=_int_or_none(env.get("OPENRUNTIME_DEADLINE_MS")),
        function_arn=env.get("OPENRUNTIME_FUNCTION_ARN", ""),
        trace_id=env.get("_X_AMZN_TRACE_ID", ""),
        content_type=env.get("OPENRUNTIME_CONTENT_TYPE", ""),
        middleware=env.get("OPENRUNTIME_MIDDLEWARE") or os.path.basename(sys.argv[0]),
        tenant_id=env.get("OPENRUNTIME_TENANT_ID") or None,
        stages=_stages(env.get("OPENRUNTIME_STAGES")),
        event_bytes=_int_or_none(env.get("OPENRUNTIME_EVENT_BYTES")),
        outcome=env.get("OPENRUNTIME_OUTCOME") or None,
    )


def _stages(text: str | None) -> list[Any] | None:
    if not text:
        return None
    try:
        stages = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return stages if isinstance(stages, list) else None


def _read_state(path: str | None) -> tuple[Any, bytes]:
    if not path:
        return None, b""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except FileNotFoundError:
        return None, b""
    if not text.strip():
        return None, text
    try:
        return json.loads(text), text
    except (ValueError, RecursionError):  # not written by this SDK: hand over the text
        return text.decode(errors="replace"), text


def _write_state(path: str | None, state: Any, previous: bytes) -> None:
    if not path:
        return
    text = b"" if state is None else _dumps(state)
    if text != previous:
        with open(path, "wb") as f:
            f.write(text)


def _run_exec(hook: str) -> int:
    payload = sys.stdin.buffer.read()
    out = _claim_stdout()
    handler = _handlers.get(hook)
    if handler is None:  # a hook this middleware does not implement passes through
        if hook not in OBSERVER_HOOKS:  # (what an observer's hook writes is not used)
            out.write(payload)
            out.flush()
        return EXIT_CONTINUE
    ctx = _context_from_env(hook)
    state_path = os.environ.get("OPENRUNTIME_STATE_FILE")
    ctx.state, stored = _read_state(state_path)
    failure: Exception | None = None
    try:
        action, data, content_type = _call(handler, ctx, payload)
        if content_type:  # exec mode has no channel for it (docs/middleware-protocol.md)
            sys.stderr.write(f"openruntime_middleware: the new content type {content_type!r} is kept in "
                             "persistent mode only; in exec mode the payload keeps its content type "
                             f"({os.environ.get('OPENRUNTIME_CONTENT_TYPE') or 'unknown'})\n")
    except Exception as exc:  # noqa: BLE001 - every failure must become exit status 4
        failure = exc
    try:  # saved even after a failure: the error hook may want what was set so far
        _write_state(state_path, ctx.state, stored)
    except (TypeError, ValueError) as exc:
        failure = failure or Fail(f"state is not JSON: {exc}")
    if failure is not None:
        if not isinstance(failure, Fail):
            _print_trace(failure)
        err = _exception_error(failure)
        # For the logs, and for orchestrators without exit status 4, which quote the tail
        # of STDERR in a Middleware.ExitError: end it with the Lambda-style pair.
        print(f"{err['errorType']}: {err['errorMessage']}", file=sys.stderr, flush=True)
        try:
            out.write(_error_payload(err))
            out.flush()
        except BrokenPipeError:
            return EXIT_FAIL
        return EXIT_FAIL_WITH_ERROR
    if hook in OBSERVER_HOOKS:  # what it answers is not used
        return EXIT_CONTINUE
    # Exec mode has no channel for a new content type; the orchestrator keeps the old one.
    try:
        out.write(data)
        out.flush()
    except BrokenPipeError:
        return EXIT_FAIL
    return EXIT_RESPOND if action == "respond" else EXIT_CONTINUE


# ---------------------------------------------------------------------------- persistent mode


_dump_header = json.JSONEncoder(separators=(",", ":")).encode  # ASCII: no raw newline in a header


def _write_frame(out: IO[bytes], header: bytes, payload: bytes) -> None:
    out.write(header + b"\n")
    if payload:
        out.write(payload)
    out.flush()


def _answer(header: dict[str, Any], payload: bytes) -> tuple[bytes, bytes]:
    """The answer frame's header line (without its newline) and payload."""
    hook = header.get("hook")
    handler = _handlers.get(hook) if isinstance(hook, str) else None
    if handler is None:  # not registered (the orchestrator normally skips it): pass through
        if hook in OBSERVER_HOOKS:
            payload = b""
        return _dump_header({"action": "continue", "length": len(payload)}).encode(), payload
    state_in = header.get("state")
    ctx = Context(
        hook=hook,  # type: ignore[arg-type]
        request_id=header.get("request_id") or "",
        deadline_ms=header.get("deadline_ms") if isinstance(header.get("deadline_ms"), int) else None,
        function_arn=header.get("function_arn") or "",
        trace_id=header.get("trace_id") or "",
        content_type=header.get("content_type") or "",
        middleware=header.get("middleware") or "",
        state=state_in,
        tenant_id=header.get("tenant_id") or None,
        stages=header.get("stages") if isinstance(header.get("stages"), list) else None,
        event_bytes=_non_negative_int(header.get("event_bytes")),
        outcome=header.get("outcome") if isinstance(header.get("outcome"), str) else None,
    )
    ctx._log = []
    content_type: str | None = None
    try:
        action, data, content_type = _call(handler, ctx, payload)
    except Exception as exc:  # noqa: BLE001 - a failing hook answers `fail`, the process lives on
        if not isinstance(exc, Fail):
            _print_trace(exc)
        action, data = "fail", _error_payload(_exception_error(exc))
    if hook in OBSERVER_HOOKS and action != "fail":  # what an observer answers is not used: not sent back
        action, data, content_type = "continue", b"", None
    answer: dict[str, Any] = {"action": action, "length": len(data)}
    if content_type and action != "fail":
        answer["content_type"] = content_type
    if ctx.state is not None or state_in is not None:
        answer["state"] = ctx.state
    with _log_lock:  # a line logged from now on (a thread that kept ctx) goes to STDERR
        lines, ctx._log = ctx._log, None
    if lines:
        answer["log"] = lines
    try:
        return _dump_header(answer).encode(), data
    except (TypeError, ValueError) as exc:
        data = _dumps({"errorType": "Middleware.Failed", "errorMessage": f"state is not JSON: {exc}"})
        answer = {"action": "fail", "length": len(data)}
        if lines:
            answer["log"] = lines
        return _dump_header(answer).encode(), data


def _read_frame(inp: IO[bytes]) -> tuple[dict[str, Any], bytes] | None:
    """The next request frame; None at a clean end of input."""
    line = inp.readline(MAX_HEADER_BYTES)
    if not line:
        return None
    if not line.endswith(b"\n"):
        raise ValueError("frame header is truncated or too long")
    header = json.loads(line)
    length = header.get("length") if isinstance(header, dict) else None
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise ValueError(f"frame header has no valid length: {line[:200]!r}")
    payload = inp.read(length) if length else b""
    if len(payload) != length:
        raise ValueError(f"payload truncated: got {len(payload)} of {length} bytes")
    return header, payload


def _run_persistent() -> int:
    out = _claim_stdout()
    # Children that inherit fd 0 must not eat frames: give them /dev/null instead.
    inp = os.fdopen(os.dup(0), "rb", buffering=1 << 16)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    hooks = [h for h in HOOKS if h in _handlers]
    try:
        _write_frame(out, _dump_header({"ready": True, "protocol": PROTOCOL, "hooks": hooks, "length": 0}).encode(), b"")
        while True:
            try:
                frame = _read_frame(inp)
            except ValueError as exc:  # the stream is out of sync: only a restart can fix it
                print(f"openruntime_middleware: invalid request frame: {exc}", file=sys.stderr)
                return EXIT_FAIL
            if frame is None:
                return EXIT_CONTINUE
            answer, data = _answer(*frame)
            _write_frame(out, answer, data)
    except BrokenPipeError:  # the orchestrator went away
        return EXIT_CONTINUE


# ---------------------------------------------------------------------------- entry point

_USAGE = """usage: {name} before|after|error|received|done  exec mode: payload on STDIN, result on STDOUT
       {name} --persistent              persistent mode: framed protocol on STDIN/STDOUT
"""


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--persistent":
        return _run_persistent()
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write(_USAGE.format(name=os.path.basename(sys.argv[0])))
        return EXIT_CONTINUE
    if argv:
        return _run_exec(argv[0])
    if os.environ.get("OPENRUNTIME_PROTOCOL") == str(PROTOCOL):
        return _run_persistent()
    sys.stderr.write(_USAGE.format(name=os.path.basename(sys.argv[0])))
    return EXIT_USAGE


def run(argv: list[str] | None = None) -> NoReturn:
    """Serve the registered hooks in the mode the command line asks for, then exit."""
    raise SystemExit(main(sys.argv[1:] if argv is None else argv))
