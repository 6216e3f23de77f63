"""AWS's event-stream framing (`application/vnd.amazon.eventstream`), the encoding side:
what InvokeWithResponseStream answers with, and what botocore's EventStreamBuffer parses.

A message is a prelude (total length, headers length: big-endian uint32, then the CRC32
of those 8 bytes), the headers (name length uint8, name, type 7 = string, value length
uint16, value), the payload, and the CRC32 of everything before it. Written here rather
than taken from a library: botocore only decodes, and awscrt (which encodes) is a large
native package for ~20 lines; the tests check every frame with botocore's own parser.
"""

from __future__ import annotations

import json
import struct
import zlib

_STRING = 7


def message(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    encoded = b"".join(
        struct.pack(">B", len(n := name.encode())) + n + struct.pack(">BH", _STRING, len(v := value.encode())) + v
        for name, value in headers
    )
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))


def payload_chunk(data: bytes) -> bytes:
    """One `PayloadChunk` event: bytes of the function's response, as they came."""
    return message([(":event-type", "PayloadChunk"), (":content-type", "application/octet-stream"),
                    (":message-type", "event")], data)


def invoke_complete(error_code: str | None = None, error_details: str | None = None, log_result: str | None = None) -> bytes:
    """The `InvokeComplete` event that ends every stream; an error mid-stream is told here."""
    fields = {k: v for k, v in (("ErrorCode", error_code), ("ErrorDetails", error_details),
                                ("LogResult", log_result)) if v is not None}
    return message([(":event-type", "InvokeComplete"), (":content-type", "application/json"),
                    (":message-type", "event")], json.dumps(fields).encode())
