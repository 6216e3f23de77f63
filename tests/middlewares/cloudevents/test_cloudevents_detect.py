"""Shapes the fixtures do not cover, detected as the reference's table says (first match
wins), so that they are never mistaken for a mapped source."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cloudevents import Options, convert_event, detect

CASES: list[tuple[str, Any]] = [
    ("websocket", {"requestContext": {"connectionId": "c1", "eventType": "MESSAGE", "routeKey": "$default"},
                   "body": "hi"}),
    ("apigw-authorizer", {"type": "TOKEN", "methodArn": "arn:aws:execute-api:x", "authorizationToken": "t"}),
    ("apigw-authorizer", {"type": "REQUEST", "methodArn": "arn:aws:execute-api:x", "httpMethod": "GET",
                          "requestContext": {"stage": "prod"}}),
    ("apigw-authorizer", {"version": "2.0", "type": "REQUEST", "routeArn": "arn:aws:execute-api:x",
                          "requestContext": {"http": {"method": "GET"}}}),
    ("vpc-lattice", {"version": "2.0", "method": "GET", "path": "/",
                     "requestContext": {"serviceNetworkArn": "arn:aws:vpc-lattice:x"}}),
    ("cloudfront", {"Records": [{"cf": {"config": {"eventType": "viewer-request"}, "request": {}}}]}),
    ("mq", {"eventSource": "aws:amq", "messages": []}),
    ("mq", {"eventSource": "aws:rmq", "rmqMessagesByQueue": {}}),
    ("cloudformation", {"RequestType": "Create", "ResponseURL": "https://x", "StackId": "s",
                        "ResourceType": "Custom::X", "LogicalResourceId": "R"}),
    ("secretsmanager", {"SecretId": "s", "ClientRequestToken": "t", "Step": "createSecret"}),
    ("s3-batch", {"invocationSchemaVersion": "2.0", "tasks": [], "job": {"id": "j"}}),
    ("cloudevent", {"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}),
    ("unknown", {"Records": []}),
    ("unknown", {"Records": [{"eventSource": "aws:somethingnew"}]}),
    ("unknown", [1, 2]),
    ("unknown", "just a string"),
    ("unknown", None),
]


@pytest.mark.parametrize(("kind", "event"), CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
def test_detection(kind: str, event: Any) -> None:
    assert detect(event) == kind


@pytest.mark.parametrize(("kind", "event"), CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
def test_unmapped_shapes_are_never_converted(kind: str, event: Any) -> None:
    conversion = convert_event(event, Options())
    assert conversion.mode == "passthrough" and conversion.event is None


def test_eventbridge_without_resources_or_time() -> None:
    event = {"version": "0", "id": "e1", "detail-type": "Order Placed", "source": "com.shop.orders",
             "account": "1", "region": "eu-west-1", "resources": [], "detail": {"n": 1}}
    converted = convert_event(event, Options()).event
    assert converted == {"specversion": "1.0", "id": "e1", "source": "com.shop.orders",
                         "type": "Order Placed", "datacontenttype": "application/json",
                         "account": "1", "region": "eu-west-1", "data": {"n": 1}}


def test_kinesis_json_payload_and_microsecond_time() -> None:
    record = {"eventSource": "aws:kinesis", "eventID": "shardId-0:1", "eventName": "aws:kinesis:record",
              "eventSourceARN": "arn:aws:kinesis:us-east-1:1:stream/s",
              "kinesis": {"partitionKey": "p", "sequenceNumber": "1", "data": "eyJhIjogMX0=",
                          "approximateArrivalTimestamp": 1480641523.123456}}
    [event] = convert_event({"Records": [record]}, Options()).event
    assert event["data"] == {"a": 1} and event["datacontenttype"] == "application/json"
    assert event["time"] == "2016-12-02T01:18:43.123456Z"
