"""CloudWatch Logs subscription deliveries → one CloudEvent per log event (the
reference's convention). `awslogs.data` is base64 of gzip — or of zlib for
account-level subscription policies, so the decoder auto-detects the header."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from aws_events import Node

from .event import Payload, cloud_event
from .timestamps import from_epoch_ms

KIND = "cloudwatch-logs"


def decode(event: Any) -> Node:
    """The decompressed, parsed `awslogs.data` document."""
    awslogs = Node.root(event, KIND).obj("awslogs")
    encoded = awslogs.text("data")
    try:
        compressed = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise awslogs.fail("data", f"is not valid base64 ({exc})") from None
    try:
        # MAX_WBITS | 32: accept both gzip and zlib headers.
        text = zlib.decompress(compressed, zlib.MAX_WBITS | 32)
    except zlib.error as exc:
        raise awslogs.fail("data", f"is not gzip or zlib compressed ({exc})") from None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise awslogs.fail("data", f"does not decompress to JSON ({exc})") from None
    root = Node.root(document, KIND)
    return Node(root.value, "awslogs.data<decoded>", KIND)


def source(owner: str, log_group: str) -> str:
    # owner/logGroup; log groups usually start with '/', so don't double the slash.
    return f"{owner}{log_group}" if log_group.startswith("/") else f"{owner}/{log_group}"


def convert(event: Any) -> list[dict[str, Any]]:
    document = decode(event)
    event_source = source(document.text("owner"), document.text("logGroup"))
    event_type = f"com.amazonaws.logs.{document.text('messageType')}"
    stream = document.text("logStream")
    return [
        cloud_event(
            id=log_event.text("id"),
            source=event_source,
            type=event_type,
            subject=stream,
            time=from_epoch_ms(log_event, "timestamp"),
            data=Payload.json(log_event.value),
        )
        for log_event in document.items("logEvents")
    ]
