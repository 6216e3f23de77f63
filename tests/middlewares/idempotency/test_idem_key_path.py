"""The JMESPath subset gives what JMESPath itself gives (the `jmespath` library, as
Powertools uses it, is the reference) on real AWS events, and refuses the rest at start."""

from __future__ import annotations

import json
from typing import Any

import jmespath
import pytest
from aws_fixtures import load
from event_path import KeyPathError, KeyPathSyntaxError, compile_path

CASES = [
    ("apigw-v1-proxy-request.json", "body"),
    ("apigw-v1-proxy-request.json", "requestContext.requestId"),
    ("apigw-v1-proxy-request.json", 'headers."Accept-Encoding"'),
    ("apigw-v1-proxy-request.json", 'multiValueHeaders."Accept-Language"[0]'),
    ("apigw-v1-proxy-request.json", "[requestContext.requestId, httpMethod, path]"),
    ("apigw-v1-proxy-request.json", "requestContext.nothing.here"),
    ("apigw-v2-http-request-captured-post.json", 'headers."content-type"'),
    ("sqs-batch.json", "Records[0].messageId"),
    ("sqs-batch.json", "Records[-1].messageId"),
    ("sqs-batch.json", "Records[7].messageId"),
    ("sqs-batch.json", "Records[0].attributes.SentTimestamp"),
    ("kinesis.json", "Records[0].kinesis.sequenceNumber"),
    ("dynamodb-stream.json", "Records[0].dynamodb.Keys"),
    ("eventbridge-scheduled-event.json", "[id, time]"),
    ("eventbridge-scheduled-event.json", "\"detail-type\""),
    ("s3-put.json", "Records[0].s3.object.key"),
]


@pytest.mark.parametrize(("fixture", "expression"), CASES)
def test_the_subset_agrees_with_jmespath(fixture: str, expression: str) -> None:
    event = load(fixture)
    assert compile_path(expression).search(event) == jmespath.search(expression, event)


def test_powertools_json_and_base64_decode_what_they_select() -> None:
    # Powertools' own functions (powertools_json, powertools_base64), same names and meaning.
    event = load("apigw-v1-proxy-request.json")
    url_event = load("function-url-request-captured-base64-body.json")

    assert compile_path("powertools_json(body)").search(event) == {"a": 1}
    assert compile_path("powertools_json(body).a").search(event) == 1
    assert compile_path("powertools_base64(body)").search(url_event) == "<idk/>"


@pytest.mark.parametrize("body", [None, ""])
def test_a_function_of_no_body_gives_no_key_not_an_error(body: object) -> None:
    """A GET behind API Gateway (`body: null`, or "" once the http middleware has shaped it)
    has no key: IDEMPOTENCY_RAISE_ON_NO_KEY decides what that means, not a KeyError."""
    event = {**load("apigw-v1-proxy-request.json"), "body": body}
    assert compile_path("powertools_json(body).orderId").search(event) is None
    assert compile_path("powertools_base64(body)").search(event) is None


@pytest.mark.parametrize(("expression", "message"), [
    ("powertools_json(headers)", "powertools_json(headers): the argument is an object, not a string"),
    ("powertools_json(path)", "powertools_json(path): the argument is not valid JSON"),
    ("powertools_base64(path)", "powertools_base64(path): the argument is not base64 of UTF-8 text"),
])
def test_a_function_on_the_wrong_input_says_which(expression: str, message: str) -> None:
    with pytest.raises(KeyPathError) as caught:
        compile_path(expression).search(load("apigw-v1-proxy-request.json"))
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(("expression", "message"), [
    ("Records[*].messageId", "unexpected '*' at character 9 of 'Records[*].messageId' (not in the supported subset of JMESPath)"),
    ("a | b", "unexpected '|' at character 3 of 'a | b' (not in the supported subset of JMESPath)"),
    ("a..b", "expected a field name, found '.' at character 3 of 'a..b'"),
    ("Records[", "expected an index, found the end at character 9 of 'Records['"),
    ("[a, b", "expected ']', found the end at character 6 of '[a, b'"),
    ("length(body)", "unexpected '(' at character 7 of 'length(body)' (not in the supported subset of JMESPath)"),
    ("  ", "the expression is empty"),
])
def test_what_is_outside_the_subset_is_refused_with_where(expression: str, message: str) -> None:
    with pytest.raises(KeyPathSyntaxError) as caught:
        compile_path(expression)
    assert str(caught.value) == message


def test_a_multi_select_on_null_is_null() -> None:
    assert compile_path("[a, b]").search(None) is None
    assert compile_path("[a, b]").search({"a": 1}) == [1, None] == jmespath.search("[a, b]", {"a": 1})


def test_quoted_names_take_json_escapes() -> None:
    event: Any = json.loads('{"we\\"ird key": {"x": 1}}')
    assert compile_path('"we\\"ird key".x').search(event) == 1 == jmespath.search('"we\\"ird key".x', event)
