"""Errors: one hierarchy, Lambda's error type names, and Lambda-shaped error payloads.

    OpenRuntimeError                      everything openruntime raises on purpose
    ├── ConfigError                       a pipeline that cannot run (file:line: field: what)
    ├── LayerError                        a layer that cannot be built, read or extracted
    │   └── HostileZipError                 (layers.archive) a zip that tries to escape or explode
    ├── LambdaError(error_type, message, **details)
    │   │                                 an error a caller sees as Lambda's JSON: `body()`
    │   ├── InitFailure                   init cannot finish: posted to /init/error
    │   ├── MiddlewareFailure             a hook failed: the error names middleware and hook
    │   └── BrokenMiddleware              a persistent middleware's process cannot go on: replaced
    ├── RuntimeGone                       the runtime died before it took the event: resend it
    ├── FatalUpstreamError                Lambda's Runtime API cannot be used: the bootstrap exits
    ├── BadResponse                       (also a ConnectionError) not an HTTP answer: retried
    └── MalformedRequest                  bytes that are not an HTTP/1.1 request: 400
    ShutdownRequested (BaseException)     SIGTERM/SIGINT: not an error; no handler may swallow it

Error types are the constants below (`RUNTIME_EXIT_ERROR`, `MIDDLEWARE_CRASHED`, …), never
string literals at the raise sites.

Imported on the cold path before the runtime is started, so json and signal (re, enum:
~10 ms of a `python -S` start) load only when an error is actually built.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import Any

# -- error types: what callers, logs and middlewares match on ---------------------------------

# The runtime and the sandbox, with Lambda's own names.
RUNTIME_EXIT_ERROR = "Runtime.ExitError"
RUNTIME_UNKNOWN = "Runtime.Unknown"
RUNTIME_RESET = "Runtime.Reset"
RUNTIME_INVALID_ENTRYPOINT = "Runtime.InvalidEntrypoint"
RUNTIME_INVALID_WORKING_DIR = "Runtime.InvalidWorkingDir"
RUNTIME_INVALID_RESPONSE_MODE = "Runtime.InvalidResponseModeHeader"
RUNTIME_INIT_TIMEOUT = "Runtime.InitTimeout"
RUNTIME_TRUNCATED_RESPONSE = "Runtime.TruncatedResponse"  # a stream cut off mid-way
RUNTIME_AFTER_RESTORE_ERROR = "Runtime.AfterRestoreError"  # SnapStart: an after-restore hook failed
RUNTIME_CONFIG_INVALID = "Runtime.ConfigInvalid"  # openruntime's: the pipeline cannot run
FUNCTION_RESPONSE_TOO_LARGE = "Function.ResponseSizeTooLarge"
SANDBOX_TIMEDOUT = "Sandbox.Timedout"
EXTENSION_CRASH = "Extension.Crash"  # an extension that died (or never got ready) during init
EXTENSION_INIT_ERROR = "Extension.InitError"  # an extension posted /extension/init/error (AWS RIE's type)

# A middleware's failures (docs/middleware-protocol.md, "Errors").
MIDDLEWARE_NOT_FOUND = "Middleware.NotFound"
MIDDLEWARE_CRASHED = "Middleware.Crashed"
MIDDLEWARE_EXIT_ERROR = "Middleware.ExitError"
MIDDLEWARE_TIMEOUT = "Middleware.Timeout"
MIDDLEWARE_INVALID_FRAME = "Middleware.InvalidFrame"
MIDDLEWARE_INVALID_OUTPUT = "Middleware.InvalidOutput"
MIDDLEWARE_OUTPUT_TOO_LARGE = "Middleware.OutputTooLarge"
MIDDLEWARE_FAILED = "Middleware.Failed"  # its own error object named no type

# The Runtime API's answers to a runtime that asks wrongly (as RAPID names them).
INVALID_STATE_TRANSITION = "InvalidStateTransition"
INVALID_REQUEST_ID = "InvalidRequestID"
INVALID_INVOCATION_ID = "InvalidInvocationID"
INVALID_RESPONSE_MODE = "InvalidFunctionResponseMode"
REQUEST_ENTITY_TOO_LARGE = "RequestEntityTooLarge"
NOT_FOUND = "NotFound"

# The Invoke API's (the Lambda service's) errors, as the SDKs raise them.
INVALID_REQUEST_CONTENT = "InvalidRequestContentException"
REQUEST_TOO_LARGE_EXCEPTION = "RequestEntityTooLargeException"
RESOURCE_NOT_FOUND = "ResourceNotFoundException"
INVALID_PARAMETER_VALUE = "InvalidParameterValueException"
# Not Lambda's (its model names neither): the emulator's own, for what it does not serve.
METHOD_NOT_ALLOWED = "MethodNotAllowedException"
UNKNOWN_OPERATION = "UnknownOperationException"  # the name AWS's JSON protocols give an unknown operation
VALIDATION_EXCEPTION = "ValidationException"
DUPLICATED_INVOKE_ID = "Client.DuplicatedInvokeId"  # Managed Instances: an invoke id already running
TOO_MANY_REQUESTS = "TooManyRequestsException"  # Lambda's throttle
RUNTIME_UNAVAILABLE = "Runtime.Unavailable"  # AWS RIE, Managed Instances: no worker waits for an event


# -- the hierarchy ----------------------------------------------------------------------------


class OpenRuntimeError(Exception):
    """The base of every error openruntime raises on purpose."""


class ConfigError(OpenRuntimeError):
    """A pipeline that cannot run; the message says where and what was expected."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.file, self.line, self.field, self.detail = file, line, field, message
        where = ":".join(str(p) for p in (file, line) if p is not None)
        prefix = f"{where}: " if where else ""
        self.text = f"{prefix}{field + ': ' if field else ''}{message}"  # this problem alone
        super().__init__(self.text)
        self.more: list[ConfigError] = []  # the file's other problems, found in the same read

    @property
    def problems(self) -> list[ConfigError]:
        """This one and the others found with it, in file order: what `validate` lists."""
        return [self, *self.more]

    def __str__(self) -> str:
        if not self.more:
            return self.text
        return f"{self.text} (and {len(self.more)} more problem{'s' if len(self.more) > 1 else ''})"


class LayerError(OpenRuntimeError):
    """A layer cannot be built, read or extracted; the message says which file and why."""


class LambdaError(OpenRuntimeError):
    """An error with Lambda's shape: a type, a message and details, as JSON in `body()`."""

    def __init__(self, error_type: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.details: dict[str, Any] = details

    def body(self, request_id: str | None = None) -> bytes:
        return error_body(self.error_type, self.message, request_id, **self.details)


class InitFailure(LambdaError):
    """Init cannot finish (the runtime will not start, a middleware is not ready): the
    orchestrator posts it to /init/error. `posted`: an error body the runtime itself posted,
    passed on as it is."""

    def __init__(self, error_type: str, message: str, posted: bytes | None = None) -> None:
        super().__init__(error_type, message)
        self.posted = posted

    def body(self, request_id: str | None = None) -> bytes:
        return self.posted if self.posted is not None else super().body(request_id)


class MiddlewareFailure(LambdaError):
    """A middleware hook failed; the invocation's error names the middleware and the hook
    (`details`, under the body's `middleware` key)."""

    def __init__(self, error_type: str, message: str, name: str, hook: str, **details: Any) -> None:
        super().__init__(error_type, message, name=name, hook=hook, **details)
        # Keys of a middleware's own error object (exit 4, `fail` frames) kept as given.
        self.extra: dict[str, Any] = {}

    def body(self, request_id: str | None = None) -> bytes:
        return error_body(self.error_type, self.message, request_id, **self.extra, middleware=self.details)

    @classmethod
    def from_error_object(cls, payload: bytes, name: str, hook: str) -> MiddlewareFailure:
        """A failure the middleware described itself: its error object, as it is."""
        import json

        try:
            error = json.loads(payload) if payload.strip() else {}
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            error = {"errorMessage": payload[:500].decode("utf-8", "replace").rstrip()}
        if not isinstance(error, dict):
            error = {"errorMessage": json.dumps(error)[:500]}
        error_type = error.get("errorType")
        message = error.get("errorMessage")
        failure = cls(
            error_type if isinstance(error_type, str) and error_type else MIDDLEWARE_FAILED,
            message if isinstance(message, str) and message else f"middleware '{name}' hook '{hook}' failed",
            name, hook,
        )
        failure.extra = {k: v for k, v in error.items()
                         if k not in ("errorType", "errorMessage", "requestId", "middleware")}
        return failure


class BrokenMiddleware(LambdaError):
    """A persistent middleware's exchange cannot go on (it crashed, timed out, framed
    wrongly): its process is replaced, and the call fails with a MiddlewareFailure."""


class RuntimeGone(OpenRuntimeError):
    """The runtime died before it took the dispatched event: start another, resend it."""


class FatalUpstreamError(OpenRuntimeError):
    """The Runtime API cannot be used any more; the bootstrap must exit non-zero."""


class BadResponse(ConnectionError, OpenRuntimeError):
    """The bytes that came back are not an HTTP/1.1 response (or the server hung up)."""


class MalformedRequest(OpenRuntimeError):
    """The bytes on the connection are not a valid HTTP/1.1 request."""


class ShutdownRequested(BaseException):
    """SIGTERM/SIGINT: stop everything cleanly (BaseException so no handler swallows it)."""


# -- Lambda-shaped payloads -------------------------------------------------------------------

# RAPID's limit for a buffered response: 6 MiB + 100 bytes (request events get 6 MiB).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100
MAX_REQUEST_BYTES = 6 * 1024 * 1024
MAX_ASYNC_REQUEST_BYTES = 1024 * 1024  # InvocationType=Event (Lambda's model: "1 MB for asynchronous invocations")
MAX_STREAM_BYTES = 200 * 1024 * 1024  # a streamed response's maximum



def error_payload(
    error_type: str, message: str, request_id: str | None = None, **details: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {"errorType": error_type, "errorMessage": message}
    if request_id is not None:
        payload["requestId"] = request_id
    payload.update(details)
    return payload


def error_body(
    error_type: str, message: str, request_id: str | None = None, **details: Any
) -> bytes:
    import json

    return json.dumps(error_payload(error_type, message, request_id, **details)).encode()


def error_type_of(body: bytes, header_value: str | None = None) -> str:
    """The errorType a posted error carries: its body's, else the header's."""
    error_type = _posted_field(body, "errorType")
    return error_type if error_type is not None else header_value or RUNTIME_UNKNOWN


def error_message_of(body: bytes) -> str | None:
    """The errorMessage a posted error carries, None when it has none (or is not JSON)."""
    return _posted_field(body, "errorMessage") or None


def _posted_field(body: bytes, name: str) -> str | None:
    """A string member of a posted error object; None when the body is not one or lacks it."""
    import json

    try:
        parsed = json.loads(body) if body else None
    except (ValueError, RecursionError):
        return None
    value = parsed.get(name) if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None


def exit_error_message(request_id: str | None, status: int | None) -> str:
    """The message Lambda gives when the runtime process dies during an invocation."""
    prefix = f"RequestId: {request_id} " if request_id else ""
    if status is None:
        return f"{prefix}Error: Runtime exited without providing a reason"
    if status < 0:
        return f"{prefix}Error: Runtime exited with error: signal: {signal_text(-status)}"
    return f"{prefix}Error: Runtime exited with error: exit status {status}"


def timeout_message(request_id: str, timeout_s: float) -> str:
    return f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"


def response_too_large_message(size: int | None) -> str:
    """Lambda's message; `size` None for a stream cut off once past the limit (its real size
    is not known: the rest was never read)."""
    said = f" ({size} bytes)" if size is not None else ""
    return f"Response payload size{said} exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."


# Go's wording, which Lambda's messages use ("signal: killed").
_SIGNAL_TEXT = {
    "SIGKILL": "killed",
    "SIGSEGV": "segmentation fault",
    "SIGABRT": "aborted",
    "SIGTERM": "terminated",
    "SIGINT": "interrupt",
    "SIGBUS": "bus error",
}


def signal_text(number: int) -> str:
    import signal

    try:
        sig = signal.Signals(number)
    except ValueError:
        return f"signal {number}"
    return _SIGNAL_TEXT.get(sig.name, sig.name.removeprefix("SIG").lower())
