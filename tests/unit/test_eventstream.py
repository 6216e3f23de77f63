"""The emulator's event-stream frames, read back by botocore's own parser (the one
boto3's invoke_with_response_stream uses): prelude, headers, both CRC32s."""

from __future__ import annotations

import json

import pytest

from openruntime.emulator import eventstream

botocore_eventstream = pytest.importorskip("botocore.eventstream")


def parse(data: bytes) -> list[tuple[dict[str, object], bytes]]:
    buffer = botocore_eventstream.EventStreamBuffer()
    buffer.add_data(data)
    return [(message.headers, message.payload) for message in buffer]


def test_payload_chunks_and_the_end_parse_as_botocore_expects() -> None:
    frames = eventstream.payload_chunk(b"hello ") + eventstream.payload_chunk(bytes(range(256)) * 300) \
        + eventstream.invoke_complete("Error", "it broke")
    (h1, p1), (h2, p2), (h3, p3) = parse(frames)
    assert h1 == {":event-type": "PayloadChunk", ":content-type": "application/octet-stream", ":message-type": "event"}
    assert p1 == b"hello " and p2 == bytes(range(256)) * 300
    assert h3[":event-type"] == "InvokeComplete"
    assert json.loads(p3) == {"ErrorCode": "Error", "ErrorDetails": "it broke"}


def test_a_damaged_frame_is_refused_by_the_parser() -> None:
    frame = bytearray(eventstream.payload_chunk(b"payload"))
    frame[-6] ^= 0x01  # a payload byte: the message CRC no longer matches
    with pytest.raises(botocore_eventstream.ChecksumMismatch):
        parse(bytes(frame))
