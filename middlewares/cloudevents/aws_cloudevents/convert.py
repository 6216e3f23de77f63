"""Detect the source of one AWS event and convert it (the middleware's `before` logic)."""

from __future__ import annotations

import json
from importlib import import_module
from typing import Any

from aws_events import HTTP_SOURCES, InvalidEventError, detect

from . import unknown
from .options import Options

EVENT_CONTENT_TYPE = "application/cloudevents+json"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"

# Sources whose Lambda event is a batch: converted to a JSON array, even of one event,
# so that a handler's input shape depends on the source and never on the batch size.
BATCH_KINDS = ("s3", "sns", "sqs", "kinesis", "dynamodb", "cloudwatch-logs")
HTTP_KINDS = HTTP_SOURCES
_ALREADY = ("cloudevent", "cloudevent-batch")


class Conversion:
    """What `before` hands on. `event` is None when the input passes through untouched."""

    __slots__ = ("batch", "event", "kind", "mode")

    def __init__(self, kind: str, mode: str, event: Any = None, batch: bool = False) -> None:
        self.kind = kind  # the detector's name for the source, e.g. "sqs" or "unknown"
        self.mode = mode  # converted | passthrough | wrapped
        self.event = event
        self.batch = batch

    @property
    def count(self) -> int:
        if self.event is None:
            return 0
        return len(self.event) if self.batch else 1

    @property
    def content_type(self) -> str | None:
        """The CloudEvents media type of the new payload (None: unchanged). Recorded in
        the state, not set on the invocation: see README "What the handler receives"."""
        if self.mode == "passthrough":
            return None
        return BATCH_CONTENT_TYPE if self.batch else EVENT_CONTENT_TYPE

    def state(self) -> dict[str, Any]:
        """What the invocation state records, so later hooks know the shape."""
        return {"kind": self.kind, "mode": self.mode, "batch": self.batch,
                "count": self.count, "format": self.content_type}

    def payload(self, original: bytes) -> bytes:
        if self.event is None:
            return original
        return json.dumps(self.event, ensure_ascii=False, separators=(",", ":")).encode()


def parse(payload: bytes) -> Any:
    """The event as JSON, `unknown.ABSENT` for an empty payload."""
    if not payload.strip():
        return unknown.ABSENT
    try:
        return json.loads(payload)
    except UnicodeDecodeError as exc:
        raise InvalidEventError("Lambda", "", f"not UTF-8 JSON ({exc})") from None
    except ValueError as exc:
        raise InvalidEventError("Lambda", "", f"not valid JSON ({exc})") from None
    except RecursionError:
        raise InvalidEventError("Lambda", "", "nested deeper than this parser goes") from None


def _converter(kind: str) -> Any:
    # Imported on demand: an exec-mode middleware starts per event and needs one module.
    return import_module(f".{kind.replace('-', '_')}", __package__)


def _batch(kind: str, event: Any, options: Options) -> list[dict[str, Any]]:
    module = _converter(kind)
    events: list[dict[str, Any]] = (
        module.convert(event, options.data) if kind in ("sqs", "sns") else module.convert(event)
    )
    return events


def convert_event(event: Any, options: Options, *, request_id: str = "",
                  function_arn: str = "") -> Conversion:
    kind = "unknown" if event is unknown.ABSENT else detect(event)
    if kind in BATCH_KINDS:
        return Conversion(kind, "converted", _batch(kind, event, options), batch=True)
    if kind in HTTP_KINDS:
        converted = _converter("http_request").convert(event, kind, request_id or _new_id())
        return Conversion(kind, "converted", converted)
    if kind == "eventbridge":
        converted = _converter(kind).convert(event, options.eventbridge_type)
        return Conversion(kind, "converted", converted)
    if kind in _ALREADY or options.unknown == "passthrough":
        return Conversion(kind, "passthrough")
    wrapped = unknown.wrap(event, kind, request_id=request_id or _new_id(),
                           function_arn=function_arn or "urn:openruntime:lambda")
    return Conversion(kind, "wrapped", wrapped)


def _new_id() -> str:
    import uuid  # only when the invocation gave no request id (direct library use)

    return str(uuid.uuid4())


def convert(payload: bytes, options: Options, *, request_id: str = "",
            function_arn: str = "") -> Conversion:
    """Convert one invocation payload; raises InvalidEventError naming the bad field."""
    return convert_event(parse(payload), options, request_id=request_id,
                         function_arn=function_arn)
