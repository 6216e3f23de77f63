"""Build CloudEvents 1.0 structured-JSON objects (stdlib only: exec mode starts per event,
and importing the cloudevents SDK would cost ~40 ms per spawn; the tests parse every
produced event back with the SDK instead)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

SPECVERSION = "1.0"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
GZIP = "application/gzip"

_EXTENSION_NAME = re.compile(r"^[a-z0-9]+$")
_RESERVED = frozenset(
    {"specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject",
     "time", "data", "data_base64"}
)


def _reject_constant(name: str) -> Any:
    # NaN/Infinity are not JSON: a body "NaN" is text, not a number we could not re-emit.
    raise ValueError(name)


class Payload:
    """Event data as the JSON format carries it: a JSON value in `data`, or bytes in
    `data_base64`, plus the content type that describes it."""

    __slots__ = ("binary", "content_type", "value")

    def __init__(self, value: Any, content_type: str | None, binary: bool = False) -> None:
        self.value = value
        self.binary = binary
        self.content_type = content_type

    @classmethod
    def json(cls, value: Any) -> Payload:
        return cls(value, JSON)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Payload:
        """Decoded record bytes: JSON when they parse, text when UTF-8, else binary."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            # gzip is what CloudWatch Logs → Kinesis delivers; name it so handlers know.
            return cls(raw, GZIP if raw[:2] == b"\x1f\x8b" else None, binary=True)
        return cls.from_text(text)

    @classmethod
    def from_text(cls, text: str) -> Payload:
        """A message body: the JSON value when it is JSON, else the text itself."""
        try:
            return cls(json.loads(text, parse_constant=_reject_constant), JSON)
        except (ValueError, RecursionError):
            return cls(text, TEXT)


def cloud_event(
    *,
    id: str,
    source: str,
    type: str,
    data: Payload | None = None,
    subject: str | None = None,
    time: str | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One CloudEvent as a JSON object, attributes first, data last."""
    for name, value in (("id", id), ("source", source), ("type", type)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"CloudEvent attribute '{name}' must be a non-empty string")
    event: dict[str, Any] = {"specversion": SPECVERSION, "id": id, "source": source, "type": type}
    if data is not None and data.content_type:
        event["datacontenttype"] = data.content_type
    if subject:
        event["subject"] = subject
    if time:
        event["time"] = time
    for name, value in (extensions or {}).items():
        if not _EXTENSION_NAME.match(name) or name in _RESERVED:
            raise ValueError(f"invalid CloudEvent extension name {name!r}")
        if value is not None and value != "":
            event[name] = value
    if data is not None:
        if data.binary:
            event["data_base64"] = base64.b64encode(data.value).decode("ascii")
        else:
            event["data"] = data.value
    return event
