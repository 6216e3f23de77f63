"""Events without a CloudEvents mapping, wrapped when CLOUDEVENTS_UNKNOWN=wrap."""

from __future__ import annotations

from typing import Any

from .event import Payload, cloud_event

TYPE = "com.amazonaws.lambda.unknown"

# An empty invocation payload: wrapped without any `data` member.
ABSENT: Any = object()


def wrap(event: Any, kind: str, *, request_id: str, function_arn: str) -> dict[str, Any]:
    """One CloudEvent around the untouched event. It has no id, source or time of its
    own, so the invocation supplies them: the request id is unique per delivery, and
    the function that received it is the closest thing to a source."""
    return cloud_event(
        id=request_id,
        source=function_arn,
        type=TYPE,
        data=None if event is ABSENT else Payload.json(event),
        # The detector may know the family (e.g. 'ses') even without a mapping.
        extensions={"awskind": None if kind == "unknown" else kind},
    )
