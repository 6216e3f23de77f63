"""Logging like awslambdaric: the root logger's format, the error log lines, the log sink.

Text (default): `[LEVEL]\\t<UTC time>.<ms>Z\\t<request id>\\t<message>\\n`.
JSON (`AWS_LAMBDA_LOG_FORMAT=JSON`): one object per record.
Error reports are one log event: their lines are joined with `\\r` on stdout, which
CloudWatch keeps together, and indentation is made of no-break spaces.
When Lambda passes `_LAMBDA_TELEMETRY_LOG_FD`, records go to that fd as binary frames.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback

# typing is not imported at run time: it would add milliseconds to every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO, Any, TypeAlias

    from openruntime_python_runtime.errors import ErrorPayload

    LogSink: TypeAlias = "StandardLogSink | FramedTelemetryLogSink"

ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_IDENT = "\u00a0"  # NO-BREAK SPACE
TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
TEXT_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
JSON_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# Frame types of the telemetry log protocol, per level (NOTSET is the untyped default).
_LEVELS = (logging.NOTSET, logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
JSON_FRAME_TYPES = {
    lvl: code.to_bytes(4, "big")
    for lvl, code in zip(_LEVELS, (0xA55A0002, 0xA55A000A, 0xA55A000E, 0xA55A0012, 0xA55A0016, 0xA55A001A))
}
TEXT_FRAME_TYPES = {
    lvl: code.to_bytes(4, "big")
    for lvl, code in zip(_LEVELS, (0xA55A0003, 0xA55A000B, 0xA55A000F, 0xA55A0013, 0xA55A0017, 0xA55A001B))
}
DEFAULT_FRAME_TYPE = TEXT_FRAME_TYPES[logging.NOTSET]

# Attributes of a LogRecord that are not "extra" fields in JSON logs.
_RESERVED_FIELDS = frozenset(
    {
        "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module",
        "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
        "relativeCreated", "thread", "threadName", "processName", "process",
        "aws_request_id", "tenant_id", "_frame_type",
    }
)  # fmt: skip

# The request being handled, stamped on every record (awslambdaric keeps globals too).
current_request_id: str | None = None
current_tenant_id: str | None = None


def set_request(request_id: str | None, tenant_id: str | None) -> None:
    global current_request_id, current_tenant_id
    current_request_id = request_id
    current_tenant_id = tenant_id


class StandardLogSink:
    def log(self, msg: str, frame_type: bytes | None = None) -> None:
        sys.stdout.write(msg)

    def log_error(self, message_lines: list[str]) -> None:
        sys.stdout.write(ERROR_LOG_LINE_TERMINATE.join(message_lines) + "\n")


class FramedTelemetryLogSink:
    """Frames: type (4 bytes), length (4), timestamp in µs (8), message; big-endian."""

    def __init__(self, fd: int, error_frame_type: bytes) -> None:
        self.file: IO[bytes] = os.fdopen(fd, "wb", 0)
        self._error_frame_type = error_frame_type

    def log(self, msg: str, frame_type: bytes | None = None) -> None:
        data = msg.encode("utf-8")
        header = (frame_type or DEFAULT_FRAME_TYPE) + len(data).to_bytes(4, "big")
        self.file.write(header + (time.time_ns() // 1000).to_bytes(8, "big") + data)

    def log_error(self, message_lines: list[str]) -> None:
        self.log("\n".join(message_lines), frame_type=self._error_frame_type)


def _normalized_level(record: logging.LogRecord) -> int:
    return min(50, max(0, record.levelno)) // 10 * 10


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(datefmt=JSON_DATE_FORMAT)
        # default=str: one odd value in `extra` must not lose the whole record.
        self._encode = json.JSONEncoder(ensure_ascii=False, default=str).encode

    def format(self, record: logging.LogRecord) -> str:
        record.levelno = _normalized_level(record)
        record.levelname = logging.getLevelName(record.levelno)
        record._frame_type = JSON_FRAME_TYPES.get(record.levelno, JSON_FRAME_TYPES[logging.NOTSET])
        exc_info = record.exc_info
        result: dict[str, Any] = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "message": record.msg if isinstance(record.msg, dict) and not record.args else record.getMessage(),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc_info[2]) if exc_info else None,
            "errorType": exc_info[0].__name__ if exc_info and exc_info[0] else None,
            "errorMessage": str(exc_info[1]) if exc_info else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": f"{record.pathname}:{record.funcName}:{record.lineno}" if exc_info else None,
        }
        tenant_id = getattr(record, "tenant_id", None)
        if tenant_id is not None:
            result["tenantId"] = tenant_id
        result.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _RESERVED_FIELDS and key not in result
        )
        return self._encode({k: v for k, v in result.items() if v is not None}) + "\n"


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = current_request_id or ""
        record.tenant_id = current_tenant_id
        return True


class LambdaLoggerHandler(logging.Handler):
    def __init__(self, log_sink: LogSink, frame_types: dict[int, bytes] | None) -> None:
        super().__init__()
        self.log_sink = log_sink  # context.log() writes here directly
        self._frame_types = frame_types

    def emit(self, record: logging.LogRecord) -> None:
        msg = self.format(record)
        if self._frame_types is None:
            self.log_sink.log(msg)
        else:
            frame_type = getattr(record, "_frame_type", None) or self._frame_types.get(_normalized_level(record))
            self.log_sink.log(msg, frame_type=frame_type)


def log_format_is_json() -> bool:
    return (os.environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"


def log_level_from_env() -> str:
    value = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    return {None: "", "TRACE": "DEBUG"}.get(value, value or "").upper()


def create_log_sink(is_json: bool) -> LogSink:
    fd = os.environ.pop("_LAMBDA_TELEMETRY_LOG_FD", None)
    if fd is not None:
        types = JSON_FRAME_TYPES if is_json else TEXT_FRAME_TYPES
        return FramedTelemetryLogSink(int(fd), types[logging.ERROR])
    return StandardLogSink()


def setup_logging(log_sink: LogSink, is_json: bool, level: str) -> None:
    # Log times are UTC everywhere, user formatters included, as on Lambda.
    logging.Formatter.converter = time.gmtime
    handler = LambdaLoggerHandler(log_sink, TEXT_FRAME_TYPES if (is_json or level) else None)
    if is_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, TEXT_DATE_FORMAT))
    root = logging.getLogger()
    if level in logging.getLevelNamesMapping():
        root.setLevel(level)
    handler.addFilter(_RequestIdFilter())
    root.addHandler(handler)


def _indent_with_nbsp(line: str) -> str:
    stripped = line.lstrip(" ")
    return ERROR_LOG_IDENT * (len(line) - len(stripped)) + stripped


def error_log_lines(error: ErrorPayload) -> list[str]:
    """`[ERROR] Type: message` then the traceback, one list item per line."""
    description = "[ERROR]"
    error_type = error.get("errorType")
    message = error.get("errorMessage")
    if error_type:
        description += " " + error_type
    if message:
        if error_type:
            description += ":"
        description += " " + message
    lines = [description]
    stack_trace = error.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack_trace:
            if element == "":
                lines.append("")
            else:
                lines.extend(_indent_with_nbsp(line) for line in element.splitlines())
    return lines


def make_error_logger(log_sink: LogSink, is_json: bool, to_json: Callable[[Any], str]) -> Callable[[ErrorPayload], None]:
    """The function that reports an init or invoke error in the log, per the log format."""
    if is_json:

        def log_json_error(error: ErrorPayload) -> None:
            stamp = time.strftime(JSON_DATE_FORMAT, time.gmtime())
            log_sink.log_error([to_json({"timestamp": stamp, "level": "ERROR", **error})])

        return log_json_error

    def log_text_error(error: ErrorPayload) -> None:
        log_sink.log_error(error_log_lines(error))

    return log_text_error
