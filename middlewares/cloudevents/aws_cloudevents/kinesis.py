"""Kinesis Data Streams records → CloudEvents (the reference's convention)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .event import Payload, cloud_event
from .records import records
from .timestamps import from_epoch_seconds

KIND = "aws:kinesis"


def _type(event_name: str) -> str:
    # "aws:kinesis:record" → "com.amazonaws.kinesis.record"
    return "com.amazonaws." + ".".join(event_name.split(":")[1:])


def convert(event: Any) -> list[dict[str, Any]]:
    out = []
    for record in records(event, KIND, "aws:kinesis"):
        kinesis = record.obj("kinesis")
        encoded = kinesis.raw("data")
        if not isinstance(encoded, str):
            raise kinesis.fail("data", "must be a base64 string")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise kinesis.fail("data", f"is not valid base64 ({exc})") from None
        event_name = record.opt_text("eventName") or "aws:kinesis:record"
        partition_key = kinesis.text("partitionKey")
        out.append(
            cloud_event(
                id=record.text("eventID"),
                source=record.text("eventSourceARN"),
                type=_type(event_name),
                subject=partition_key,
                time=from_epoch_seconds(kinesis, "approximateArrivalTimestamp"),
                data=Payload.from_bytes(raw),
                # The decoded payload drops the record envelope; keep what orders it.
                extensions={
                    "partitionkey": partition_key,
                    "sequence": kinesis.text("sequenceNumber"),
                },
            )
        )
    return out
