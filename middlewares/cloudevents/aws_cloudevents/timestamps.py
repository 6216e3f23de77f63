"""AWS timestamps (epoch seconds, epoch ms, ISO strings) to CloudEvents RFC 3339 strings."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from aws_events import Node

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DECIMAL = re.compile(r"^(-?)(\d+)(?:\.(\d*))?$")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def _format(micros: int) -> str:
    moment = _EPOCH + timedelta(microseconds=micros)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = micros % 1_000_000
    # Keep the precision the source had: AWS sends ms, Kinesis/DynamoDB may send more.
    if fraction == 0:
        return text + "Z"
    if fraction % 1000 == 0:
        return f"{text}.{fraction // 1000:03d}Z"
    return f"{text}.{fraction:06d}Z"


def _scaled(text: str, digits: int) -> int | None:
    """`text` × 10**digits, exactly, from the decimal digits (not via float: 1480641523.477
    must stay .477, not .476999…). Digits beyond microseconds are dropped."""
    match = _DECIMAL.match(text)
    if not match:
        return None
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    value: int = int(whole) * 10**digits + int(fraction.ljust(digits, "0")[:digits])
    return -value if sign else value


# Epoch seconds this large are after the year 5000: such a value is in milliseconds.
_SECONDS_LIMIT = 10**11


def _decimal_text(value: float | str) -> str:
    # repr of a float is its shortest exact decimal form; 1e9-style floats go through %f.
    text = value if isinstance(value, str) else repr(value)
    if "e" in text.lower() and not isinstance(value, str):
        text = f"{value:.6f}"
    return text.strip()


def _micros(node: Node, key: str, digits: int, ms_if_too_large: bool = False) -> int:
    value = node.number(key)
    micros = _scaled(_decimal_text(value), digits)
    if micros is None:
        raise node.fail(key, f"must be a number, got {value!r}")
    if ms_if_too_large and abs(micros) >= _SECONDS_LIMIT * 10**digits:
        micros //= 1000  # read as seconds, it was milliseconds: three places lower
    try:
        _format(micros)
    except (OverflowError, ValueError):
        raise node.fail(key, f"is out of range: {value!r}") from None
    return micros


def from_epoch_ms(node: Node, key: str) -> str:
    return _format(_micros(node, key, 3))


def from_epoch_seconds(node: Node, key: str) -> str:
    return _format(_micros(node, key, 6))


def from_epoch_seconds_or_ms(node: Node, key: str) -> str:
    """Epoch seconds, or milliseconds when the value is too large to be seconds: DynamoDB
    stream records re-serialized by SDKs (and DynamoDB → Kinesis records) carry ms."""
    return _format(_micros(node, key, 6, ms_if_too_large=True))


def rfc3339(node: Node, key: str) -> str:
    """An already-ISO timestamp, checked so that CloudEvents readers accept it."""
    value = node.text(key)
    if not _RFC3339.match(value):
        raise node.fail(key, f"is not an RFC 3339 timestamp: {value!r}")
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise node.fail(key, f"is not a valid date-time: {value!r}") from None
    return value
