"""The nesting count on raw JSON, and reading the bodies of batch records."""

from __future__ import annotations

import json

from aws_fixtures import FIXTURES as AWS_EVENTS
from batch_records import RecordBody, record_bodies
from limits import limit_problem, nesting_depth


def test_nesting_depth_ignores_brackets_inside_strings() -> None:
    assert nesting_depth(b"1") == 0
    assert nesting_depth(b'{"a": [1, {"b": {}}]}') == 4
    assert nesting_depth(json.dumps({"s": "[[[{{{ \" ]]] \\\\", "t": ["]"]}).encode()) == 2
    assert nesting_depth(b"[" * 5000 + b"]" * 5000) == 5000


def test_limit_problem() -> None:
    assert limit_problem(b'{"a": [1]}', 100, 2) is None
    assert limit_problem(b'{"a": [[1]]}', 100, 2) == (
        "nests 3 levels deep, more than the limit of 2 (VALIDATE_MAX_DEPTH)")
    # Many brackets side by side are wide, not deep.
    assert limit_problem(json.dumps([[i] for i in range(1000)]).encode(), 1 << 20, 2) is None
    assert limit_problem(b"x" * 11, 10, 800) == "is 11 bytes, more than the limit of 10 (VALIDATE_MAX_BYTES)"


def test_record_bodies_of_the_real_samples() -> None:
    sqs = record_bodies(json.loads((AWS_EVENTS / "sqs-batch.json").read_bytes()))
    assert sqs == [RecordBody("059f36b4-87a3-44ab-83d2-661975830a7d", b"Test message."),
                   RecordBody("2e1424d4-f796-459a-8184-9c92662be6da", b'{"message": "foo1"}')]
    sns = record_bodies(json.loads((AWS_EVENTS / "sns.json").read_bytes()))
    assert sns == [RecordBody("95df01b4-ee98-5cb9-9903-4c221d41eb5e", b"Hello from SNS!")]
    kinesis = record_bodies(json.loads((AWS_EVENTS / "kinesis.json").read_bytes()))
    assert kinesis is not None and [r.body for r in kinesis] == [b"Hello World", b"Hello World"]
    assert kinesis[0].record == "49568167373333333333333333333333333333333333333333333333"
    # Other batches and other events are not records to validate one by one.
    assert record_bodies(json.loads((AWS_EVENTS / "dynamodb-stream.json").read_bytes())) is None
    assert record_bodies(json.loads((AWS_EVENTS / "s3-put.json").read_bytes())) is None
    assert record_bodies({"Records": []}) is None


def test_broken_records_say_what_is_wrong() -> None:
    event = {"Records": [{"eventSource": "aws:kinesis", "kinesis": {"sequenceNumber": "7", "data": "!!"}},
                         {"eventSource": "aws:sqs", "messageId": "m-2"},
                         {"eventSource": "aws:sqs", "body": "{}"}]}
    assert record_bodies(event) == [RecordBody("7", None, "kinesis.data is not valid base64"),
                                    RecordBody("m-2", None, "has no body string"),
                                    RecordBody("Records[2]", b"{}")]
