"""Security headers: the default set on every response `after` and `error` make, each
replaceable or removable from the environment, never over a header the handler set."""

from __future__ import annotations

import json

import pytest
from aws_http import hooks
from aws_http.security import DEFAULT_SECURITY_HEADERS
from aws_http.settings import ConfigError, settings_from
from http_support import header, request_event

SOURCES = ["apigw-v1-proxy-request.json", "apigw-v2-http-request.json", "function-url-request-iam.json",
           "alb-request-multivalue-headers.json", "alb-request-single-value-headers.json"]
ON = {"HTTP_SECURITY_HEADERS": "1"}


def responses(fixture: str, env: dict[str, str], reply: dict[str, object] | None = None) -> list[dict]:
    config = settings_from(env)
    state = hooks.before(request_event(fixture), config).state
    shaped = hooks.after(json.dumps(reply or {"statusCode": 200, "body": "ok"}).encode(), state, None, config)
    failed = hooks.error(b'{"errorType": "ValueError", "errorMessage": "x"}', state, "id", settings=config)
    return [json.loads(shaped.payload), json.loads(failed.payload)]


@pytest.mark.parametrize("fixture", SOURCES)
def test_the_defaults_are_on_every_response_when_asked(fixture: str) -> None:
    for response in responses(fixture, ON):
        for name, value in DEFAULT_SECURITY_HEADERS.items():
            assert header(response, name) == value, name
    assert header(responses(fixture, {})[0], "X-Content-Type-Options") is None  # off by default


def test_the_default_set() -> None:
    assert DEFAULT_SECURITY_HEADERS == {
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "frame-ancestors 'none'",
        "Referrer-Policy": "no-referrer",
    }


def test_each_header_can_be_replaced_removed_or_added() -> None:
    env = {**ON, "HTTP_SECURITY_HEADER_REFERRER_POLICY": "strict-origin-when-cross-origin",
           "HTTP_SECURITY_HEADER_X_FRAME_OPTIONS": "",
           "HTTP_SECURITY_HEADER_CACHE_CONTROL": "no-store"}
    response = responses("apigw-v2-http-request.json", env)[0]
    assert response["headers"]["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert header(response, "X-Frame-Options") is None
    assert response["headers"]["Cache-Control"] == "no-store"
    assert header(response, "Strict-Transport-Security") == DEFAULT_SECURITY_HEADERS["Strict-Transport-Security"]


def test_a_single_header_without_the_defaults() -> None:
    response = responses("apigw-v1-proxy-request.json", {"HTTP_SECURITY_HEADER_X_CONTENT_TYPE_OPTIONS": "nosniff"})[0]
    assert response["multiValueHeaders"]["X-Content-Type-Options"] == ["nosniff"]
    assert header(response, "Strict-Transport-Security") is None


def test_never_over_a_header_the_handler_set() -> None:
    reply = {"statusCode": 200, "headers": {"x-frame-options": "SAMEORIGIN",
                                            "Content-Security-Policy": "default-src 'self'"}}
    response = responses("function-url-request-iam.json", ON, reply)[0]
    assert response["headers"]["x-frame-options"] == "SAMEORIGIN"
    assert response["headers"]["Content-Security-Policy"] == "default-src 'self'"
    assert "X-Frame-Options" not in response["headers"]


@pytest.mark.parametrize(("env", "message"), [
    ({"HTTP_SECURITY_HEADERS": "sure"}, "HTTP_SECURITY_HEADERS must be 1 or 0"),
    ({"HTTP_SECURITY_HEADER_X_FRAME_OPTIONS": "DENY\r\nSet-Cookie: a=1"},
     "HTTP_SECURITY_HEADER_X_FRAME_OPTIONS must be one line of printable text"),
    ({"HTTP_SECURITY_HEADER_X__Y": "1"}, "HTTP_SECURITY_HEADER_X__Y: 'X--Y' is not a header name"),
])
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message):
        settings_from(env)
