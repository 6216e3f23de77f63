"""SQS records → CloudEvents (the reference's convention; SQS has no official adapter)."""

from __future__ import annotations

from typing import Any

from .event import Payload, cloud_event
from .records import records
from .timestamps import from_epoch_ms

KIND = "aws:sqs"


def convert(event: Any, data_mode: str) -> list[dict[str, Any]]:
    out = []
    for record in records(event, KIND, "aws:sqs"):
        attributes = record.obj("attributes")
        body = record.raw("body")
        if not isinstance(body, str):
            raise record.fail("body", "must be a string")
        data = Payload.from_text(body) if data_mode == "payload" else Payload.json(record.value)
        out.append(
            cloud_event(
                id=record.text("messageId"),
                source=record.text("eventSourceARN"),
                type="com.amazonaws.sqs.message",
                time=from_epoch_ms(attributes, "SentTimestamp"),
                data=data,
                # FIFO queues: the message group orders messages, as the CloudEvents
                # partitioning/sequence extensions describe.
                extensions={
                    "partitionkey": attributes.opt_text("MessageGroupId"),
                    "sequence": attributes.opt_text("SequenceNumber"),
                },
            )
        )
    return out
