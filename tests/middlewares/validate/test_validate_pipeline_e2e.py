"""Through the real emulator and orchestrator: an invalid event fails the invocation with
validate's own error object — errorType, message and the `errors` list — in both modes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_fixtures import pipeline_for
from mw_harness import middleware

from tests.conftest import orchestrated

VALIDATE = middleware("validate")
SCHEMA = {
    "type": "object", "required": ["name", "qty"], "additionalProperties": False,
    "properties": {"name": {"type": "string", "minLength": 1}, "qty": {"type": "integer", "minimum": 1}},
}
BAD = {"name": "", "qty": 0, "color": "red"}
BAD_ERRORS = [
    {"path": "$.name", "rule": "minLength", "message": "must be at least 1 character long"},
    {"path": "$.qty", "rule": "minimum", "message": "must be >= 1"},
    {"path": "$.color", "rule": "additionalProperties", "message": "is not allowed"},
]
BAD_MESSAGE = (
    "event failed validation: $.name: must be at least 1 character long (minLength); "
    "$.qty: must be >= 1 (minimum); $.color: is not allowed (additionalProperties)"
)


@pytest.mark.parametrize("mode", ["exec", "persistent"])
def test_an_invalid_event_reaches_the_caller_with_the_errors_list(tmp_path: Path, hello_app: Path, mode: str) -> None:
    pipeline = pipeline_for(tmp_path, hello_app, [
        {"name": "validate", "command": str(VALIDATE), "mode": mode, "hooks": ["before"],
         "env": {"VALIDATE_SCHEMA_JSON": json.dumps(SCHEMA)}},
    ])
    with orchestrated(pipeline) as emulator:
        rejected = emulator.invoke(json.dumps(BAD).encode())
        accepted = emulator.invoke(b'{"name": "widget", "qty": 2}')

    assert rejected.function_error == "Unhandled"
    assert rejected.json() == {
        "errorType": "Validation.Failed", "errorMessage": BAD_MESSAGE, "errors": BAD_ERRORS,
        "requestId": rejected.request_id, "middleware": {"name": "validate", "hook": "before"},
    }
    assert accepted.function_error is None
    assert accepted.json()["event"] == {"name": "widget", "qty": 2}
