"""A Lambda error on an HTTP invocation → an HTTP error response (the `error` hook).

The status: the one `HTTP_ERROR_STATUS` gives the error's errorType (`NotFoundError=404`),
else `400` when the error is a client error (its errorType is in the client error types,
`Validation.Failed` by default), else `500`. The body is JSON,
`{"message": "<reason phrase>", "requestId": "<Lambda request id>"}`; it also carries the
error's `errorType` and `errorMessage` when the error is one you mapped to a 4xx in
`HTTP_ERROR_STATUS` or the validate middleware's `Validation.Failed` (the client's own
request, as Middy's http-error-handler says it), and for any error with `expose` — never
`stackTrace` or any other key of the error object, and never what an exec middleware that
crashed printed to STDERR before its last line. A type only listed in
`HTTP_CLIENT_ERROR_TYPES` (a `ValueError`, say) stays a bare 400 unless exposed: its
message was never meant for clients.

A middleware reports its own errorType (`Validation.Failed`, …) in the error object in
both modes (exec: exit status 4, as the SDKs do); a `Middleware.ExitError` is a crash of
the middleware, a server error like any other.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from http import HTTPStatus
from typing import Any, NamedTuple

from . import negotiate
from .response import Response

CLIENT_ERROR_TYPES: frozenset[str] = frozenset({"Validation.Failed"})
EXIT_ERROR = "Middleware.ExitError"
_TRUE = frozenset({"1", "true", "yes", "on"})
SUMMARY_LIMIT = 500


class LambdaError(NamedTuple):
    """What the error hook was given, read leniently (any runtime, any middleware)."""

    error_type: str | None  # None: not a Lambda error object; decides the status
    message: str | None
    request_id: str | None


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def read_error(payload: bytes) -> LambdaError:
    try:
        value: Any = json.loads(payload)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        # Not a Lambda error object: only its first line, in case it is a trace dump.
        text = payload.decode("utf-8", "replace").strip()
        first = text.splitlines()[0].strip() if text else ""
        return LambdaError(None, first or None, None)
    error_type = value.get("errorType") if isinstance(value.get("errorType"), str) else None
    message = value.get("errorMessage") if isinstance(value.get("errorMessage"), str) else None
    request_id = value.get("requestId") if isinstance(value.get("requestId"), str) else None
    details = value.get("middleware")
    stderr_tail = details.get("stderrTail") if isinstance(details, dict) else None
    # The orchestrator quotes a crashed exec middleware's STDERR tail in the message; it
    # may hold a traceback printed before the last line: keep only that line.
    if (error_type == EXIT_ERROR and isinstance(stderr_tail, str) and stderr_tail
            and message is not None and message.endswith(stderr_tail)):
        message = message[: len(message) - len(stderr_tail)] + _last_line(stderr_tail)
    return LambdaError(error_type, message, request_id)


def status_for(error: LambdaError, client_error_types: Collection[str] = CLIENT_ERROR_TYPES,
               statuses: Mapping[str, int] | None = None) -> int:
    if error.error_type is not None and statuses and error.error_type in statuses:
        return statuses[error.error_type]
    return 400 if error.error_type is not None and error.error_type in client_error_types else 500


def error_body(error: LambdaError, status: int, request_id: str | None, expose: bool | None,
               statuses: Mapping[str, int] | None = None) -> dict[str, Any]:
    """`expose`: True says every error's type and message, False none, None (the default)
    those of a 4xx you mapped in `statuses` and of `Validation.Failed` only."""
    body: dict[str, Any] = {
        "message": HTTPStatus(status).phrase,
        "requestId": request_id or error.request_id,
    }
    said_to_clients = status < 500 and (error.error_type == "Validation.Failed" or error.error_type in (statuses or {}))
    if expose or (expose is None and said_to_clients):
        body["errorType"] = error.error_type
        body["errorMessage"] = error.message
    return body


def rendered(status: int, fields: dict[str, Any], media_type: str) -> Response:
    """An error response with `fields` as its body, in `media_type` (see negotiate)."""
    body, content_type = negotiate.render(media_type, f"{status} {HTTPStatus(status).phrase}", fields)
    response = Response(status, body)
    response.add_header("Content-Type", [content_type])
    return response


def error_response(
    payload: bytes, request_id: str | None, expose: bool | None = False,
    client_error_types: Collection[str] = CLIENT_ERROR_TYPES, media_type: str = negotiate.JSON,
    statuses: Mapping[str, int] | None = None,
) -> tuple[Response, LambdaError]:
    """The HTTP response for the error `payload` (before shaping for the source)."""
    error = read_error(payload)
    status = status_for(error, client_error_types, statuses)
    body = error_body(error, status, request_id, expose, statuses)
    return rendered(status, body, media_type), error


def client_error_response(status: int, error_type: str, message: str, request_id: str | None,
                          media_type: str = negotiate.JSON) -> Response:
    """A 4xx the middleware answers itself about the client's request: the detail is the
    client's own input, so it is always said."""
    fields = {"message": HTTPStatus(status).phrase, "requestId": request_id,
              "errorType": error_type, "errorMessage": message}
    return rendered(status, fields, media_type)


def summary(error: LambdaError, status: int) -> str:
    """One log line: what was turned into which status (no trace, bounded)."""
    what = error.error_type or "a non-JSON error"
    if error.message:
        first = error.message.strip().splitlines()[0] if error.message.strip() else ""
        if first:
            what = f"{what}: {first}"
    if len(what) > SUMMARY_LIMIT:
        what = what[:SUMMARY_LIMIT] + "…"
    return f"invocation failed ({what}); answered HTTP {status}"


def expose_from(value: str | None) -> bool:
    """`HTTP_EXPOSE_ERRORS`: 1, true, yes or on (any case) turn it on."""
    return (value or "").strip().lower() in _TRUE


def error_statuses_from(value: str | None) -> dict[str, int]:
    """`HTTP_ERROR_STATUS`: comma-separated `errorType=status` (400 to 599); ValueError
    naming the entry that is not one."""
    statuses: dict[str, int] = {}
    for entry in (part.strip() for part in (value or "").split(",")):
        if not entry:
            continue
        name, sep, number = entry.rpartition("=")
        if not sep or not name.strip() or not number.strip().isdigit() or not 400 <= int(number) <= 599 \
                or int(number) not in HTTPStatus._value2member_map_:
            raise ValueError(f"HTTP_ERROR_STATUS: {entry!r}: expected errorType=status, a status from 400 to 599")
        statuses[name.strip()] = int(number)
    return statuses


def client_error_types_from(value: str | None) -> frozenset[str]:
    """`HTTP_CLIENT_ERROR_TYPES`: comma-separated errorTypes; unset is the default set,
    empty turns the 400 mapping off."""
    if value is None:
        return CLIENT_ERROR_TYPES
    return frozenset(part.strip() for part in value.split(",") if part.strip())
