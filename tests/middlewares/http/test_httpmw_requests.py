"""Every fixture through `before`: HTTP events become the documented normalized request,
everything else passes through byte-identical, broken HTTP events fail naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_http import InvalidRequestError, before
from http_support import (
    ALL_FIXTURES,
    HTTP_FIXTURES,
    INVALID_HTTP_FIXTURES,
    MALFORMED,
    load,
    raw,
)

KEYS = ["source", "method", "path", "rawQuery", "query", "headers", "cookies", "pathParameters",
        "stageVariables", "sourceIp", "requestId", "body", "isBase64Encoded", "requestContext"]


def normalized(name: str) -> dict[str, Any]:
    out = before(raw(name))
    return json.loads(out.payload)


def test_every_fixture_is_classified() -> None:
    everything = set(ALL_FIXTURES) | set(MALFORMED)
    assert set(HTTP_FIXTURES) | set(INVALID_HTTP_FIXTURES) <= everything


@pytest.mark.parametrize("name", sorted(set(ALL_FIXTURES) - set(HTTP_FIXTURES) - set(INVALID_HTTP_FIXTURES)
                                        | {"malformed/dynamodb-stream-truncated.json"}))
def test_non_http_events_pass_through_untouched(name: str) -> None:
    out = before(raw(name))
    assert out.payload == raw(name)
    assert out.state is None


@pytest.mark.parametrize("name", sorted(HTTP_FIXTURES))
def test_http_events_have_the_documented_shape(name: str) -> None:
    event = load(name)
    out = before(raw(name))
    request = json.loads(out.payload)
    assert list(request) == KEYS
    assert request["source"] == HTTP_FIXTURES[name]
    assert out.state is not None and out.state["source"] == HTTP_FIXTURES[name]
    assert request["requestContext"] == event["requestContext"]
    assert all(name == name.lower() for name in request["headers"])
    assert all(isinstance(v, list) and all(isinstance(s, str) for s in v)
               for v in [*request["headers"].values(), *request["query"].values()])
    assert isinstance(request["body"], str) and isinstance(request["isBase64Encoded"], bool)


EXPECTED: dict[str, dict[str, Any]] = {
    "apigw-v1-proxy-request.json": {
        "method": "POST", "path": "/hello/world", "rawQuery": "name=me", "query": {"name": ["me"]},
        "cookies": [], "pathParameters": {"proxy": "hello/world"},
        "stageVariables": {"stageVariableName": "stageVariableValue"},
        "sourceIp": "192.168.196.186", "requestId": "deef4878-7910-11e6-8f14-25afc3e9ae33",
        "body": '{\r\n\t"a": 1\r\n}', "isBase64Encoded": False,
    },
    "apigw-v1-proxy-request-multivalue.json": {
        "method": "GET", "path": "/my/path",
        "rawQuery": "parameter1=value1&parameter1=value2&parameter2=value",
        "query": {"parameter1": ["value1", "value2"], "parameter2": ["value"]},
        "headers": {"header1": ["value1"], "origin": ["https://aws.amazon.com"],
                    "header2": ["value1", "value2"]},
        "pathParameters": {}, "stageVariables": {}, "body": "Hello from Lambda!",
    },
    "apigw-v1-proxy-request-captured-no-auth.json": {
        "method": "POST", "path": "/no-auth", "query": {}, "rawQuery": "", "body": "",
        "sourceIp": "15.248.3.126",
    },
    "apigw-v1-proxy-request-console-test-null-headers.json": {
        "headers": {}, "cookies": [], "query": {}, "body": "",
    },
    "apigw-v2-http-request.json": {
        "method": "POST", "path": "/my/path",
        "rawQuery": "parameter1=value1&parameter1=value2&parameter2=value",
        "query": {"parameter1": ["value1", "value2"], "parameter2": ["value"]},
        "headers": {"header1": ["value1"], "header2": ["value1,value2"],
                    "cookie": ["cookie1; cookie2"]},
        "cookies": ["cookie1", "cookie2"], "pathParameters": {"parameter1": "value1"},
        "sourceIp": "192.168.0.1/32", "requestId": "id",
        "body": '{"message": "hello world", "username": "tom"}',
    },
    "apigw-v2-http-request-captured-post.json": {
        "method": "POST", "path": "/lambda", "rawQuery": "", "query": {}, "body": "",
        "cookies": [], "requestId": "ZhNHJhhLjoEEPiw=",
    },
    "apigw-v2-http-request-iam.json": {"method": "GET", "headers": {
        "header1": ["value1"], "header2": ["value2"], "cookie": ["cookie1; cookie2"]}},
    "apigw-v2-http-request-no-authorizer.json": {"method": "GET", "path": "/", "body": ""},
    "function-url-request-captured-cookies-text-body.json": {
        "method": "POST", "path": "/hello", "rawQuery": "hello=world&foo=bar",
        "query": {"hello": ["world"], "foo": ["bar"]},
        "cookies": ["foo=bar", "hello=hello"], "body": '{"hello": "world"}',
    },
    # Base64 on the wire, but the bytes are UTF-8: the handler gets text.
    "function-url-request-captured-base64-body.json": {
        "method": "POST", "path": "/", "body": "<idk/>", "isBase64Encoded": False,
    },
    "function-url-request-browser-get.json": {"method": "GET", "path": "/", "body": "",
                                              "sourceIp": "123.123.123.123"},
    "function-url-request-iam.json": {
        "query": {"parameter1": ["value1", "value2"], "parameter2": ["value"]},
        "cookies": ["cookie1", "cookie2"], "body": "Hello from client!",
    },
    "alb-request-single-value-headers.json": {
        "method": "GET", "path": "/", "rawQuery": "key=hello", "query": {"key": ["hello"]},
        "sourceIp": "25.12.198.67", "requestId": "Root=1-5c34e93e-4dea0086f9763ac0667b115a",
        "pathParameters": {}, "stageVariables": {}, "body": "",
    },
    "alb-request-multivalue-headers.json": {"query": {"key": ["hello"]}, "sourceIp": "72.21.198.67"},
    "alb-request-multivalue-query.json": {
        "path": "/todos", "query": {"parameter1": ["value1", "value2"], "parameter2": ["value"]},
        "rawQuery": "parameter1=value1&parameter1=value2&parameter2=value",
    },
    "alb-request-base64-body.json": {
        "method": "PUT", "path": "/api/binary", "query": {}, "cookies": ["cookies"],
        "body": "Greetings, programs!", "isBase64Encoded": False,
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_normalized_values(name: str) -> None:
    request = normalized(name)
    for key, value in EXPECTED[name].items():
        assert request[key] == value, key


def test_expectations_cover_every_http_fixture() -> None:
    assert sorted(EXPECTED) == sorted(HTTP_FIXTURES)


def test_v1_headers_come_from_the_multi_value_map_lower_cased() -> None:
    request = normalized("apigw-v1-proxy-request.json")
    assert request["headers"]["content-type"] == ["application/json"]
    assert request["headers"]["headername"] == ["headerValue"]
    assert len(request["headers"]) == len(load("apigw-v1-proxy-request.json")["multiValueHeaders"])


def test_function_url_keeps_both_cookie_header_and_cookie_list() -> None:
    request = normalized("function-url-request-captured-cookies-text-body.json")
    assert request["headers"]["cookie"] == ["foo=bar; hello=hello"]  # not duplicated


def test_alb_single_and_multi_value_modes_are_remembered() -> None:
    assert before(raw("alb-request-single-value-headers.json")).state == {
        "source": "alb", "albMultiValueHeaders": False}
    assert before(raw("alb-request-multivalue-headers.json")).state == {
        "source": "alb", "albMultiValueHeaders": True}
    assert before(raw("apigw-v1-proxy-request.json")).state == {"source": "apigw-v1"}


def test_alb_query_values_are_url_decoded() -> None:
    event = load("alb-request-single-value-headers.json")
    event["queryStringParameters"] = {"q": "a%20b+c", "caf%C3%A9": "%E2%9C%93"}
    request = json.loads(before(json.dumps(event).encode()).payload)
    assert request["query"] == {"q": ["a b c"], "café": ["✓"]}
    assert request["rawQuery"] == "q=a%20b+c&caf%C3%A9=%E2%9C%93"


def test_binary_bodies_stay_base64_with_the_flag() -> None:
    event = load("function-url-request-captured-base64-body.json")
    event["body"] = "iVBORw0KGgo="  # PNG signature: not UTF-8
    request = json.loads(before(json.dumps(event).encode()).payload)
    assert request["body"] == "iVBORw0KGgo=" and request["isBase64Encoded"] is True


def test_v1_with_a_real_base64_body_is_decoded() -> None:
    # The gap named in SOURCES.md: derived from the v1 fixture.
    event = load("apigw-v1-proxy-request.json")
    event.update(body="eyJ0ZXN0IjoiYm9keSJ9", isBase64Encoded=True)
    request = json.loads(before(json.dumps(event).encode()).payload)
    assert request["body"] == '{"test":"body"}' and request["isBase64Encoded"] is False


@pytest.mark.parametrize("name", sorted(INVALID_HTTP_FIXTURES))
def test_invalid_http_events_fail_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        before(raw(name))
    assert caught.value.field == INVALID_HTTP_FIXTURES[name]
    assert f"field '{INVALID_HTTP_FIXTURES[name]}'" in str(caught.value)


def test_flag_without_base64_body_says_what_is_wrong() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        before(raw("apigw-v1-proxy-request-base64-flag-nonbase64-body.json"))
    assert str(caught.value).startswith(
        "invalid apigw-v1 event: field 'body' is not valid base64 although isBase64Encoded "
        "is true: 'Hello from Lambda!'"
    )


@pytest.mark.parametrize(
    ("name", "change", "field"),
    [
        ("apigw-v1-proxy-request.json", lambda e: e.update(headers={"A": 1}, multiValueHeaders=None),
         "headers.A"),
        ("apigw-v2-http-request.json", lambda e: e["requestContext"]["http"].pop("method"),
         "requestContext.http.method"),
        ("apigw-v2-http-request.json", lambda e: e.update(cookies="a=1"), "cookies"),
        ("alb-request-single-value-headers.json", lambda e: e.update(isBase64Encoded="yes"),
         "isBase64Encoded"),
        ("alb-request-single-value-headers.json", lambda e: e.update(body=42), "body"),
    ],
)
def test_broken_fields_are_named(name: str, change: Any, field: str) -> None:
    event = load(name)
    change(event)
    with pytest.raises(InvalidRequestError) as caught:
        before(json.dumps(event).encode())
    assert caught.value.field == field
