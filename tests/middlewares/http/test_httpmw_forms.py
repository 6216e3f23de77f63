"""Form bodies parsed to JSON for the handler (`form`, beside the raw `body`), from each
source, as real clients encode them (httpx builds the bodies); bodies that cannot be read
are answered with a 4xx in the source's shape, saying what is wrong."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from aws_http import hooks
from aws_http.multipart import parse_multipart
from aws_http.settings import ConfigError, FormLimits, settings_from
from http_support import header, request_event

FORMS = settings_from({"HTTP_PARSE_FORMS": "1"})
# Each source, with the body as that source sends it: plain text, or base64 (Function URLs
# and ALB base64 every body that is not text; we send both ways).
SOURCES = {
    "apigw-v1-proxy-request.json": False,
    "apigw-v2-http-request-captured-post.json": False,
    "function-url-request-captured-base64-body.json": True,
    "alb-request-base64-body.json": True,
    "alb-request-single-value-headers.json": False,
}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def encoded(data: dict[str, Any] | None = None, files: Any = None) -> tuple[bytes, str]:
    """(body, Content-Type) as httpx sends a form."""
    request = httpx.Request("POST", "https://example.com/", data=data, files=files)
    return request.read(), request.headers["content-type"]


def send(fixture: str, body: bytes, content_type: str, as_base64: bool,
         settings: Any = FORMS) -> hooks.HookOutput:
    # A source that sends text hands over the body's characters: the bytes must be UTF-8.
    text = base64.b64encode(body).decode() if as_base64 else body.decode("utf-8")
    event = request_event(fixture, method="POST", headers={"Content-Type": content_type},
                          body=text, is_base64=as_base64)
    return hooks.before(event, settings, "req-1")


def form_of(fixture: str, body: bytes, content_type: str, as_base64: bool) -> dict[str, Any]:
    out = send(fixture, body, content_type, as_base64)
    assert not out.respond, out.payload
    request = json.loads(out.payload)
    assert list(request)[-3:] == ["isBase64Encoded", "form", "requestContext"]
    return request


@pytest.mark.parametrize(("fixture", "as_base64"), SOURCES.items())
def test_urlencoded_fields_become_lists(fixture: str, as_base64: bool) -> None:
    body, content_type = encoded({"name": "Ada Lovelace", "tags": ["a", "b&c=d"], "empty": "", "città": "Torino ✓"})
    assert content_type == "application/x-www-form-urlencoded"
    request = form_of(fixture, body, content_type, as_base64)
    assert request["form"] == {"name": ["Ada Lovelace"], "tags": ["a", "b&c=d"], "empty": [""],
                               "città": ["Torino ✓"]}
    assert request["body"] == body.decode()  # the raw body is still there


@pytest.mark.parametrize(("fixture", "as_base64"), SOURCES.items())
def test_multipart_fields_and_files(fixture: str, as_base64: bool) -> None:
    files = [("notes", ("notes.txt", "line 1\r\nline 2\n", "text/plain")),
             ("photo", ("naïve.txt", "ça va", "text/plain")),
             ("photo", ("empty.bin", b"", "application/octet-stream"))]
    if as_base64:  # bytes that are not UTF-8 only travel base64
        files.append(("icon", ("icon.png", PNG, "image/png")))
    body, content_type = encoded({"title": "Hello, world", "tag": ["x", "y"]}, files)
    assert content_type.startswith("multipart/form-data; boundary=")
    request = form_of(fixture, body, content_type, as_base64)
    expected = {
        "title": ["Hello, world"],
        "tag": ["x", "y"],
        "notes": [{"filename": "notes.txt", "contentType": "text/plain", "size": 15,
                   "content": "line 1\r\nline 2\n", "isBase64Encoded": False}],
        "photo": [{"filename": "naïve.txt", "contentType": "text/plain", "size": 6,
                   "content": "ça va", "isBase64Encoded": False},
                  {"filename": "empty.bin", "contentType": "application/octet-stream", "size": 0,
                   "content": "", "isBase64Encoded": False}],
    }
    if as_base64:
        expected["icon"] = [{"filename": "icon.png", "contentType": "image/png", "size": len(PNG),
                             "content": base64.b64encode(PNG).decode(), "isBase64Encoded": True}]
    assert request["form"] == expected
    # The raw body stays reachable: base64 when it holds bytes that are not UTF-8.
    assert request["isBase64Encoded"] is as_base64
    assert (base64.b64decode(request["body"]) if as_base64 else request["body"].encode()) == body


def test_other_bodies_have_a_null_form_and_no_form_key_when_off() -> None:
    request = json.loads(hooks.before(request_event("apigw-v2-http-request.json"), FORMS).payload)
    assert request["form"] is None and json.loads(request["body"])["message"] == "hello world"
    body, content_type = encoded({"a": "1"})
    off = json.loads(send("apigw-v2-http-request.json", body, content_type, False, settings_from({})).payload)
    assert "form" not in off and off["body"] == "a=1"


def test_urlencoded_edge_cases() -> None:
    request = form_of("apigw-v2-http-request.json", b"flag&a=1=2&%zz=%41+b&=empty-name",
                      "Application/X-WWW-Form-URLEncoded; charset=UTF-8", False)
    assert request["form"] == {"flag": [""], "a": ["1=2"], "%zz": ["A b"], "": ["empty-name"]}


def test_a_form_body_in_another_charset() -> None:
    request = form_of("apigw-v1-proxy-request.json", "name=Jos%E9&city=M\xe1laga".encode("latin-1"),
                      "application/x-www-form-urlencoded; charset=ISO-8859-1", True)
    assert request["form"] == {"name": ["José"], "city": ["Málaga"]}


def multipart(*parts: bytes, boundary: bytes = b"XyZ", close: bool = True) -> bytes:
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return body + (b"--" + boundary + b"--\r\n" if close else b"")


def test_multipart_details_that_real_bodies_have() -> None:
    body = (b"a preamble to ignore\r\n--XyZ  \r\n"  # transport padding after the boundary
            b'Content-Disposition: form-data; name="semi;colon"; filename="C:\\dir\\a \\"b\\".txt"\r\n\r\n'
            b"text\r\n--XyZ-not-a-boundary\r\nstill content\r\n"
            b"--XyZ\r\ncontent-disposition: form-data; name=raw\r\ncontent-type: application/octet-stream\r\n\r\n\xff\xfe"
            b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"; filename*=UTF-8''%E2%9C%93.txt\r\n\r\n"
            b"\r\n--XyZ--\r\nan epilogue to ignore")
    form = parse_multipart(body, "XyZ", FormLimits())
    assert form["semi;colon"] == [{"filename": 'C:\\dir\\a "b".txt', "contentType": "text/plain", "size": 41,
                                   "content": "text\r\n--XyZ-not-a-boundary\r\nstill content",
                                   "isBase64Encoded": False}]
    # Bytes without a filename are kept as a file with filename null, never lost or mangled.
    assert form["raw"] == [{"filename": None, "contentType": "application/octet-stream", "size": 2,
                            "content": "//4=", "isBase64Encoded": True}]
    assert form["f"][0]["filename"] == "✓.txt"


@pytest.mark.parametrize(("body", "content_type", "status", "message"), [
    (b"a=%FF", "application/x-www-form-urlencoded",
     400, "form body: a percent-encoded name or value is not valid utf-8"),
    (b"a=1", "application/x-www-form-urlencoded; charset=klingon",
     415, "charset 'klingon' of the form body is not supported"),
    (b"a=1&" * 1001, "application/x-www-form-urlencoded",
     413, "form body has more than 1000 fields (HTTP_FORM_MAX_FIELDS)"),
    (b"--XyZ--", "multipart/form-data", 400, "Content-Type multipart/form-data has no boundary parameter"),
    (b"--XyZ--", 'multipart/form-data; boundary="XyZ', 400, "Content-Type: parameter 'boundary' has a quoted"),
    (b"no boundary here", "multipart/form-data; boundary=XyZ", 400, "multipart body has no boundary line --XyZ"),
    (multipart(b'Content-Disposition: form-data; name="a"\r\n\r\n1', close=False),
     "multipart/form-data; boundary=XyZ", 400, "multipart body ends before its closing boundary --XyZ--"),
    (b'--XyZ\nContent-Disposition: form-data; name="a"\n\n1\n--XyZ--\n', "multipart/form-data; boundary=XyZ",
     400, "multipart body: a boundary line --XyZ does not end in CRLF"),
    (multipart(b"Content-Type: text/plain\r\n\r\n1"), "multipart/form-data; boundary=XyZ",
     400, "multipart part 1 has no Content-Disposition header"),
    (multipart(b'Content-Disposition: form-data; name="a"\r\n\r\n1', b"Content-Disposition form-data\r\n\r\n2"),
     "multipart/form-data; boundary=XyZ", 400, "multipart part 2: header line b'Content-Disposition form-data'"),
    (multipart(b"Content-Disposition: attachment; filename=a\r\n\r\n1"), "multipart/form-data; boundary=XyZ",
     400, "multipart part 1: Content-Disposition must be form-data with a name"),
    (multipart(b'Content-Disposition: form-data; name="a"'), "multipart/form-data; boundary=XyZ",
     400, "multipart part 1: its headers do not end with an empty line"),
    (multipart(*[b'Content-Disposition: form-data; name="a"\r\n\r\n'] * 1001), "multipart/form-data; boundary=XyZ",
     413, "multipart body has more than 1000 parts (HTTP_FORM_MAX_FIELDS)"),
])
def test_unreadable_forms_are_answered_with_a_4xx(body: bytes, content_type: str, status: int, message: str) -> None:
    out = send("apigw-v2-http-request-captured-post.json", body, content_type, True)
    assert out.respond  # answered in `before`: the handler never sees it
    response = json.loads(out.payload)
    assert response["statusCode"] == status
    error = json.loads(response["body"])
    assert error["errorType"] == "HTTP.InvalidForm" and error["requestId"] == "req-1"
    assert error["errorMessage"].startswith(message), error["errorMessage"]
    assert out.warnings[0].startswith("rejected the request body (")


@pytest.mark.parametrize("fixture", sorted(SOURCES))
def test_the_answer_has_the_source_shape_and_the_configured_headers(fixture: str) -> None:
    config = settings_from({"HTTP_PARSE_FORMS": "1", "HTTP_CORS_ORIGINS": "*", "HTTP_SECURITY_HEADERS": "1"})
    out = send(fixture, b"--XyZ\r\n", "multipart/form-data; boundary=XyZ", False, config)
    response = json.loads(out.payload)
    assert response["statusCode"] == 400
    assert header(response, "Content-Type") == "application/json"
    assert header(response, "Access-Control-Allow-Origin") == "*"
    assert header(response, "X-Content-Type-Options") == "nosniff"
    if "statusDescription" in response:
        assert response["statusDescription"] == "400 Bad Request"


def test_the_file_size_limit() -> None:
    limits = FormLimits(max_file_bytes=10)
    fits = multipart(b'Content-Disposition: form-data; name="f"; filename="a"\r\n\r\n' + b"x" * 10)
    assert parse_multipart(fits, "XyZ", limits)["f"][0]["size"] == 10
    over = multipart(b'Content-Disposition: form-data; name="f"; filename="a"\r\n\r\n' + b"x" * 11)
    config = settings_from({"HTTP_PARSE_FORMS": "1", "HTTP_FORM_MAX_FILE_BYTES": "10"})
    response = json.loads(send("apigw-v1-proxy-request.json", over, "multipart/form-data; boundary=XyZ",
                               True, config).payload)
    assert response["statusCode"] == 413
    assert json.loads(response["body"])["errorMessage"] == (
        "multipart part 1 ('f') is 11 bytes, over the limit of 10 (HTTP_FORM_MAX_FILE_BYTES)")


@pytest.mark.parametrize(("env", "message"), [
    ({"HTTP_PARSE_FORMS": "1", "HTTP_FORM_MAX_FIELDS": "0"}, "HTTP_FORM_MAX_FIELDS must be an integer >= 1, got '0'"),
    ({"HTTP_PARSE_FORMS": "1", "HTTP_FORM_MAX_FILE_BYTES": "4MB"}, "HTTP_FORM_MAX_FILE_BYTES must be an integer >= 0"),
    ({"HTTP_FORM_MAX_FIELDS": "10"}, "HTTP_FORM_MAX_FIELDS is set but HTTP_PARSE_FORMS is not on"),
])
def test_bad_form_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message):
        settings_from(env)
