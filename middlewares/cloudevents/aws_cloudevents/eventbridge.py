"""EventBridge / CloudWatch Events (incl. scheduled rules) → one CloudEvent (the
reference's convention: the envelope maps almost 1:1)."""

from __future__ import annotations

import re
from typing import Any

from aws_events import Node

from .event import Payload, cloud_event
from .timestamps import rfc3339

KIND = "eventbridge"


def slug(detail_type: str) -> str:
    """'EC2 Instance State-change Notification' → 'ec2-instance-state-change-notification'."""
    return re.sub(r"[^a-z0-9]+", "-", detail_type.lower()).strip("-") or "event"


def convert(event: Any, type_mode: str) -> dict[str, Any]:
    root = Node.root(event, KIND)
    detail_type = root.text("detail-type")
    resources = root.raw("resources")
    if resources is not None and not isinstance(resources, list):
        raise root.fail("resources", "must be an array")
    first = resources[0] if resources else None
    if first is not None and not isinstance(first, str):
        raise root.fail("resources", "must hold ARN strings")
    return cloud_event(
        id=root.text("id"),
        source=root.text("source"),
        type=detail_type if type_mode == "detail-type" else f"com.amazonaws.events.{slug(detail_type)}",
        subject=first or None,
        time=rfc3339(root, "time") if root.has("time") else None,
        data=Payload.json(root.raw("detail") if "detail" in root.value else {}),
        extensions={"account": root.opt_text("account"), "region": root.opt_text("region")},
    )
