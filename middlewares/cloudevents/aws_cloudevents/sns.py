"""Lambda-delivered SNS records → CloudEvents (the reference's convention, derived from
the official HTTP-delivery adapter aws-sns.md)."""

from __future__ import annotations

from typing import Any

from aws_events import Node, type_name

from .event import Payload, cloud_event
from .records import records
from .timestamps import rfc3339

KIND = "aws:sns"


def message(sns: Node) -> Payload:
    """`Sns.Message` as data: its JSON value when it parses, else the text (null is "")."""
    text = sns.raw("Message")
    if text is not None and not isinstance(text, str):
        raise sns.fail("Message", f"must be a string, got {type_name(text)}")
    return Payload.from_text(text or "")


def convert(event: Any, data_mode: str) -> list[dict[str, Any]]:
    out = []
    for record in records(event, KIND, "aws:sns"):
        sns = record.obj("Sns")
        # Adapter: a Notification's source is the subscription; fall back to the topic.
        source = record.opt_text("EventSubscriptionArn") or sns.text("TopicArn")
        data = message(sns) if data_mode == "payload" else Payload.json(record.value)
        out.append(
            cloud_event(
                id=sns.text("MessageId"),
                source=source,
                type=f"com.amazonaws.sns.{sns.text('Type')}",
                subject=sns.opt_text("Subject"),
                time=rfc3339(sns, "Timestamp"),
                data=data,
            )
        )
    return out
