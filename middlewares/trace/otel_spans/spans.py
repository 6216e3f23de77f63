"""The spans of one invocation, from what the middleware saw and what the orchestrator
reports.

The middleware's own span (SERVER, named after the function) runs from its `before` to its
`after`/`error`. Inside it: one span per stage the orchestrator timed (each middleware
hook, the handler) when the call's context carries `stages`; without them, one `inner`
span for what happened between its own two hooks (the handler and the middlewares listed
after this one).
"""

from __future__ import annotations

from typing import Any

from otel_spans.context import new_span_id

KIND_INTERNAL = 1
KIND_SERVER = 2

# aws_events.detect kinds → OTel's faas.trigger.
_TRIGGERS = {
    "apigw-v1": "http", "apigw-v2": "http", "function-url": "http", "alb": "http", "websocket": "http",
    "vpc-lattice": "http", "sqs": "pubsub", "sns": "pubsub", "kinesis": "pubsub", "eventbridge": "pubsub",
    "kafka": "pubsub", "mq": "pubsub", "ses": "pubsub", "s3": "datasource", "dynamodb": "datasource",
}


def trigger(kind: str, event: Any) -> str:
    if kind == "eventbridge" and isinstance(event, dict) and event.get("detail-type") == "Scheduled Event":
        return "timer"
    return _TRIGGERS.get(kind, "other")


class Span:
    __slots__ = ("name", "span_id", "parent_id", "start_ns", "end_ns", "kind", "attributes", "error")

    def __init__(self, name: str, span_id: str, parent_id: str | None, start_ns: int, end_ns: int,
                 kind: int = KIND_INTERNAL, attributes: dict[str, Any] | None = None,
                 error: tuple[str, str] | None = None) -> None:
        self.name = name
        self.span_id = span_id
        self.parent_id = parent_id
        self.start_ns = start_ns
        self.end_ns = max(end_ns, start_ns)
        self.kind = kind
        self.attributes = attributes or {}
        self.error = error  # (type, message) when it failed


def _stage_spans(stages: list[Any], parent_id: str, me: str) -> tuple[list[Span], int | None]:
    """One span per stage; and the start of this middleware's own `before` stage (its
    process start included, in exec mode) when the orchestrator reported it."""
    spans: list[Span] = []
    own_start: int | None = None
    for stage in stages:
        if not (isinstance(stage, list) and len(stage) == 4):
            continue
        middleware, hook, start_us, duration_us = stage
        if not (isinstance(start_us, int) and isinstance(duration_us, int) and isinstance(hook, str)):
            continue
        start_ns = start_us * 1000
        if middleware == me and hook == "before":
            own_start = start_ns
        name = hook if middleware is None else f"{middleware} {hook}"
        attributes: dict[str, Any] = {"openruntime.stage": hook}
        if middleware is not None:
            attributes["openruntime.middleware"] = middleware
        spans.append(Span(name, new_span_id(), parent_id, start_ns, start_ns + duration_us * 1000,
                          attributes=attributes))
    return spans, own_start


def invocation_spans(state: dict[str, Any], end_ns: int, hook_start_ns: int, me: str, function_name: str,
                     attributes: dict[str, Any], error: tuple[str, str] | None,
                     stages: list[Any] | None) -> list[Span]:
    """The root span first, then its children."""
    root_id = state["spanId"]
    start_ns = int(state["startNs"])
    children: list[Span]
    if stages:
        children, own_start = _stage_spans(stages, root_id, me)
        if own_start is not None:
            start_ns = min(start_ns, own_start)
        # Inside the invocation's span only: not the hooks after the answer (other `done`s).
        children = [span for span in children if start_ns <= span.start_ns < end_ns]
        timed = sum(span.end_ns - span.start_ns for span in children)
        attributes = {**attributes, "openruntime.orchestrator_ms": round((end_ns - start_ns - timed) / 1e6, 3)}
    else:
        inner_start = int(state.get("beforeEndNs") or start_ns)
        children = [Span("inner", new_span_id(), root_id, inner_start, hook_start_ns,
                         attributes={"openruntime.stage": "inner"})]
    root = Span(function_name, root_id, state.get("parentId"), start_ns, end_ns, KIND_SERVER, attributes, error)
    return [root, *children]
