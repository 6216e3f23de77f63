"""Shared walk over a `Records` batch: every record must come from the detected source."""

from __future__ import annotations

from typing import Any

from aws_events import Node, record_source


def records(event: Any, kind: str, event_source: str) -> list[Node]:
    """`Records[i]` as Nodes, each checked to carry `event_source`."""
    nodes = Node.root(event, kind).items("Records")
    for node in nodes:
        key = "EventSource" if "EventSource" in node.value else "eventSource"
        if record_source(node.value) != event_source:
            raise node.fail(key, f"must be {event_source!r} like Records[0], got {node.raw(key)!r}")
    return nodes
