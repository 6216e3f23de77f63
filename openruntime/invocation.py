"""The values that travel through the pipeline: one invocation and its outcome."""

from __future__ import annotations

import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from openruntime.response_stream import ResponseStream

JSON = "application/json"  # the one definition: Lambda's default payload type
EMPTY_PAYLOAD = b"{}"  # what Lambda hands the function when the caller sent no payload
RUNTIME_HEADER_PREFIX = "lambda-runtime-"


class Invocation:
    """One event from `/runtime/invocation/next`, with every header Lambda sent.

    Plain classes rather than dataclasses here and in the other hot-path modules:
    `dataclasses` costs ~9 ms to import, on every cold start.
    """

    __slots__ = ("request_id", "deadline_ms", "function_arn", "trace_id", "invocation_id",
                 "content_type", "body", "runtime_headers", "received_ms", "tenant_id", "answer_by_ms")

    def __init__(
        self, request_id: str, deadline_ms: int, function_arn: str, trace_id: str | None,
        invocation_id: str | None, content_type: str, body: bytes,
        runtime_headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.request_id = request_id
        self.deadline_ms = deadline_ms
        self.function_arn = function_arn
        self.trace_id = trace_id
        self.invocation_id = invocation_id
        self.content_type = content_type
        self.body = body
        # Every Lambda-Runtime-* header as received (names as sent), handed on unchanged
        # to the sub-runtime, including ones this version does not know.
        self.runtime_headers = runtime_headers if runtime_headers is not None else []
        self.received_ms = time.time() * 1000  # the function's time runs from here to the deadline
        self.tenant_id: str | None = None  # Lambda-Runtime-Aws-Tenant-Id: tenant isolation mode
        # When the orchestrator answers a timeout (Lambda's deadline less the pipeline's
        # grace_ms): the deadline the runtime and the middlewares are told, as theirs ends then.
        self.answer_by_ms = deadline_ms

    def __repr__(self) -> str:
        return f"Invocation(request_id={self.request_id!r}, deadline_ms={self.deadline_ms}, body={len(self.body)} bytes)"

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
        invocation = cls(
            request_id=request_id,
            deadline_ms=deadline_ms,
            function_arn=values.get("lambda-runtime-invoked-function-arn", ""),
            trace_id=values.get("lambda-runtime-trace-id"),
            invocation_id=values.get("lambda-runtime-invocation-id"),
            content_type=content_type,
            body=body,
            runtime_headers=runtime_headers,
        )
        invocation.tenant_id = values.get("lambda-runtime-aws-tenant-id") or None
        return invocation

    def remaining_ms(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))

    def timeout_s(self) -> float:
        """The function's timeout as this invocation got it: receipt to deadline, rounded up
        to hundredths (what Lambda's "Task timed out after N.NN seconds" states)."""
        return max(0, -((self.received_ms - self.deadline_ms) // 10)) / 100


class Outcome:
    """What gets posted back: a response, or an error in Lambda's shape; or a streamed
    response (`stream`, whose chunks are still arriving: `body` is empty then)."""

    __slots__ = ("body", "content_type", "is_error", "error_type", "stream")

    def __init__(self, body: bytes, content_type: str = JSON, is_error: bool = False,
                 error_type: str | None = None, stream: ResponseStream | None = None) -> None:
        self.body = body
        self.content_type = content_type
        self.is_error = is_error
        self.error_type = error_type
        self.stream = stream

    @classmethod
    def streamed(cls, stream: ResponseStream) -> Outcome:
        return cls(b"", stream.content_type, stream=stream)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return (self.body, self.content_type, self.is_error, self.error_type) == (
            other.body, other.content_type, other.is_error, other.error_type)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        kind = f"error {self.error_type}" if self.is_error else self.content_type
        return f"Outcome({kind}, {self.body[:80]!r})"

    @classmethod
    def error(cls, body: bytes, error_type: str) -> "Outcome":
        return cls(body, JSON, True, error_type)


def is_json_type(content_type: str | None) -> bool:
    """application/json, or any */*+json, ignoring parameters."""
    if not content_type:
        return True  # Lambda events without a type are JSON
    media = content_type.split(";", 1)[0].strip().lower()
    return media == JSON or media.endswith("+json")
