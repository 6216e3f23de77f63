"""The values that travel through the pipeline: one invocation and its outcome."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

JSON = "application/json"
RUNTIME_HEADER_PREFIX = "lambda-runtime-"


@dataclass(slots=True)
class Invocation:
    """One event from `/runtime/invocation/next`, with every header Lambda sent."""

    request_id: str
    deadline_ms: int
    function_arn: str
    trace_id: str | None
    invocation_id: str | None
    content_type: str
    body: bytes
    # Every Lambda-Runtime-* header as received (names as sent), handed on unchanged to
    # the sub-runtime, including ones this version does not know.
    runtime_headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_next(cls, headers: list[tuple[str, str]], body: bytes) -> "Invocation":
        runtime_headers: list[tuple[str, str]] = []
        values: dict[str, str] = {}
        content_type = JSON
        for name, value in headers:
            lowered = name.lower()
            if lowered.startswith(RUNTIME_HEADER_PREFIX):
                runtime_headers.append((name, value))
                values[lowered] = value
            elif lowered == "content-type":
                content_type = value
        request_id = values.get("lambda-runtime-aws-request-id")
        if not request_id:
            raise ValueError("the Runtime API sent an event without Lambda-Runtime-Aws-Request-Id")
        try:
            deadline_ms = int(values.get("lambda-runtime-deadline-ms", "0"))
        except ValueError:
            deadline_ms = 0
        if deadline_ms <= 0:  # no usable deadline: Lambda's maximum, so nothing times out early
            deadline_ms = int(time.time() * 1000) + 900_000
        return cls(
            request_id=request_id,
            deadline_ms=deadline_ms,
            function_arn=values.get("lambda-runtime-invoked-function-arn", ""),
            trace_id=values.get("lambda-runtime-trace-id"),
            invocation_id=values.get("lambda-runtime-invocation-id"),
            content_type=content_type,
            body=body,
            runtime_headers=runtime_headers,
        )

    def remaining_ms(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


@dataclass(slots=True)
class Outcome:
    """What gets posted back: a response, or an error in Lambda's shape."""

    body: bytes
    content_type: str = JSON
    is_error: bool = False
    error_type: str | None = None

    @classmethod
    def error(cls, body: bytes, error_type: str) -> "Outcome":
        return cls(body, JSON, True, error_type)


def is_json_type(content_type: str | None) -> bool:
    """application/json, or any */*+json, ignoring parameters."""
    if not content_type:
        return True  # Lambda events without a type are JSON
    media = content_type.split(";", 1)[0].strip().lower()
    return media == JSON or media.endswith("+json")
