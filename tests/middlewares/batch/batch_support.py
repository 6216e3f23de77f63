"""Batch events for the tests, built from the real samples in tests/fixtures/aws-events."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from aws_fixtures import load

EXECUTABLE = Path(__file__).resolve().parents[3] / "middlewares" / "batch" / "batch"


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def sqs_ids(event: dict[str, Any]) -> list[str]:
    return [record["messageId"] for record in event["Records"]]


def fifo_batch(groups: list[str]) -> dict[str, Any]:
    """A FIFO SQS batch of len(groups) records, one per message group given.

    The only FIFO sample (sqs-fifo-sns-envelope.json, Powertools' snsSqsFifoEvent.json)
    holds one record; Lambda documents a FIFO batch as several such records from the
    same queue, so each record is that one with its own messageId, MessageGroupId and
    SequenceNumber, in order."""
    sample = load("sqs-fifo-sns-envelope.json")
    template = sample["Records"][0]
    records = []
    for n, group in enumerate(groups):
        record = copy.deepcopy(template)
        record["messageId"] = f"fifo-{n}-{template['messageId'][7:]}"
        record["attributes"]["MessageGroupId"] = group
        record["attributes"]["SequenceNumber"] = str(int(template["attributes"]["SequenceNumber"]) + n)
        records.append(record)
    return {"Records": records}


def sqs_batch_of(count: int) -> dict[str, Any]:
    """A standard SQS batch of `count` records: sqs-batch.json's records, repeated with
    distinct messageIds (Lambda delivers up to 10,000 in one batch)."""
    records = load("sqs-batch.json")["Records"]
    out = []
    for n in range(count):
        record = copy.deepcopy(records[n % len(records)])
        record["messageId"] = f"{n:08d}-87a3-44ab-83d2-661975830a7d"
        out.append(record)
    return {"Records": out}
