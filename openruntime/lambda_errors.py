"""Lambda-shaped error payloads: what the Runtime API and Lambda's callers expect.

Imported on the cold path before the runtime is started, so json and signal (re, enum:
~10 ms of a `python -S` start) load only when an error is actually built.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import Any

# RAPID's limit for a buffered response: 6 MiB + 100 bytes (request events get 6 MiB).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100
MAX_REQUEST_BYTES = 6 * 1024 * 1024

ERROR_CONTENT_TYPE = "application/json"


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
    import json

    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("errorType"), str):
        return parsed["errorType"]
    return header_value or "Runtime.Unknown"


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


def response_too_large_message(size: int) -> str:
    return (
        f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
        f"({MAX_RESPONSE_BYTES} bytes)."
    )


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
