"""DynamoDB Streams records → CloudEvents (the reference's convention)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aws_events import Node

from .event import Payload, cloud_event
from .records import records
from .timestamps import from_epoch_seconds_or_ms

KIND = "aws:dynamodb"


def _key_value(node: Node, name: str) -> str:
    typed = node.obj(name)
    for tag in ("S", "N", "B"):  # key attributes can only be strings, numbers or binary
        value = typed.raw(tag)
        if isinstance(value, str):
            return value
    raise typed.invalid("must be a DynamoDB key value {'S'|'N'|'B': string}")


def subject(keys: Node) -> str | None:
    """The item's primary key as `name=value&…`, sorted and URL-encoded so that any key
    value reads back unambiguously."""
    pairs = sorted((name, _key_value(keys, name)) for name in keys.value)
    return urlencode(pairs) or None


def convert(event: Any) -> list[dict[str, Any]]:
    out = []
    for record in records(event, KIND, "aws:dynamodb"):
        stream = record.obj("dynamodb")
        created = stream.has("ApproximateCreationDateTime")
        out.append(
            cloud_event(
                id=record.text("eventID"),
                source=record.text("eventSourceARN"),
                type=f"com.amazonaws.dynamodb.{record.text('eventName')}",
                subject=subject(stream.obj("Keys")),
                time=from_epoch_seconds_or_ms(stream, "ApproximateCreationDateTime") if created else None,
                data=Payload.json(record.value),
                extensions={"sequence": stream.opt_text("SequenceNumber")},
            )
        )
    return out
