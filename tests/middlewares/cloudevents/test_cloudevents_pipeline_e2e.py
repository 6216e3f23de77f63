"""Through the real orchestrator and emulator: the handler receives CloudEvents, in exec
and in persistent mode, and broken events fail the invocation with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_fixtures import pipeline_for
from ce_support import EXECUTABLE, raw

from tests.conftest import orchestrated


@pytest.mark.parametrize("mode", ["exec", "persistent"])
def test_cloudevents_middleware_in_a_pipeline(tmp_path: Path, hello_app: Path, mode: str) -> None:
    pipeline = pipeline_for(tmp_path, hello_app, [
        {"name": "cloudevents", "command": str(EXECUTABLE), "mode": mode,
         "hooks": ["before", "after"], "env": {"CLOUDEVENTS_UNKNOWN": "wrap"}},
    ])
    with orchestrated(pipeline) as emulator:
        s3 = emulator.invoke(raw("s3-put.json"))
        scheduled = emulator.invoke(raw("eventbridge-scheduled-event.json"))
        unknown = emulator.invoke(raw("iot-button.json"))
        broken = emulator.invoke(raw("malformed/dynamodb-stream-truncated.json"))

    [event] = s3.json()["event"]  # a batch: a JSON array even for one record
    assert event["type"] == "com.amazonaws.s3.ObjectCreated:Put"
    assert event["source"] == "aws:s3.us-east-2.lambda-artifacts-deafc19498e3f2df"

    event = scheduled.json()["event"]
    assert event["type"] == "Scheduled Event" and event["specversion"] == "1.0"

    wrapped = unknown.json()
    assert wrapped["event"]["type"] == "com.amazonaws.lambda.unknown"
    assert wrapped["event"]["id"] == unknown.request_id
    assert wrapped["event"]["source"] == wrapped["functionArn"]

    assert broken.function_error is not None
    error = broken.json()
    assert "not valid JSON" in error["errorMessage"], error
