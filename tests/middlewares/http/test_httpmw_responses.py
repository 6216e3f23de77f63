"""`after`: the handler's response becomes exactly the response shape of the source that
sent the request (compared with the *-response.json fixtures), for all four sources."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aws_http import InvalidResponseError, after, before
from http_support import HTTP_FIXTURES, SHAPES, load, raw

FIXTURE_RESPONSES = {
    "apigw-v1": "apigw-v1-proxy-response.json",
    "apigw-v2": "apigw-v2-http-response.json",
    "function-url": "function-url-response.json",
    "alb-multi": "alb-response.json",
    "alb-single": "alb-response.json",
}


def shape_key(state: dict[str, Any]) -> str:
    if state["source"] != "alb":
        return state["source"]
    return "alb-multi" if state["albMultiValueHeaders"] else "alb-single"


def handler(request: dict[str, Any]) -> dict[str, Any]:
    """A handler written once against the normalized request, for every source."""
    return {
        "status": 201,
        "headers": {"Content-Type": "application/json", "X-Many": ["1", "2"], "X-Num": 7},
        "cookies": ["session=abc; HttpOnly", "theme=dark"],
        "body": {"method": request["method"], "path": request["path"],
                 "query": request["query"], "echo": request["body"]},
    }


def round_trip(name: str, respond: Any = handler) -> tuple[dict[str, Any], dict[str, Any]]:
    out = before(raw(name))
    request = json.loads(out.payload)
    response = respond(request)
    payload = response if isinstance(response, bytes) else json.dumps(response).encode()
    shaped = after(payload, out.state)
    return json.loads(shaped.payload), out.state


@pytest.mark.parametrize("name", sorted(HTTP_FIXTURES))
def test_round_trip_gives_the_source_shape(name: str) -> None:
    response, state = round_trip(name)
    key = shape_key(state)
    assert list(response) == SHAPES[key]
    # Every key the real-world response fixture uses is ours too (the v2 fixture's
    # multiValueHeaders is not part of payload 2.0, and the ALB fixture shows both maps).
    fixture_keys = set(load(FIXTURE_RESPONSES[key])) - {"multiValueHeaders", "headers"}
    assert fixture_keys <= set(response)
    assert response["statusCode"] == 201
    assert response["isBase64Encoded"] is False
    body = json.loads(response["body"])
    request = load(name)
    assert body["method"] == (request.get("httpMethod") or request["requestContext"]["http"]["method"])
    if key in ("apigw-v2", "function-url"):
        assert response["headers"] == {"Content-Type": "application/json", "X-Many": "1, 2", "X-Num": "7"}
        assert response["cookies"] == ["session=abc; HttpOnly", "theme=dark"]
    elif key in ("apigw-v1", "alb-multi"):
        assert response["multiValueHeaders"] == {
            "Content-Type": ["application/json"], "X-Many": ["1", "2"], "X-Num": ["7"],
            "Set-Cookie": ["session=abc; HttpOnly", "theme=dark"],
        }
        if key == "apigw-v1":
            assert response["headers"]["X-Many"] == "2"  # last value, as API Gateway keeps
        else:
            assert response["statusDescription"] == "201 Created"
    else:
        assert response["headers"] == {"Content-Type": "application/json", "X-Many": "1, 2",
                                       "X-Num": "7", "Set-Cookie": "theme=dark"}


def test_alb_single_value_mode_warns_when_cookies_are_dropped() -> None:
    out = before(raw("alb-request-single-value-headers.json"))
    shaped = after(json.dumps({"statusCode": 200, "cookies": ["a=1", "b=2"]}).encode(), out.state)
    assert json.loads(shaped.payload)["headers"] == {"Set-Cookie": "b=2"}
    assert shaped.warnings and "only the last of 2 Set-Cookie" in shaped.warnings[0]


# ---------------------------------------------------------------- fixture responses as handler output

def test_v1_fixture_response_comes_out_as_is() -> None:
    fixture = load("apigw-v1-proxy-response.json")
    response, _ = round_trip("apigw-v1-proxy-request.json", lambda _: fixture)
    assert response == {**fixture, "isBase64Encoded": False}


def test_function_url_fixture_response_comes_out_as_is() -> None:
    fixture = load("function-url-response.json")
    response, _ = round_trip("function-url-request-iam.json", lambda _: fixture)
    assert response == fixture


def test_v2_fixture_response_moves_its_set_cookie_into_cookies() -> None:
    fixture = load("apigw-v2-http-response.json")
    response, _ = round_trip("apigw-v2-http-request.json", lambda _: fixture)
    assert response == {
        "statusCode": 200, "headers": {"Content-Type": "application/json"},
        # payload 2.0 has no multiValueHeaders: its Set-Cookie would be lost, so it moves.
        "cookies": ["session=abc123; Secure; HttpOnly", "cookie1=value1"],
        "body": '{"message":"OK"}', "isBase64Encoded": False,
    }


def test_alb_fixture_response_in_multi_value_mode() -> None:
    fixture = load("alb-response.json")
    response, _ = round_trip("alb-request-multivalue-headers.json", lambda _: fixture)
    assert response == {
        "statusCode": 200, "statusDescription": "200 OK",
        "multiValueHeaders": {"Content-Type": ["application/json"],
                              "Set-Cookie": fixture["multiValueHeaders"]["Set-cookie"]},
        "body": "Hello from Lambda", "isBase64Encoded": False,
    }


# ---------------------------------------------------------------- bodies

BINARY = bytes(range(256))


@pytest.mark.parametrize("name", ["apigw-v1-proxy-request.json", "apigw-v2-http-request.json",
                                  "alb-request-base64-body.json", "function-url-request-iam.json"])
def test_binary_bodies_are_base64_with_the_flag(name: str) -> None:
    for reply in ({"statusCode": 200, "bodyBase64": base64.b64encode(BINARY).decode()},
                  {"statusCode": 200, "body": base64.b64encode(BINARY).decode(), "isBase64Encoded": True}):
        response, _ = round_trip(name, lambda _, r=reply: r)
        assert response["isBase64Encoded"] is True
        assert base64.b64decode(response["body"]) == BINARY


def test_binary_request_body_round_trips_to_a_binary_response() -> None:
    event = load("alb-request-base64-body.json")
    event["body"] = base64.b64encode(BINARY).decode()
    out = before(json.dumps(event).encode())
    request = json.loads(out.payload)
    assert request["isBase64Encoded"] is True
    reply = {"statusCode": 200, "bodyBase64": request["body"]}
    response = json.loads(after(json.dumps(reply).encode(), out.state).payload)
    assert base64.b64decode(response["body"]) == BINARY and response["isBase64Encoded"] is True


@pytest.mark.parametrize(
    ("reply", "status", "body", "content_type"),
    [
        ({"hello": "world"}, 200, '{"hello": "world"}', "application/json"),  # no statusCode: inferred
        ("plain", 200, '"plain"', "application/json"),
        (b"not json \xff", 200, None, "application/octet-stream"),
        (b"just text", 200, "just text", "text/plain; charset=utf-8"),
        ({"statusCode": "404", "body": None}, 404, "", None),
        ({"statusCode": 200, "body": [1, 2]}, 200, "[1,2]", "application/json"),
    ],
)
def test_lenient_responses(reply: Any, status: int, body: str | None, content_type: str | None) -> None:
    response, _ = round_trip("function-url-request-iam.json", lambda _: reply)
    assert response["statusCode"] == status
    if body is not None:
        assert response["body"] == body
    assert response["headers"].get("Content-Type") == content_type


def test_empty_and_null_header_values_are_dropped() -> None:
    reply = {"statusCode": 204, "headers": {"X-Empty": [], "X-Null": None, "X-Ok": "1"}}
    response, _ = round_trip("apigw-v1-proxy-request.json", lambda _: reply)
    assert response["multiValueHeaders"] == {"X-Ok": ["1"]}
    assert response["headers"] == {"X-Ok": "1"}


def test_unknown_status_gets_a_bare_description() -> None:
    response, _ = round_trip("alb-request-multivalue-headers.json", lambda _: {"statusCode": 299})
    assert response["statusDescription"] == "299"


@pytest.mark.parametrize(
    ("reply", "field"),
    [
        ({"statusCode": "ok"}, "statusCode"),
        ({"status": 99}, "status"),
        ({"statusCode": 200, "headers": {"X": {"nested": 1}}}, "headers.X"),
        ({"statusCode": 200, "headers": ["X"]}, "headers"),
        ({"statusCode": 200, "cookies": "a=1"}, "cookies"),
        ({"statusCode": 200, "bodyBase64": "%%%"}, "bodyBase64"),
        ({"statusCode": 200, "body": "Hello!", "isBase64Encoded": True}, "body"),
    ],
)
def test_invalid_responses_name_the_field(reply: Any, field: str) -> None:
    out = before(raw("apigw-v2-http-request.json"))
    with pytest.raises(InvalidResponseError) as caught:
        after(json.dumps(reply).encode(), out.state)
    assert caught.value.field == field
    assert f"field '{field}'" in str(caught.value)


@pytest.mark.parametrize("state", [None, {}, {"source": None}, "garbage"])
def test_without_an_http_source_the_response_passes_through(state: Any) -> None:
    payload = b'{"batchItemFailures": []}'
    assert after(payload, state).payload == payload


def test_a_streamed_http_prelude_reads_and_writes_back_the_same() -> None:
    """The HTTP integration stream (`HttpResponseStream.from`): JSON prelude, 8 NULs, body;
    read into a response and written back, binary bodies included."""
    from aws_http.response import from_prelude, parse, to_prelude

    streamed = b'{"statusCode":404,"headers":{"x-a":"1"},"cookies":["c=2"]}' + b"\x00" * 8 + b"not \x00 here"
    response = parse(streamed, "application/vnd.awslambda.http-integration-response")
    assert (response.status, response.cookies, response.body) == (404, ["c=2"], "not \x00 here")
    assert dict(response.header_items()) == {"x-a": ["1"]}
    again = from_prelude(to_prelude(response))
    assert (again.status, again.cookies, again.body, dict(again.header_items())) == \
        (404, ["c=2"], "not \x00 here", {"x-a": ["1"]})
    binary = from_prelude(b'{"statusCode":200}' + b"\x00" * 8 + b"\xff\xfe")
    assert binary.body == b"\xff\xfe" and to_prelude(binary).endswith(b"\x00" * 8 + b"\xff\xfe")


def test_a_prelude_without_its_delimiter_is_refused_by_name() -> None:
    from aws_http.errors import InvalidResponseError
    from aws_http.response import from_prelude

    with pytest.raises(InvalidResponseError) as refused:
        from_prelude(b'{"statusCode":200} no delimiter')
    assert refused.value.field == "prelude" and "8 NUL bytes" in str(refused.value)
