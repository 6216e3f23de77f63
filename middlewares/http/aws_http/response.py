"""The handler's response, read leniently into one internal form.

Accepted: `status` or `statusCode`; `headers` (values str, number, bool or lists) and
`multiValueHeaders`; `cookies`; `body` as str (or any JSON value, serialized), bytes as
`bodyBase64` or `body` + `isBase64Encoded: true`; `statusDescription` (ALB). A response
that is not such an object becomes a 200 whose body is the response itself, as HTTP API
and Function URLs infer.
"""

from __future__ import annotations

import json
from typing import Any

from aws_events import type_name

from .body import NotBase64, strict_b64decode
from .errors import InvalidResponseError


class Response:
    """status, headers as ordered (name, [values]) with names merged case-insensitively,
    Set-Cookie values in `cookies`, and the body as text or bytes."""

    __slots__ = ("body", "cookies", "description", "headers", "status")

    def __init__(self, status: int, body: str | bytes, description: str | None = None) -> None:
        self.status = status
        self.description = description
        self.headers: dict[str, tuple[str, list[str]]] = {}  # lower name → (name, values)
        self.cookies: list[str] = []
        self.body = body

    def add_header(self, name: str, values: list[str]) -> None:
        if not values:
            return  # `null` or `[]`: nothing to send
        if name.lower() == "set-cookie":
            self.cookies.extend(values)
            return
        _, existing = self.headers.setdefault(name.lower(), (name, []))
        existing.extend(values)

    def has_header(self, name: str) -> bool:
        return name.lower() in self.headers

    def header_items(self) -> list[tuple[str, list[str]]]:
        return list(self.headers.values())


def _status(value: Any, field: str) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():  # not '²' or Arabic-Indic digits
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise InvalidResponseError(field, f"must be an HTTP status code (100-599), got {value!r}")
    return value


def _header_values(value: Any, field: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, (str, int, float)):
            out.append(str(item))
        elif item is not None:
            raise InvalidResponseError(field, f"must be a string, number or list, got {type_name(item)}")
    return out


def _map(response: dict[str, Any], key: str) -> dict[str, Any]:
    value = response.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidResponseError(key, f"must be an object, got {type_name(value)}")
    return value


def _body(response: dict[str, Any]) -> tuple[str | bytes, bool]:
    """(body, serialized) where `serialized` says a JSON value was turned into text."""
    if response.get("bodyBase64") is not None:
        field, text = "bodyBase64", response["bodyBase64"]
    elif response.get("isBase64Encoded") is True:
        field, text = "body", response.get("body")
    else:
        body = response.get("body")
        if body is None:
            return "", False
        if isinstance(body, str):
            return body, False
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")), True
    if not isinstance(text, str):
        raise InvalidResponseError(field, f"must be a base64 string, got {type_name(text)}")
    try:
        return strict_b64decode(text), False
    except NotBase64 as exc:
        raise InvalidResponseError(field, f"is not valid base64 ({exc})") from None


def from_http_object(response: dict[str, Any]) -> Response:
    key = "statusCode" if "statusCode" in response else "status"
    body, serialized = _body(response)
    description = response.get("statusDescription")
    result = Response(_status(response[key], key), body,
                      description if isinstance(description, str) else None)
    multi = _map(response, "multiValueHeaders")
    shadowed = {name.lower() for name in multi}
    # As API Gateway does: a name in both maps takes only the multi-value entry.
    for name, value in _map(response, "headers").items():
        if name.lower() not in shadowed:
            result.add_header(name, _header_values(value, f"headers.{name}"))
    for name, value in multi.items():
        result.add_header(name, _header_values(value, f"multiValueHeaders.{name}"))
    cookies = response.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise InvalidResponseError("cookies", "must be an array of strings")
    result.cookies[:0] = cookies
    if serialized and not result.has_header("content-type"):
        result.add_header("Content-Type", ["application/json"])
    return result


HTTP_INTEGRATION_RESPONSE = "application/vnd.awslambda.http-integration-response"
PRELUDE_DELIMITER = b"\x00" * 8


def from_prelude(payload: bytes) -> Response:
    """A streamed HTTP response as `awslambda.HttpResponseStream.from` writes it: a JSON
    prelude `{statusCode, headers, cookies}`, 8 NUL bytes, then the body."""
    prelude, found, body = payload.partition(PRELUDE_DELIMITER)
    if not found:
        raise InvalidResponseError("prelude", "an HTTP integration response without the 8 NUL bytes "
                                   "that end its JSON prelude")
    try:
        head = json.loads(prelude)
    except (ValueError, RecursionError) as exc:
        raise InvalidResponseError("prelude", f"is not JSON ({exc})") from None
    if not isinstance(head, dict):
        raise InvalidResponseError("prelude", f"must be an object, got {type_name(head)}")
    response = from_http_object({**head, "statusCode": head.get("statusCode", 200), "body": None})
    try:
        response.body = body.decode("utf-8")
    except UnicodeDecodeError:
        response.body = body
    return response


def to_prelude(response: Response) -> bytes:
    """The other way: a response as an HTTP integration stream (prelude, NULs, body), what
    a function URL in RESPONSE_STREAM mode expects from a streaming function."""
    headers = {name: ",".join(values) for name, values in response.header_items()}
    head = {"statusCode": response.status, "headers": headers, "cookies": list(response.cookies)}
    body = response.body.encode("utf-8") if isinstance(response.body, str) else response.body
    return json.dumps(head, separators=(",", ":")).encode() + PRELUDE_DELIMITER + body


def parse(payload: bytes, content_type: str | None = None) -> Response:
    if content_type and content_type.split(";", 1)[0].strip().lower() == HTTP_INTEGRATION_RESPONSE:
        return from_prelude(payload)
    try:
        value = json.loads(payload)
    except (ValueError, RecursionError):
        # Not JSON at all: the bytes are the body.
        try:
            response = Response(200, payload.decode("utf-8"))
            response.add_header("Content-Type", ["text/plain; charset=utf-8"])
        except UnicodeDecodeError:
            response = Response(200, payload)
            response.add_header("Content-Type", ["application/octet-stream"])
        return response
    if isinstance(value, dict) and ("statusCode" in value or "status" in value):
        return from_http_object(value)
    # Any other JSON value is the body of a 200, as HTTP API / Function URLs infer.
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:  # JSON in UTF-16/32: re-encode as UTF-8 text
        text = json.dumps(value, ensure_ascii=False)
    response = Response(200, text)
    response.add_header("Content-Type", ["application/json"])
    return response
