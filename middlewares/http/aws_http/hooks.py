"""The middleware's hooks, independent of how they are called (exec or persistent)."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any, NamedTuple

from aws_events import http_source

from .failure import CLIENT_ERROR_TYPES, error_response, summary
from .request import alb_multi_value, normalize
from .response import parse
from .shapes import shape


class HookOutput(NamedTuple):
    payload: bytes
    state: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def before(payload: bytes) -> HookOutput:
    """HTTP event → normalized request; anything else passes through untouched.
    Raises InvalidRequestError naming the field for broken HTTP events."""
    try:
        event = json.loads(payload)
    except ValueError:
        return HookOutput(payload)  # not JSON, so not an HTTP event of ours
    source = http_source(event)
    if source is None:
        return HookOutput(payload)
    request = normalize(event, source)
    state: dict[str, Any] = {"source": source}
    if source == "alb":
        state["albMultiValueHeaders"] = alb_multi_value(event)
    return HookOutput(_dump(request), state)


def after(payload: bytes, state: Any, content_type: str | None = None) -> HookOutput:
    """Handler response → the response shape of the source `before` saw (from the
    invocation state); without an HTTP source in the state, it passes through. A streamed
    HTTP response (its JSON prelude, 8 NULs, the body: `content_type` is
    application/vnd.awslambda.http-integration-response; the middleware gets it whole with
    `on_stream: buffer`) is read the same way. Raises InvalidResponseError naming the field."""
    source = state.get("source") if isinstance(state, dict) else None
    if source is None:
        return HookOutput(payload)
    shaped, warnings = shape(parse(payload, content_type), source, bool(state.get("albMultiValueHeaders")))
    return HookOutput(_dump(shaped), state, tuple(warnings))


def error(
    payload: bytes, state: Any, request_id: str | None = None, *, expose: bool = False,
    client_error_types: Collection[str] = CLIENT_ERROR_TYPES,
) -> HookOutput:
    """Lambda error → an HTTP error response (400 for client error types, else 500) in the
    shape of the source `before` saw; the caller answers it as a response (`respond`).
    Without an HTTP source in the state, the error passes through (`state` is None).
    `warnings` holds one line saying what was turned into which status."""
    source = state.get("source") if isinstance(state, dict) else None
    if source is None:
        return HookOutput(payload)
    response, lambda_error = error_response(payload, request_id, expose, client_error_types)
    shaped, warnings = shape(response, source, bool(state.get("albMultiValueHeaders")))
    return HookOutput(_dump(shaped), state, (summary(lambda_error, response.status), *warnings))
