"""Lines for the function's log: the orchestrator's STDERR, which Lambda sends to CloudWatch.

Text by default. When Lambda's advanced logging asks for JSON (`AWS_LAMBDA_LOG_FORMAT=JSON`)
every line the orchestrator writes is one JSON object, so Logs Insights can query the
whole stream; its own lines then also honour `AWS_LAMBDA_LOG_LEVEL`. A runtime's lines are
the runtime's business (as on Lambda) and are not touched here.

A middleware line that already is a JSON object (the `log` middleware's, a structured
logger's) is passed on as an object in both formats: a `[name] request-id` prefix would
make it unparseable. It gains `middleware` and `requestId` when it lacks them.

Imports only `os` and `sys` at load: the bootstrap uses it on the cold path.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# Lambda's application log levels, in order (AWS_LAMBDA_LOG_LEVEL takes these names).
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


class LogSettings:
    """What Lambda's advanced logging controls asked for, read from the environment."""

    __slots__ = ("json", "minimum_level")

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.json = environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
        level = environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
        # As on Lambda, the level filters only in JSON format; an unknown name filters nothing.
        self.minimum_level = LEVELS.index(level) if self.json and level in LEVELS else 0

    def enabled(self, level: str) -> bool:
        return LEVELS.index(level) >= self.minimum_level


SETTINGS = LogSettings(os.environ)


def timestamp(epoch_s: float | None = None) -> str:
    """UTC with milliseconds, the way Lambda stamps its own JSON records."""
    import time

    now = time.time() if epoch_s is None else epoch_s
    whole = int(now)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((now - whole) * 1000):03d}Z"


def dumps(record: dict[str, Any]) -> str:
    import json

    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def orchestrator_line(
    message: str, level: str = "INFO", request_id: str | None = None, settings: LogSettings = SETTINGS
) -> str | None:
    """One line of the orchestrator's own; None when AWS_LAMBDA_LOG_LEVEL filters it out."""
    if not settings.json:
        # One CloudWatch event even for a message with a stderr tail in it: awslambdaric
        # joins a traceback's lines with \r for the same reason.
        return "[openruntime] " + message.replace("\r\n", "\r").replace("\n", "\r")
    if not settings.enabled(level):
        return None
    record: dict[str, Any] = {"timestamp": timestamp(), "level": level, "logger": "openruntime", "message": message}
    if request_id is not None:
        record["requestId"] = request_id
    return dumps(record)


_TIMESTAMP_KEYS = ("timestamp", "ts", "time", "@timestamp")
_LEVEL_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL"}  # Python logging's names for two of Lambda's


def _level_of(record: dict[str, Any]) -> str:
    """A JSON line's level as Lambda's filter reads it: its `level`, any case (Python's
    WARNING and CRITICAL too); INFO when it has none or one Lambda does not know."""
    level = record.get("level")
    if not isinstance(level, str):
        return "INFO"
    upper = level.upper()
    upper = _LEVEL_ALIASES.get(upper, upper)
    return upper if upper in LEVELS else "INFO"


def middleware_line(name: str, request_id: str, line: str, settings: LogSettings = SETTINGS,
                    level: str = "INFO") -> str | None:
    """One line a middleware wrote to its STDERR, as it goes into the function's log; None
    when AWS_LAMBDA_LOG_LEVEL filters it out. In JSON format a line is a record with
    Lambda's `timestamp` and `level` (a plain line's is `level`; an object's its own, INFO
    when it has none, which the filter then honours, as Lambda's does for a runtime's)."""
    record = _json_object(line)
    if record is not None:
        if settings.json and not settings.enabled(_level_of(record)):
            return None
        if "middleware" in record and "requestId" in record:
            return line.strip()  # already says whose it is: passed on byte for byte
        if settings.json:  # Lambda's fields where the middleware wrote none (it reads ts/time too)
            stamp = {} if any(key in record for key in _TIMESTAMP_KEYS) else {"timestamp": timestamp()}
            record = {**stamp, "level": "INFO", **record}
        record.setdefault("middleware", name)
        record.setdefault("requestId", request_id)
        return dumps(record)
    if not settings.json:
        return f"[{name}] {request_id} {line}"
    if not settings.enabled(level):
        return None
    return dumps(
        {"timestamp": timestamp(), "level": level, "middleware": name, "requestId": request_id, "message": line}
    )


def _json_object(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None  # the common case, decided without the json module
    import json

    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def write(line: str | None) -> None:
    """One whole line in one write, so lines from several threads never interleave."""
    if line is None:
        return
    write_encoded((line + "\n").encode("utf-8", "replace"))


def write_encoded(lines: bytes) -> None:
    """Whole lines, encoded and newline-terminated, in one write (see `write`)."""
    data = memoryview(lines)
    try:
        while data:
            data = data[os.write(2, data):]
    except OSError:
        pass  # no STDERR left (closed by a parent): logging must not take the orchestrator down


def log(message: str, level: str = "INFO", request_id: str | None = None) -> None:
    """The orchestrator's own message: errors, restarts, refused answers."""
    sys.stderr.flush()  # anything buffered there goes first, to keep the order
    write(orchestrator_line(message, level, request_id))
