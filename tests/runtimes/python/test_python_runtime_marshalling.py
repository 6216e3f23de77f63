"""Result and event encoding against awslambdaric's LambdaMarshaller, value by value."""

from __future__ import annotations

import enum
import re
from decimal import Decimal
from typing import Any

import pytest
from awslambdaric.lambda_runtime_exception import FaultException
from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller
from openruntime_python_runtime.errors import FaultError
from openruntime_python_runtime.marshalling import Marshaller


class Color(enum.IntEnum):
    RED = 1


class Kind(str, enum.Enum):
    A = "a"


circular: dict[str, Any] = {}
circular["self"] = circular

RESULTS: list[Any] = [
    None,
    "text",
    {"a": [1, 2.5, True, None]},
    (1, "tuple"),
    float("nan"),
    float("inf"),
    Decimal("0.10"),
    {"d": Decimal("-1.5E-7"), "nan": Decimal("NaN"), "inf": Decimal("-Infinity"), "snan": Decimal("sNaN")},
    [Decimal("3")] * 3,
    {"nested": {"bytes": b"utf8 \xc3\xa9"}},
    {b"bytes-key": {b"inner": 1}},
    {7: "int key", 2.5: "float key", None: "none key", True: "bool key"},
    {Color.RED: Color.RED, "kind": Kind.A},
    "h\u00e9llo \u2603 \U0001f600",
    "\x00 control \u2028",
    b"",
    b"\x00\xff raw",
    # failures
    {1, 2},
    object(),
    {"bad utf8": b"\xff"},
    {Decimal("1"): "decimal key"},
    bytearray(b"x"),
    circular,
]


def marshal_both(value: Any) -> tuple[Any, Any]:
    try:
        ours: Any = Marshaller().marshal_response(value)
    except FaultError as exc:
        ours = (exc.error_type, exc.msg)
    try:
        body, content_type = LambdaMarshaller().marshal_response(value)
        theirs: Any = (body if isinstance(body, bytes) else body.encode("utf-8"), content_type)
    except FaultException as exc:
        theirs = (exc.exception_type, exc.msg)
    return ours, theirs


@pytest.mark.parametrize("execution_env", [None, "AWS_Lambda_python3.13"])
@pytest.mark.parametrize("value", RESULTS, ids=lambda v: re.sub(r" at 0x[0-9a-f]+", "", repr(v))[:40])
def test_results_encode_like_awslambdaric(value: Any, execution_env: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if execution_env is None:
        monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)
    else:
        monkeypatch.setenv("AWS_EXECUTION_ENV", execution_env)
    ours, theirs = marshal_both(value)
    assert ours == theirs


def test_decimal_digits_are_exact_and_user_strings_untouched() -> None:
    body, content_type = Marshaller().marshal_response(
        {"price": Decimal("19.990"), "label": "\x00token:0\x00", "list": [Decimal("1E+2")]}
    )
    assert content_type == "application/json"
    assert body == b'{"price": 19.990, "label": "\\u0000token:0\\u0000", "list": [1E+2]}'


def test_bytes_result_content_type() -> None:
    assert Marshaller().marshal_response(b"\x01\x02") == (b"\x01\x02", "application/unknown")


def test_unserializable_message() -> None:
    with pytest.raises(FaultError) as info:
        Marshaller().marshal_response({"when": object()})
    assert info.value.error_type == "Runtime.MarshalError"
    assert info.value.msg == "Unable to marshal response: Object of type object is not JSON serializable"


def test_lone_surrogate_unescaped_is_a_marshal_error_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12")
    with pytest.raises(FaultError) as info:
        Marshaller().marshal_response("\ud800")
    assert info.value.error_type == "Runtime.MarshalError"


EVENTS = [
    (b'{"a": [1, 2.5, "\\u00e9"]}', "application/json"),
    (b"  [1, 2]  ", "application/json"),
    (b'\xef\xbb\xbf{"bom": true}', "application/json"),
    (b'"\xc3\xa9"', "application/json"),
    (b"12345678901234567890", "application/json"),
    (b"1.5e400", "application/json"),
    (b"", "application/json"),
    (b"NaN", "application/json"),
    (b'{"a": Infinity}', "application/json"),
    (b"[1, -Infinity]", "application/json"),
    (b'{"s": "NaN", "n": NaN}', "application/json"),
    (b'"\xff"', "application/json"),
    ('{"utf16": 1}'.encode("utf-16"), "application/json"),
    (b"plain text", "text/plain"),
    (b'{"a": 1}', "application/JSON"),
    (b'{"a": 1}', None),
]


@pytest.mark.parametrize(("body", "content_type"), EVENTS, ids=lambda v: repr(v)[:30])
def test_events_decode_like_awslambdaric(body: bytes, content_type: str | None) -> None:
    try:
        ours: Any = ("ok", Marshaller().unmarshal_request(body, content_type))
    except FaultError as exc:
        ours = (exc.error_type, exc.msg)
    try:
        theirs: Any = ("ok", LambdaMarshaller().unmarshal_request(body, content_type))
    except FaultException as exc:
        theirs = (exc.exception_type, exc.msg)
    assert ours == theirs


def test_raw_event_is_the_same_bytes_object() -> None:
    body = b"\x00\x01"
    assert Marshaller().unmarshal_request(body, "application/octet-stream") is body
