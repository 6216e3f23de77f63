"""Error payloads, exactly in awslambdaric's shape.

Every error the runtime reports (init or invoke) is
`{"errorMessage", "errorType", "requestId", "stackTrace"}`; Lambda hands that object to
the caller unchanged, so the keys, their order and the trace format are part of the
contract users see.
"""

from __future__ import annotations

import importlib
import os
import traceback

# typing is not imported at run time: it would add milliseconds to every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any

    ErrorPayload = dict[str, Any]

MARSHAL_ERROR = "Runtime.MarshalError"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

# Frames from this package are dropped from the front of a user's stack trace so that
# the first frame is the user's code (awslambdaric does the same with its bootstrap.py).
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Init errors also skip the import machinery (importlib/__init__.py and the frozen
# "<frozen importlib._bootstrap>" frames) that sits between the runtime and the user module.
_IMPORTLIB_DIR = os.path.dirname(os.path.abspath(importlib.__file__)) + os.sep

Frame = tuple[str, int, str, str | None]  # (filename, lineno, function name, source line)


class FaultError(Exception):
    """A failure the runtime itself diagnoses (awslambdaric's FaultException)."""

    def __init__(self, error_type: str, msg: str, trace: list[str] | None = None) -> None:
        super().__init__(msg)
        self.error_type = error_type
        self.msg = msg
        self.trace = trace


def make_error(
    error_message: str | None,
    error_type: str | None,
    stack_trace: list[str] | None,
    request_id: str | None = None,
) -> ErrorPayload:
    # Key order matters to anyone comparing bodies byte for byte: it is awslambdaric's.
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _is_runtime_frame(filename: str) -> bool:
    return filename.startswith(_RUNTIME_DIR)


def _is_import_machinery(filename: str) -> bool:
    return filename.startswith(_IMPORTLIB_DIR) or filename.startswith("<frozen importlib")


def extract_frames(tb: TracebackType | None, *, skip_import_machinery: bool = False) -> list[Frame]:
    """The traceback's frames minus the runtime's own leading frames.

    If nothing but runtime frames remain (e.g. the handler is not callable), all frames
    are kept, as awslambdaric does, so the trace is never empty for no reason.
    """
    frames: list[Frame] = [(f.filename, f.lineno or 0, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, (filename, _, _, _) in enumerate(frames):
        if _is_runtime_frame(filename):
            continue
        if skip_import_machinery and _is_import_machinery(filename):
            continue
        return frames[i:]
    return frames


def format_frames(frames: list[Frame]) -> list[str]:
    return traceback.format_list(frames)


def error_from_exception(
    exc: BaseException,
    request_id: str | None = None,
    *,
    skip_import_machinery: bool = False,
) -> tuple[ErrorPayload, dict[str, Any]]:
    """The error payload and X-Ray cause for an exception raised by user code."""
    frames = extract_frames(exc.__traceback__, skip_import_machinery=skip_import_machinery)
    error_type = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not take the runtime down
        message = f"<unprintable {error_type} object>"
    payload = make_error(message, error_type, format_frames(frames), request_id)
    return payload, make_xray_cause(error_type, message, frames)


def error_from_fault(fault: FaultError, request_id: str | None = None) -> tuple[ErrorPayload, dict[str, Any]]:
    payload = make_error(fault.msg, fault.error_type, fault.trace, request_id)
    # awslambdaric labels every runtime-diagnosed fault this way in the X-Ray cause.
    return payload, make_xray_cause("LambdaValidationError", fault.msg, [])


def make_xray_cause(error_type: str, message: str, frames: list[Frame]) -> dict[str, Any]:
    """The `Lambda-Runtime-Function-XRay-Error-Cause` document awslambdaric sends."""
    stack = [{"label": name, "path": filename, "line": lineno} for filename, lineno, name, _ in frames]
    return {
        "working_directory": os.getcwd(),
        "exceptions": [{"message": message, "type": error_type, "stack": stack}],
        "paths": list(dict.fromkeys(filename for filename, _, _, _ in frames)),
    }
