"""Events without a mapping (passthrough / wrap), invalid input and bad configuration."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from typing import Any

import pytest
from aws_cloudevents import InvalidEventError, Options, OptionsError, convert
from ce_support import EXPECTED, MALFORMED, load, raw

UNMAPPED = sorted(name for name, (_, mode) in EXPECTED.items() if mode == "passthrough")
ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"


def _convert(payload: bytes, **options: str) -> Any:
    conversion = convert(payload, Options(**options), request_id="req-1", function_arn=ARN)
    return conversion, json.loads(conversion.payload(payload)) if payload.strip() else None


@pytest.mark.parametrize("name", UNMAPPED)
def test_unknown_events_are_wrapped_on_request(name: str) -> None:
    kind, _ = EXPECTED[name]
    conversion, event = _convert(raw(name), unknown="wrap")
    assert conversion.mode == "wrapped"
    assert event["type"] == "com.amazonaws.lambda.unknown"
    assert event["id"] == "req-1"  # the invocation's request id
    assert event["source"] == ARN  # the function that received it
    assert event["datacontenttype"] == "application/json"
    assert event["data"] == load(name)
    # Recognised-but-unmapped sources say what they are.
    assert event.get("awskind") == (None if kind == "unknown" else kind)


def test_cognito_trigger_passes_through_by_default() -> None:
    # Cognito wants the same event back with `response` filled in: never touch it unasked.
    conversion, _ = _convert(raw("cognito-userpool-presignup.json"))
    assert conversion.mode == "passthrough"
    assert conversion.payload(raw("cognito-userpool-presignup.json")) == raw("cognito-userpool-presignup.json")


def test_existing_cloudevents_pass_through_even_in_wrap_mode() -> None:
    event = {"specversion": "1.0", "id": "1", "source": "/x", "type": "t"}
    for payload in (json.dumps(event).encode(), json.dumps([event, event]).encode()):
        conversion = convert(payload, Options(unknown="wrap"))
        assert conversion.mode == "passthrough"
        assert conversion.payload(payload) == payload


def test_empty_payload_is_unknown() -> None:
    assert convert(b"", Options()).mode == "passthrough"
    conversion, _ = _convert(b"", unknown="wrap")
    wrapped = json.loads(conversion.payload(b""))
    assert "data" not in wrapped and wrapped["type"] == "com.amazonaws.lambda.unknown"


# ---------------------------------------------------------------- malformed input

def _error(payload: bytes | Any) -> InvalidEventError:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(InvalidEventError) as caught:
        convert(data, Options())
    return caught.value


def test_malformed_fixtures_are_all_covered() -> None:
    assert MALFORMED == [
        "apigw-v2-http-request-invalid.json",
        "dynamodb-stream-truncated.json",
        "function-url-request-invalid-no-rawpath.json",
    ]


def test_truncated_json_is_reported_with_its_position() -> None:
    error = _error(raw("malformed/dynamodb-stream-truncated.json"))
    assert "not valid JSON" in str(error)
    assert "line 135" in str(error)


def test_v1_shaped_event_without_domain_name_names_the_field() -> None:
    error = _error(raw("malformed/apigw-v2-http-request-invalid.json"))
    assert error.field == "requestContext.domainName"
    assert str(error) == "invalid apigw-v1 event: field 'requestContext.domainName' is missing"


def test_function_url_without_raw_path_names_the_field() -> None:
    error = _error(raw("malformed/function-url-request-invalid-no-rawpath.json"))
    assert error.field == "rawPath"
    assert "function-url" in str(error)


def _mutated(name: str, change: Any) -> Any:
    event = copy.deepcopy(load(name))
    change(event)
    return event


@pytest.mark.parametrize(
    ("name", "change", "field", "words"),
    [
        ("s3-put.json", lambda e: e["Records"][0]["s3"]["bucket"].pop("name"),
         "Records[0].s3.bucket.name", "is missing"),
        ("s3-put.json", lambda e: e["Records"][0].update(eventTime="yesterday"),
         "Records[0].eventTime", "RFC 3339"),
        ("sqs-batch.json", lambda e: e["Records"][1]["attributes"].update(SentTimestamp="soon"),
         "Records[1].attributes.SentTimestamp", "must be a number"),
        ("sqs-batch.json", lambda e: e["Records"][1].update(eventSource="aws:sns"),
         "Records[1].eventSource", "must be 'aws:sqs'"),
        ("sqs-batch.json", lambda e: e["Records"][0].pop("messageId"),
         "Records[0].messageId", "is missing"),
        ("sns.json", lambda e: e["Records"][0]["Sns"].update(MessageId=""),
         "Records[0].Sns.MessageId", "must not be empty"),
        ("kinesis.json", lambda e: e["Records"][0]["kinesis"].update(data="not base64!"),
         "Records[0].kinesis.data", "not valid base64"),
        ("dynamodb-stream.json", lambda e: e["Records"][0]["dynamodb"].update(Keys=[]),
         "Records[0].dynamodb.Keys", "must be an object"),
        ("eventbridge-ec2-state-change.json", lambda e: e.update(id=None),
         "id", "is missing"),
        ("cloudwatch-logs.json", lambda e: e["awslogs"].update(data="%%%"),
         "awslogs.data", "not valid base64"),
        ("cloudwatch-logs.json",
         lambda e: e["awslogs"].update(data=base64.b64encode(b'{"a": 1}').decode()),
         "awslogs.data", "not gzip or zlib"),
        ("apigw-v2-http-request.json", lambda e: e["requestContext"].pop("requestId"),
         "requestContext.requestId", "is missing"),
        ("alb-request-single-value-headers.json", lambda e: e.pop("path"), "path", "is missing"),
    ],
)
def test_broken_events_name_the_field(name: str, change: Any, field: str, words: str) -> None:
    error = _error(_mutated(name, change))
    assert error.field == field
    assert field in str(error) and words in str(error)


def test_cloudwatch_logs_decoded_document_errors_name_the_field() -> None:
    document = {"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "g", "logStream": "s",
                "logEvents": [{"id": "a", "timestamp": "never", "message": "m"}]}
    data = base64.b64encode(gzip.compress(json.dumps(document).encode())).decode()
    error = _error({"awslogs": {"data": data}})
    assert error.field == "awslogs.data<decoded>.logEvents[0].timestamp"


def test_bad_option_values_name_the_variable() -> None:
    with pytest.raises(OptionsError, match="CLOUDEVENTS_UNKNOWN='drop' is invalid"):
        Options.from_env({"CLOUDEVENTS_UNKNOWN": "drop"})
    assert Options.from_env({}) == Options("passthrough", "record", "detail-type")
    assert Options.from_env({"CLOUDEVENTS_UNKNOWN": "WRAP"}).unknown == "wrap"
