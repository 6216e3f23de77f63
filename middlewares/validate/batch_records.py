"""The bodies of the records of an SQS, SNS or Kinesis batch, each with the id that names it.

SQS: `body`, named by `messageId`. SNS: `Sns.Message`, named by `Sns.MessageId`. Kinesis:
`kinesis.data` (base64), named by `kinesis.sequenceNumber` (the same ids Lambda's
batchItemFailures use).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from aws_events import record_source


@dataclass(frozen=True, slots=True)
class RecordBody:
    record: str  # the record's id, or "Records[i]" when it has none
    body: bytes | None  # None when it cannot be had; `problem` says why
    problem: str = ""


def _field(record: dict[str, Any], *keys: str) -> Any:
    value: Any = record
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _one(index: int, record: Any) -> RecordBody:
    source = record_source(record)
    if source == "aws:sqs":
        rid, body = _field(record, "messageId"), _field(record, "body")
    elif source == "aws:sns":
        rid, body = _field(record, "Sns", "MessageId"), _field(record, "Sns", "Message")
    else:  # aws:kinesis
        rid, data = _field(record, "kinesis", "sequenceNumber"), _field(record, "kinesis", "data")
        name = rid if isinstance(rid, str) else f"Records[{index}]"
        if not isinstance(data, str):
            return RecordBody(name, None, "has no kinesis.data string")
        try:
            return RecordBody(name, base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            return RecordBody(name, None, "kinesis.data is not valid base64")
    name = rid if isinstance(rid, str) else f"Records[{index}]"
    if not isinstance(body, str):
        return RecordBody(name, None, "has no body string")
    return RecordBody(name, body.encode("utf-8", "surrogatepass"))  # a lone surrogate: not valid JSON, below


def record_bodies(event: Any) -> list[RecordBody] | None:
    """Each record's body when `event` is an SQS, SNS or Kinesis batch, else None."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        return None
    if record_source(records[0]) not in ("aws:sqs", "aws:sns", "aws:kinesis"):
        return None
    return [_one(i, record) for i, record in enumerate(records)]
