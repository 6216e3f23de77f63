"""Spans as X-Ray subsegments of the function's segment, sent to the X-Ray daemon.

On Lambda the service writes the function's segment; its id is the `Parent` of
`_X_AMZN_TRACE_ID`. Subsegments sent separately name it as `parent_id` with `"type":
"subsegment"` (X-Ray developer guide, "Sending trace data to X-Ray": segment documents,
subsegments). The daemon takes one document per UDP datagram, after the header
`{"format": "json", "version": 1}` and a newline.
"""

from __future__ import annotations

import json
import re
import socket
from typing import Any

from otel_spans.spans import Span

HEADER = b'{"format": "json", "version": 1}\n'
MAX_DATAGRAM = 64 * 1024 - 1  # what the daemon reads at once
# Subsegment names: letters, digits, whitespace and _ . : / % & # = + \ - @, up to 200.
_NOT_ALLOWED = re.compile(r"[^\w\s.:/%&#=+\\\-@]")


def xray_name(name: str) -> str:
    return _NOT_ALLOWED.sub("_", name)[:200] or "unnamed"


def subsegment(span: Span, children: list[Span], trace_root: str, parent_id: str) -> dict[str, Any]:
    """The root span as one subsegment document with the others nested in it."""
    document: dict[str, Any] = {
        "name": xray_name(span.name),
        "id": span.span_id,
        "trace_id": trace_root,
        "parent_id": parent_id,
        "type": "subsegment",
        "start_time": span.start_ns / 1e9,
        "end_time": span.end_ns / 1e9,
        "annotations": {key.replace(".", "_"): value for key, value in span.attributes.items()
                        if isinstance(value, (str, int, float, bool))},
    }
    if span.error is not None:
        document["fault"] = True
        document["cause"] = {"exceptions": [{"type": span.error[0][:256], "message": span.error[1][:1024]}]}
    if children:
        document["subsegments"] = [
            {"name": xray_name(child.name), "id": child.span_id, "start_time": child.start_ns / 1e9,
             "end_time": child.end_ns / 1e9}
            for child in children
        ]
    return document


def send(document: dict[str, Any], address: tuple[str, int]) -> None:
    """One UDP datagram to the daemon: never waits for an answer (there is none)."""
    data = HEADER + json.dumps(document, separators=(",", ":")).encode()
    if len(data) > MAX_DATAGRAM:
        document = {**document, "subsegments": []}  # what fits: the invocation's own timing
        data = HEADER + json.dumps(document, separators=(",", ":")).encode()
    with socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(data, address)
