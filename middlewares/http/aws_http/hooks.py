"""The middleware's hooks, independent of how they are called (exec or persistent).

What `before` learns about the request and `after`/`error` need is kept in the invocation
state, small and bounded: the source, ALB's header mode, the error media type the client
prefers (when not the default) and the request's Origin (only an allowed one)."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any, NamedTuple

from aws_events import http_source

from . import cors, negotiate
from .decorate import decorate, preflight
from .errors import FormError
from .failure import CLIENT_ERROR_TYPES, client_error_response, error_response, summary
from .request import alb_multi_value, normalize
from .response import Response, parse
from .settings import Settings
from .shapes import shape

DEFAULT_SETTINGS = Settings()
FORM_ERROR = "HTTP.InvalidForm"


class HookOutput(NamedTuple):
    payload: bytes
    state: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    respond: bool = False  # `before` answers the request itself (a preflight, a bad form)


def _dump(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate (valid in JSON text, not in UTF-8): escape it
        return json.dumps(value, separators=(",", ":")).encode()


def _shaped(response: Response, state: dict[str, Any]) -> tuple[bytes, list[str]]:
    shaped, warnings = shape(response, state["source"], bool(state.get("albMultiValueHeaders")))
    return _dump(shaped), warnings


def _request_state(request: dict[str, Any], source: str, event: dict[str, Any],
                   settings: Settings) -> dict[str, Any]:
    state: dict[str, Any] = {"source": source}
    if source == "alb":
        state["albMultiValueHeaders"] = alb_multi_value(event)
    headers = request["headers"]
    media_type = negotiate.choose(",".join(headers.get("accept", [])), settings.error_media_types)
    if media_type != settings.error_media_types[0]:
        state["errorMediaType"] = media_type
    origin = (headers.get("origin") or [None])[0]  # a multi-value header may be an empty list
    if settings.cors is not None and cors.allowed_origin(settings.cors, origin) not in (None, "*"):
        state["origin"] = origin  # bounded: an allowed origin is at most cors.ORIGIN_LIMIT long
    return state


def error_media_type(state: dict[str, Any], settings: Settings) -> str:
    chosen = state.get("errorMediaType")
    return chosen if chosen in settings.error_media_types else settings.error_media_types[0]


def before(payload: bytes, settings: Settings = DEFAULT_SETTINGS, request_id: str | None = None) -> HookOutput:
    """HTTP event → normalized request (with `form` when forms are parsed); anything else
    passes through untouched. A CORS preflight, or a form body that cannot be read, is
    answered here (`respond`), shaped for the source. Raises InvalidRequestError naming
    the field for broken HTTP events."""
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):
        return HookOutput(payload)  # not JSON, so not an HTTP event of ours
    source = http_source(event)
    if source is None:
        return HookOutput(payload)
    request = normalize(event, source)
    state = _request_state(request, source, event, settings)
    if settings.cors is not None and cors.is_preflight(request["method"], request["headers"]):
        answer, warnings = _shaped(preflight(settings, request["headers"]), state)
        return HookOutput(answer, state, tuple(warnings), respond=True)
    if settings.forms is not None:
        from .forms import parse_form  # only when forms are on: exec mode pays imports per spawn
        try:
            form = parse_form(request, settings.forms)
        except FormError as exc:
            response = client_error_response(exc.status, FORM_ERROR, str(exc), request_id,
                                             error_media_type(state, settings))
            answer, warnings = _shaped(decorate(response, settings, state.get("origin")), state)
            return HookOutput(answer, state, (f"rejected the request body ({exc}); answered HTTP {exc.status}",
                                              *warnings), respond=True)
        context = request.pop("requestContext")
        request["form"] = form
        request["requestContext"] = context  # stays last, as documented
    return HookOutput(_dump(request), state)


def after(payload: bytes, state: Any, content_type: str | None = None,
          settings: Settings = DEFAULT_SETTINGS) -> HookOutput:
    """Handler response → the response shape of the source `before` saw (from the
    invocation state), with the CORS and security headers; without an HTTP source in the
    state, it passes through. A streamed HTTP response (its JSON prelude, 8 NULs, the body:
    `content_type` is application/vnd.awslambda.http-integration-response; the middleware
    gets it whole with `on_stream: buffer`) is read the same way. Raises
    InvalidResponseError naming the field."""
    source = state.get("source") if isinstance(state, dict) else None
    if source is None:
        return HookOutput(payload)
    response = decorate(parse(payload, content_type), settings, state.get("origin"))
    answer, warnings = _shaped(response, state)
    return HookOutput(answer, state, tuple(warnings))


def error(
    payload: bytes, state: Any, request_id: str | None = None, *, expose: bool | None = False,
    client_error_types: Collection[str] = CLIENT_ERROR_TYPES, settings: Settings | None = None,
) -> HookOutput:
    """Lambda error → an HTTP error response (400 for client error types, else 500) in the
    shape of the source `before` saw, in the media type the client accepts, with the CORS
    and security headers; the caller answers it as a response (`respond`). Without an HTTP
    source in the state, the error passes through (`state` is None). `warnings` holds one
    line saying what was turned into which status. `settings`, when given, supplies
    `expose` and `client_error_types` too."""
    source = state.get("source") if isinstance(state, dict) else None
    if source is None:
        return HookOutput(payload)
    if settings is None:
        settings = Settings(expose=expose, client_error_types=frozenset(client_error_types))
    response, lambda_error = error_response(payload, request_id, settings.expose, settings.client_error_types,
                                            error_media_type(state, settings), settings.error_statuses)
    answer, warnings = _shaped(decorate(response, settings, state.get("origin")), state)
    return HookOutput(answer, state, (summary(lambda_error, response.status), *warnings))
