"""Every CloudEvent the middleware produces must read back with the cloudevents SDK
(2.x `cloudevents.core` JSON format) with the same attributes and data."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aws_cloudevents import Options, convert
from ce_support import ALL_FIXTURES, raw
from cloudevents.core.formats.json import JSONFormat
from dateutil.parser import isoparse

CORE = ("specversion", "id", "source", "type", "datacontenttype", "subject")


def _events(name: str, options: Options) -> list[dict[str, Any]]:
    conversion = convert(raw(name), options, request_id="req-1",
                         function_arn="arn:aws:lambda:us-east-1:123456789012:function:f")
    if conversion.event is None:
        return []
    out = json.loads(conversion.payload(raw(name)))
    return out if isinstance(out, list) else [out]


OPTION_SETS = [
    Options(),
    Options(unknown="wrap", data="payload", eventbridge_type="slug"),
]
CASES = [(name, options) for name in ALL_FIXTURES for options in OPTION_SETS]


@pytest.mark.parametrize(("name", "options"), CASES,
                         ids=[f"{n}-{o.unknown}-{o.data}" for n, o in CASES])
def test_every_produced_event_parses_back(name: str, options: Options) -> None:
    for produced in _events(name, options):
        event = JSONFormat().read(None, json.dumps(produced).encode())
        assert event.get_specversion() == "1.0"
        for attribute in CORE:
            assert event.get_attributes().get(attribute) == produced.get(attribute), attribute
        if "time" in produced:
            assert event.get_time() == isoparse(produced["time"])
        for name_ in set(produced) - set(CORE) - {"time", "data", "data_base64"}:
            assert event.get_extension(name_) == produced[name_]
        if "data_base64" in produced:
            assert event.get_data() == base64.b64decode(produced["data_base64"])
        else:
            assert event.get_data() == produced.get("data")


def test_sdk_written_event_equals_ours() -> None:
    """Writing the SDK's view back gives the same JSON object (nothing we emit is
    something the SDK would drop or reinterpret)."""
    for produced in _events("sqs-batch.json", Options()):
        event = JSONFormat().read(None, json.dumps(produced))
        written = json.loads(JSONFormat().write(event))
        # The SDK writes microseconds (.183000Z): same instant, other spelling.
        assert isoparse(written.pop("time")) == isoparse(produced["time"])
        assert written == {k: v for k, v in produced.items() if k != "time"}
