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


def test_what_json_has_no_number_or_text_for_is_an_error_not_a_wrong_value() -> None:
    from checking import check_raw
    from schema_source import Settings
    from schema_validator import Validator

    validator = Validator({"properties": {"a": {"type": "number"}}})
    settings = Settings(validator, None)

    def messages(raw: bytes) -> list[str]:
        return [str(e) for e in check_raw(validator, raw, settings)]

    # Python's json takes these; the engine would see null and blame the type.
    assert messages(b'{"a": NaN}') == ["$: is not valid JSON: NaN is not a JSON number (json)"]
    assert messages(b'{"a": 1e400}') == ["$: is not valid JSON: the number 1e400 is out of range (json)"]
    assert messages(b'{"a": 1e300}') == []
    assert messages(b'{"a": ["\\ud800"]}') == [
        "$: contains \\ud800, a lone UTF-16 surrogate, which is not Unicode text (json)"]
    assert messages(b'{"a": "\\ud83d\\ude00"}') == ["$.a: must be number, got string (type)"]  # a pair is fine


def test_an_unterminated_string_full_of_escaped_quotes_is_scanned_once() -> None:
    """Each `\\"` of a string that never closes used to start a new scan to the end: a
    40 KB body took 9 s, a 6 MB one hours. Now one linear pass (this one is 400 KB)."""
    hostile = b"[" * 801 + b'"' + b'\\"' * 200_000
    assert nesting_depth(hostile) == 801
    assert nesting_depth(hostile + b"\\") == 801  # a lone backslash at the very end
    assert nesting_depth(b'["a]\\"]", [[1]]]') == 3  # brackets in closed strings still ignored
