"""Optional decoding of each record's payload for the handler (`BATCH_DECODE`).

SQS: `body` is text already; Kinesis: `kinesis.data` is base64. With `text` the record
gets `decoded` (a string), with `json` the parsed value. A record whose payload does not
decode gets `decodeError` instead, and is reported failed whatever the handler says.
DynamoDB stream records are left as they are (their images are typed attribute maps)."""

from __future__ import annotations

import binascii
import json
from typing import Any

from aws_events import Node

from .config import Decode
from .plan import Source

DECODED_KEY = "decoded"
DECODE_ERROR_KEY = "decodeError"


class DecodeError(ValueError):
    pass


def _payload_text(record: Node, source: Source) -> str:
    if source == "sqs":
        body = record.raw("body")
        if not isinstance(body, str):
            raise DecodeError("field 'body' is not a string")
        return body
    data = record.obj("kinesis").raw("data")
    if not isinstance(data, str):
        raise DecodeError("field 'kinesis.data' is not a string")
    try:  # binascii, not base64: base64 imports struct and re, and exec mode pays per event
        raw = binascii.a2b_base64(data.encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError):
        raise DecodeError("field 'kinesis.data' is not valid base64") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"field 'kinesis.data' is not UTF-8 text (byte {exc.start})") from None


def _not_json_number(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} is out of a double's range")
    return value


def decode_payload(record: Node, source: Source, how: Decode) -> Any:
    text = _payload_text(record, source)
    if how == "text":
        return text
    try:
        # Standard JSON only: NaN, Infinity or 1e400 (a float too big) written back into the
        # event would make a Node, Java or Go handler refuse the whole batch.
        return json.loads(text, parse_constant=_not_json_number, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        field = "body" if source == "sqs" else "kinesis.data"
        raise DecodeError(f"field '{field}' is not JSON: {exc}") from None


def decode_records(records: list[Node], source: Source, how: Decode) -> dict[int, str]:
    """Add `decoded` (or `decodeError`) to each record in place; the failures by index."""
    failures: dict[int, str] = {}
    if how == "none" or source == "dynamodb":
        return failures
    for index, record in enumerate(records):
        try:
            record.value[DECODED_KEY] = decode_payload(record, source, how)
        except DecodeError as exc:
            record.value[DECODE_ERROR_KEY] = str(exc)
            failures[index] = f"not decoded: {exc}"
    return failures
