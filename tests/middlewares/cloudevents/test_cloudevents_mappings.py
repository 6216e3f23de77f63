"""Every fixture through the converter, attributes checked field by field against the
adapter specs (S3, SNS) and the reference's conventions (the rest)."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from aws_cloudevents import BATCH_CONTENT_TYPE, EVENT_CONTENT_TYPE, Options, convert
from ce_support import ALL_FIXTURES, EXPECTED, load, raw

BATCH_KINDS = {"s3", "sns", "sqs", "kinesis", "dynamodb", "cloudwatch-logs"}


def converted(name: str, **options: str) -> Any:
    conversion = convert(raw(name), Options(**options), request_id="req-1",
                         function_arn="arn:aws:lambda:us-east-1:123456789012:function:f")
    return json.loads(conversion.payload(raw(name)))


def ms_to_rfc3339(ms: int) -> str:
    """Independent of the code under test: datetime arithmetic, ms precision, 'Z'."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{ms % 1000:03d}Z" if ms % 1000 else "Z")


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(EXPECTED) == ALL_FIXTURES


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_detected_kind_mode_and_shape(name: str) -> None:
    kind, mode = EXPECTED[name]
    conversion = convert(raw(name), Options(), request_id="req-1")
    assert (conversion.kind, conversion.mode) == (kind, mode)
    if mode == "passthrough":
        assert conversion.payload(raw(name)) == raw(name)  # byte-identical
        assert conversion.content_type is None
        return
    out = json.loads(conversion.payload(raw(name)))
    if kind in BATCH_KINDS:
        assert isinstance(out, list) and conversion.batch
        assert conversion.content_type == BATCH_CONTENT_TYPE
    else:
        assert isinstance(out, dict) and not conversion.batch
        assert conversion.content_type == EVENT_CONTENT_TYPE
    assert conversion.state()["batch"] == conversion.batch
    assert conversion.state()["count"] == (len(out) if conversion.batch else 1)


# ---------------------------------------------------------------- S3 (official adapter)

@pytest.mark.parametrize("name", ["s3-put.json", "s3-put-urlencoded-key.json", "s3-delete.json"])
def test_s3_follows_the_official_adapter(name: str) -> None:
    records = load(name)["Records"]
    events = converted(name)
    assert len(events) == len(records)
    for event, record in zip(events, records):
        response = record["responseElements"]
        assert event["specversion"] == "1.0"
        assert event["id"] == f"{response['x-amz-request-id']}.{response['x-amz-id-2']}"
        assert event["source"] == f"aws:s3.{record['awsRegion']}.{record['s3']['bucket']['name']}"
        assert event["type"] == "com.amazonaws.s3." + record["eventName"]
        assert event["datacontenttype"] == "application/json"
        assert "dataschema" not in event
        assert event["subject"] == record["s3"]["object"]["key"]
        assert event["time"] == record["eventTime"]
        assert event["data"] == record


def test_s3_literal_values() -> None:
    [event] = converted("s3-put-urlencoded-key.json")
    assert event["id"] == "C3D13FE58DE4C810.FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"
    assert event["source"] == "aws:s3.us-east-1.sourcebucket"
    assert event["type"] == "com.amazonaws.s3.ObjectCreated:Put"
    assert event["subject"] == "Happy%20Face.jpg"  # kept URL-encoded, as S3 sent it
    assert event["time"] == "1970-01-01T00:00:00.123Z"
    [deleted] = converted("s3-delete.json")
    assert deleted["type"] == "com.amazonaws.s3.ObjectRemoved:Delete"


# ---------------------------------------------------------------- SNS

def test_sns_follows_the_adapter_convention() -> None:
    record = load("sns.json")["Records"][0]
    [event] = converted("sns.json")
    assert event["id"] == record["Sns"]["MessageId"] == "95df01b4-ee98-5cb9-9903-4c221d41eb5e"
    assert event["source"] == record["EventSubscriptionArn"]
    assert event["type"] == "com.amazonaws.sns.Notification"
    assert event["datacontenttype"] == "application/json"
    assert event["subject"] == "TestInvoke"
    assert event["time"] == "2015-06-03T17:43:27.123Z"
    assert event["data"] == record


def test_sns_payload_mode_gives_the_message() -> None:
    [event] = converted("sns.json", data="payload")
    assert event["data"] == "Hello from SNS!"
    assert event["datacontenttype"] == "text/plain; charset=utf-8"


# ---------------------------------------------------------------- SQS

@pytest.mark.parametrize("name", [n for n, (k, _) in EXPECTED.items() if k == "sqs"])
def test_sqs_records(name: str) -> None:
    records = load(name)["Records"]
    events = converted(name)
    assert [e["id"] for e in events] == [r["messageId"] for r in records]
    for event, record in zip(events, records):
        assert event["source"] == record["eventSourceARN"]
        assert event["type"] == "com.amazonaws.sqs.message"
        assert event["time"] == ms_to_rfc3339(int(record["attributes"]["SentTimestamp"]))
        assert event["data"] == record
        assert "subject" not in event


def test_sqs_literal_times_and_fifo_extensions() -> None:
    first, second = converted("sqs-batch.json")
    assert first["time"] == "2018-12-17T21:37:29.183Z"
    assert second["time"] == "2018-12-17T21:37:30.636Z"
    [fifo] = converted("sqs-fifo-sns-envelope.json")
    assert fifo["partitionkey"] == "powertools-test"
    assert fifo["sequence"] == "18873177232222703872"
    assert "partitionkey" not in first  # standard queues have no message group


def test_sqs_payload_mode_parses_json_bodies() -> None:
    text, as_json = converted("sqs-batch.json", data="payload")
    assert text["data"] == "Test message."
    assert text["datacontenttype"] == "text/plain; charset=utf-8"
    assert as_json["data"] == {"message": "foo1"}
    assert as_json["datacontenttype"] == "application/json"


# ---------------------------------------------------------------- Kinesis

@pytest.mark.parametrize("name", ["kinesis.json", "kinesis-cloudwatch-logs-payload.json"])
def test_kinesis_records(name: str) -> None:
    records = load(name)["Records"]
    events = converted(name)
    for event, record in zip(events, records, strict=True):
        kinesis = record["kinesis"]
        assert event["id"] == record["eventID"]
        assert event["source"] == record["eventSourceARN"]
        assert event["type"] == "com.amazonaws.kinesis.record"
        assert event["subject"] == kinesis["partitionKey"]
        assert event["partitionkey"] == kinesis["partitionKey"]
        assert event["sequence"] == kinesis["sequenceNumber"]


def test_kinesis_text_data_is_decoded() -> None:
    first, second = converted("kinesis.json")
    assert first["data"] == "Hello World"
    assert first["datacontenttype"] == "text/plain; charset=utf-8"
    # approximateArrivalTimestamp is epoch seconds with ms: no float rounding allowed.
    assert first["time"] == "2016-12-02T01:18:43.477Z"
    assert second["time"] == "2016-12-04T08:52:03.477Z"


def test_kinesis_binary_data_goes_to_data_base64() -> None:
    records = load("kinesis-cloudwatch-logs-payload.json")["Records"]
    events = converted("kinesis-cloudwatch-logs-payload.json")
    for event, record in zip(events, records):
        assert "data" not in event
        assert event["datacontenttype"] == "application/gzip"
        assert base64.b64decode(event["data_base64"]) == base64.b64decode(record["kinesis"]["data"])
        logs = json.loads(gzip.decompress(base64.b64decode(event["data_base64"])))
        assert logs["messageType"] == "DATA_MESSAGE"


# ---------------------------------------------------------------- DynamoDB Streams

def test_dynamodb_records() -> None:
    records = load("dynamodb-stream.json")["Records"]
    events = converted("dynamodb-stream.json")
    for event, record in zip(events, records, strict=True):
        assert event["id"] == record["eventID"]
        assert event["source"] == record["eventSourceARN"]
        assert event["type"] == "com.amazonaws.dynamodb.INSERT"
        keys = record["dynamodb"]["Keys"]
        assert event["subject"] == urlencode(sorted((k, v["S"]) for k, v in keys.items()))
        assert event["subject"] == "key=binary&val=data"
        assert event["time"] == "2016-12-02T01:27:00Z"
        assert event["sequence"] == record["dynamodb"]["SequenceNumber"]
        assert event["data"] == record


def test_dynamodb_modify_and_missing_creation_time() -> None:
    insert, modify = converted("dynamodb-stream-insert-modify.json")
    assert insert["type"] == "com.amazonaws.dynamodb.INSERT"
    assert modify["type"] == "com.amazonaws.dynamodb.MODIFY"
    assert insert["subject"] == modify["subject"] == "Id=101"
    assert insert["time"] == "2023-09-06T10:45:55Z"  # float seconds 1693997155.0
    assert "time" not in modify  # the record has no ApproximateCreationDateTime


# ---------------------------------------------------------------- EventBridge

@pytest.mark.parametrize("name", [n for n, (k, _) in EXPECTED.items() if k == "eventbridge"])
def test_eventbridge_envelope(name: str) -> None:
    source = load(name)
    event = converted(name)
    assert event["id"] == source["id"]
    assert event["source"] == source["source"]
    assert event["type"] == source["detail-type"]
    assert event["subject"] == source["resources"][0]
    assert event["time"] == source["time"]
    assert event["data"] == source["detail"]
    assert event["account"] == source["account"]
    assert event["region"] == source["region"]


def test_scheduled_event() -> None:
    event = converted("eventbridge-scheduled-event.json")
    assert event["type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["subject"] == "arn:aws:events:eu-central-1:123456789012:rule/demoschedule"
    assert event["data"] == {}


def test_eventbridge_slug_types_are_reverse_dns() -> None:
    event = converted("eventbridge-ec2-state-change.json", eventbridge_type="slug")
    assert event["type"] == "com.amazonaws.events.ec2-instance-state-change-notification"
    scheduled = converted("eventbridge-scheduled-event.json", eventbridge_type="slug")
    assert scheduled["type"] == "com.amazonaws.events.scheduled-event"


# ---------------------------------------------------------------- CloudWatch Logs

def _decoded_logs(name: str) -> dict[str, Any]:
    data = base64.b64decode(load(name)["awslogs"]["data"])
    return json.loads(zlib.decompress(data, zlib.MAX_WBITS | 32))


@pytest.mark.parametrize("name", ["cloudwatch-logs.json", "cloudwatch-logs-account-policy-zlib.json"])
def test_cloudwatch_logs_one_event_per_log_event(name: str) -> None:
    document = _decoded_logs(name)
    events = converted(name)
    assert [e["id"] for e in events] == ["eventId1", "eventId2"]
    for event, log_event in zip(events, document["logEvents"], strict=True):
        assert event["source"] == "123456789123/testLogGroup"
        assert event["type"] == "com.amazonaws.logs.DATA_MESSAGE"
        assert event["subject"] == "testLogStream"
        assert event["time"] == ms_to_rfc3339(log_event["timestamp"])
        assert event["data"] == log_event
    assert events[1]["time"] == "2015-08-24T19:03:07.001Z"


# ---------------------------------------------------------------- HTTP-sourced events

@pytest.mark.parametrize("name", [n for n, (k, _) in EXPECTED.items() if k == "apigw-v1"])
def test_api_gateway_v1(name: str) -> None:
    source = load(name)
    event = converted(name)
    context = source["requestContext"]
    assert event["id"] == context["requestId"]
    assert event["source"] == context["domainName"] + source["path"]
    assert event["type"] == "com.amazonaws.apigateway.request"
    assert event["subject"] == source["path"]
    assert event["time"] == ms_to_rfc3339(context["requestTimeEpoch"])
    assert event["data"] == source


@pytest.mark.parametrize(
    "name", [n for n, (k, _) in EXPECTED.items() if k in ("apigw-v2", "function-url")]
)
def test_api_gateway_v2_and_function_url(name: str) -> None:
    source = load(name)
    event = converted(name)
    context = source["requestContext"]
    assert event["id"] == context["requestId"]
    assert event["source"] == context["domainName"] + source["rawPath"]
    assert event["type"] == "com.amazonaws.apigateway.request"
    assert event["subject"] == source["rawPath"]
    assert event["time"] == ms_to_rfc3339(context["timeEpoch"])
    assert event["data"] == source


def test_api_gateway_literal_values() -> None:
    event = converted("apigw-v1-proxy-request-captured-no-auth.json")
    assert event["id"] == "f88e38e3-2060-4a56-93c0-9efbc6a659a0"
    assert event["source"] == "puhdx84jy9.execute-api.eu-west-1.amazonaws.com/no-auth"
    assert event["time"] == "2024-06-17T14:48:13.506Z"
    url = converted("function-url-request-captured-cookies-text-body.json")
    assert url["source"] == "lambda-url-id.lambda-url.us-west-2.on.aws/hello"


@pytest.mark.parametrize("name", [n for n, (k, _) in EXPECTED.items() if k == "alb"])
def test_alb(name: str) -> None:
    source = load(name)
    event = converted(name)
    headers = source.get("headers") or {k: v[0] for k, v in source["multiValueHeaders"].items()}
    assert event["id"] == headers["x-amzn-trace-id"]
    assert event["source"] == source["requestContext"]["elb"]["targetGroupArn"]
    assert event["type"] == "com.amazonaws.elasticloadbalancing.request"
    assert event["subject"] == source["path"]
    assert "time" not in event  # ALB events carry no timestamp
    assert event["data"] == source
