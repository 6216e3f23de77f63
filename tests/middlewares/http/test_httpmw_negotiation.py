"""Error responses in the media type the client accepts: JSON by default, text/plain,
and text/html when configured; never a 406 instead of the error."""

from __future__ import annotations

import json

import pytest
from aws_http import hooks
from aws_http.negotiate import choose, parse_accept, render
from aws_http.settings import ConfigError, settings_from
from http_support import header, request_event

ALL = ("application/json", "text/plain", "text/html")
DEFAULT = ("application/json", "text/plain")
BROWSER = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
           "*/*;q=0.8,application/signed-exchange;v=b3;q=0.9")  # function-url-request-browser-get.json
FAILURE = b'{"errorType": "ValueError", "errorMessage": "bad <script>alert(1)</script>"}'


@pytest.mark.parametrize(("accept", "offered", "chosen"), [
    (None, ALL, "application/json"),
    ("", ALL, "application/json"),
    ("*/*", ALL, "application/json"),                       # a tie goes to the first offered
    ("text/plain", ALL, "text/plain"),
    ("text/*", ALL, "text/plain"),
    ("text/*;q=0.5, application/json;q=0.4", ALL, "text/plain"),
    ("text/plain;q=0, */*", ALL, "application/json"),
    ("*/*;q=0.1, text/html", ALL, "text/html"),
    (BROWSER, ALL, "text/html"),
    (BROWSER, DEFAULT, "application/json"),                 # */*;q=0.8 for both: the first
    ("image/png", ALL, "application/json"),                 # nothing acceptable: JSON anyway, no 406
    ("application/json;q=0", DEFAULT, "application/json"),  # even refused outright
    ("text/html;q=2, text/plain;q=x, garbage, /x", ALL, "application/json"),  # malformed ranges skipped
    ("TEXT/PLAIN", ALL, "text/plain"),
])
def test_choose(accept: str | None, offered: tuple[str, ...], chosen: str) -> None:
    assert choose(accept, offered) == chosen


def test_the_most_specific_range_decides() -> None:
    assert choose("text/*;q=1, text/plain;q=0", ALL) == "text/html"
    assert choose("*/*;q=0.9, application/json;q=0.1", ("application/json", "text/plain")) == "text/plain"


def test_accept_is_read_within_bounds() -> None:
    huge = ",".join(["x/y"] * 100_000) + ",text/plain"
    assert len(parse_accept(huge)) == 64
    assert choose(huge, ALL) == "application/json"


def test_rendered_bodies() -> None:
    fields = {"message": "Bad Request", "requestId": None, "errorType": "T", "errorMessage": "<b>&</b>"}
    body, content_type = render("text/plain", "400 Bad Request", fields)
    assert (body, content_type) == ("Bad Request\nerrorType: T\nerrorMessage: <b>&</b>\n", "text/plain; charset=utf-8")
    body, content_type = render("text/html", "400 Bad Request", fields)
    assert content_type == "text/html; charset=utf-8"
    assert "<title>400 Bad Request</title>" in body and "&lt;b&gt;&amp;&lt;/b&gt;" in body and "<b>" not in body
    body, content_type = render("application/json", "400 Bad Request", fields)
    assert json.loads(body) == fields and content_type == "application/json"


@pytest.mark.parametrize("fixture", ["apigw-v1-proxy-request.json", "apigw-v2-http-request.json",
                                     "function-url-request-browser-get.json", "alb-request-multivalue-headers.json",
                                     "alb-request-single-value-headers.json"])
def test_the_error_hook_answers_in_the_accepted_type(fixture: str) -> None:
    config = settings_from({"HTTP_ERROR_MEDIA_TYPES": "application/json,text/plain,text/html",
                            "HTTP_EXPOSE_ERRORS": "1"})
    for accept, content_type in [("text/plain", "text/plain; charset=utf-8"),
                                 ("text/html", "text/html; charset=utf-8"),
                                 ("application/json", "application/json"),
                                 ("image/png", "application/json")]:
        state = hooks.before(request_event(fixture, headers={"Accept": accept}), config).state
        response = json.loads(hooks.error(FAILURE, state, "req-1", settings=config).payload)
        assert response["statusCode"] == 500
        assert header(response, "Content-Type") == content_type
        assert "req-1" in response["body"] and "ValueError" in response["body"]
        if accept == "text/html":
            assert "<script>" not in response["body"]


def test_the_state_holds_the_choice_only_when_not_the_default() -> None:
    config = settings_from({})
    assert "errorMediaType" not in hooks.before(request_event("apigw-v2-http-request.json"), config).state
    state = hooks.before(request_event("apigw-v2-http-request.json", headers={"Accept": "text/plain"}), config).state
    assert state["errorMediaType"] == "text/plain"
    # By default HTML is not offered: a browser gets JSON.
    assert "errorMediaType" not in hooks.before(request_event("function-url-request-browser-get.json"), config).state


def test_a_media_type_no_longer_offered_falls_back_to_the_default() -> None:
    state = {"source": "apigw-v2", "errorMediaType": "text/html"}  # saved under another configuration
    response = json.loads(hooks.error(FAILURE, state, "id", settings=settings_from({})).payload)
    assert response["headers"]["Content-Type"] == "application/json"


def test_bad_media_types_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="^HTTP_ERROR_MEDIA_TYPES: 'application/xml' is not one of"):
        settings_from({"HTTP_ERROR_MEDIA_TYPES": "application/json, application/xml"})
