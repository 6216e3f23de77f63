"""S3 notifications → CloudEvents, per the official adapter (cloudevents/spec adapters/aws-s3.md)."""

from __future__ import annotations

from typing import Any

from aws_events import Node

from .event import Payload, cloud_event
from .records import records
from .timestamps import rfc3339

KIND = "aws:s3"
_CONFIG_PREFIX = "s3:"


def event_name(record: Node) -> str:
    """`eventName` as S3 notifications spell it (`ObjectCreated:Put`). S3-compatible
    stores (MinIO) and some samples write the bucket configuration's spelling
    (`s3:ObjectCreated:Put`): drop the prefix so both give the same CloudEvent type."""
    name = record.text("eventName")
    stripped = name.removeprefix(_CONFIG_PREFIX)
    if not stripped:
        raise record.fail("eventName", f"is not an S3 event name: {name!r}")
    return stripped


def convert(event: Any) -> list[dict[str, Any]]:
    out = []
    for record in records(event, KIND, "aws:s3"):
        response = record.obj("responseElements")
        s3 = record.obj("s3")
        bucket = s3.obj("bucket").text("name")
        out.append(
            cloud_event(
                # Adapter: x-amz-request-id "." x-amz-id-2, unique per S3 request.
                id=f"{response.text('x-amz-request-id')}.{response.text('x-amz-id-2')}",
                # Adapter: eventSource "." awsRegion "." bucket (spec's "s3.buckets.name" is a typo).
                source=f"{record.text('eventSource')}.{record.text('awsRegion')}.{bucket}",
                type=f"com.amazonaws.s3.{event_name(record)}",
                # Keys stay URL-encoded as S3 sends them (space → '+'), as the adapter says.
                subject=s3.obj("object").text("key"),
                time=rfc3339(record, "eventTime"),
                data=Payload.json(record.value),
            )
        )
    return out
