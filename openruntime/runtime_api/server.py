"""The server side of the Runtime API, shared by the emulator and the orchestrator's proxy.

Both answer a runtime client exactly as Lambda does; what differs is what they do with an
event or an answer. This module holds what is the same: the routes and Lambda's answers.
"""

from __future__ import annotations

from openruntime import errors
from openruntime.invocation import JSON
from openruntime.runtime_api.http import Request, Response

PREFIX = "/2018-06-01/runtime/"
ACCEPTED = Response(202, b'{"status":"OK"}', [("Content-Type", JSON)])

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~3 ms of a cold start)
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # the class below is an interface for mypy; at run time, a plain base


class RuntimeAPIHandlers(Protocol):
    def next_event(self, request: Request) -> Response: ...

    def post_result(self, request: Request, request_id: str, is_error: bool) -> Response: ...

    def post_init_error(self, request: Request) -> Response: ...


def route(request: Request, handlers: RuntimeAPIHandlers) -> Response:
    """Dispatch one Runtime API request; anything else is a 404."""
    path = request.path
    if path.startswith(PREFIX):
        parts = path[len(PREFIX):].split("/")
        if parts == ["invocation", "next"] and request.method == "GET":
            return handlers.next_event(request)
        if parts == ["init", "error"] and request.method == "POST":
            return handlers.post_init_error(request)
        if len(parts) == 3 and parts[0] == "invocation" and request.method == "POST":
            if parts[2] in ("response", "error"):
                return handlers.post_result(request, parts[1], is_error=parts[2] == "error")
    return error_response(404, errors.NOT_FOUND, f"no route for {request.method} {path}")


def error_response(status: int, error_type: str, message: str) -> Response:
    return Response(status, errors.error_body(error_type, message), [("Content-Type", JSON)])


def invalid_state(is_error: bool = False) -> Response:
    """A second answer for an invocation (named as the RIE names it: the response or the
    error that came too late), or an init error after `/next`."""
    transition = "InvocationErrorResponse" if is_error else "InvocationResponse"
    return error_response(
        403, errors.INVALID_STATE_TRANSITION,
        f"State transition from RuntimeResponseSentState to {transition} failed for "
        "runtime. Error: State transition is not allowed",
    )


def too_large() -> Response:
    return error_response(
        413, errors.REQUEST_ENTITY_TOO_LARGE,
        f"Exceeded maximum allowed payload size ({errors.MAX_RESPONSE_BYTES} bytes).",
    )


def posted_error(request: Request, request_id: str | None = None) -> tuple[bytes, str]:
    """The error a runtime posted, and its type; Lambda builds one from the header when
    the body is empty."""
    header_type = request.header("lambda-runtime-function-error-type")
    body = request.body or errors.error_body(header_type or errors.RUNTIME_UNKNOWN, "", request_id)
    return body, errors.error_type_of(body, header_type)
