"""The executable as the orchestrator runs it: exec mode per hook, and persistent mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_fixtures import persistent
from ce_support import EXECUTABLE, raw

ENV = {
    "PATH": os.environ.get("PATH", ""),
    "OPENRUNTIME_REQUEST_ID": "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
    "OPENRUNTIME_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:demo",
    "OPENRUNTIME_CONTENT_TYPE": "application/json",
    "OPENRUNTIME_MIDDLEWARE": "cloudevents",
}


def run_hook(hook: str, payload: bytes, state_file: Path | None = None,
             **env: str) -> subprocess.CompletedProcess[bytes]:
    full_env = {**ENV, **env}
    if state_file is not None:
        full_env["OPENRUNTIME_STATE_FILE"] = str(state_file)
    return subprocess.run([str(EXECUTABLE), hook], input=payload, capture_output=True,
                          env=full_env, timeout=30, check=False)


def test_is_found_by_name_as_the_lead_resolves_it() -> None:
    # `cloudevents` resolves to middlewares/cloudevents/cloudevents (a directory middleware).
    assert EXECUTABLE.is_file() and os.access(EXECUTABLE, os.X_OK)
    assert EXECUTABLE.read_text().startswith("#!/usr/bin/env python3\n")


def test_before_converts_a_batch_and_records_the_shape(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_text("")  # the orchestrator hands over an empty file
    done = run_hook("before", raw("sqs-batch.json"), state)
    assert done.returncode == 0, done.stderr
    events = json.loads(done.stdout)
    assert [e["id"] for e in events] == [
        "059f36b4-87a3-44ab-83d2-661975830a7d", "2e1424d4-f796-459a-8184-9c92662be6da",
    ]
    assert json.loads(state.read_text()) == {
        "kind": "sqs", "mode": "converted", "batch": True, "count": 2,
        "format": "application/cloudevents-batch+json",
    }


def test_before_converts_a_single_event() -> None:
    done = run_hook("before", raw("eventbridge-scheduled-event.json"))
    assert done.returncode == 0, done.stderr
    event = json.loads(done.stdout)
    assert event["type"] == "Scheduled Event" and event["specversion"] == "1.0"


def test_unknown_passthrough_is_byte_identical_and_wrap_uses_the_context() -> None:
    payload = raw("iot-button.json")
    assert run_hook("before", payload).stdout == payload
    wrapped = json.loads(run_hook("before", payload, CLOUDEVENTS_UNKNOWN="wrap").stdout)
    assert wrapped["id"] == ENV["OPENRUNTIME_REQUEST_ID"]
    assert wrapped["source"] == ENV["OPENRUNTIME_FUNCTION_ARN"]
    assert wrapped["data"] == json.loads(payload)


def test_after_passes_the_response_through() -> None:
    response = b'{"batchItemFailures": [{"itemIdentifier": "MessageID_1"}]}'
    done = run_hook("after", response)
    assert done.returncode == 0 and done.stdout == response


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("malformed/dynamodb-stream-truncated.json",
         "CloudEvents.InvalidEvent: invalid Lambda event: not valid JSON (Expecting ',' delimiter: line 135"),
        ("malformed/function-url-request-invalid-no-rawpath.json",
         "CloudEvents.InvalidEvent: invalid function-url event: field 'rawPath' is missing"),
    ],
)
def test_invalid_events_fail_with_a_message_naming_the_problem(fixture: str, message: str) -> None:
    done = run_hook("before", raw(fixture))
    assert done.returncode == 4  # STDOUT is the error object, kept as it is
    error = json.loads(done.stdout)
    assert error["errorType"] == "CloudEvents.InvalidEvent"
    assert f"{error['errorType']}: {error['errorMessage']}".startswith(message)
    assert "field" in error
    # The same pair ends STDERR, for the logs (and orchestrators without exit status 4).
    assert done.stderr.decode().strip().splitlines()[-1].startswith(message)


def test_bad_configuration_fails_naming_the_variable() -> None:
    done = run_hook("before", raw("sns.json"), CLOUDEVENTS_DATA="everything")
    assert done.returncode == 4
    error = json.loads(done.stdout)
    assert error["errorType"] == "CloudEvents.InvalidConfiguration"
    assert "CLOUDEVENTS_DATA='everything' is invalid" in error["errorMessage"]
    assert "CLOUDEVENTS_DATA='everything' is invalid" in done.stderr.decode()


# ---------------------------------------------------------------- persistent mode

def test_persistent_mode_serves_many_events_and_keeps_the_json_content_type() -> None:
    with persistent(EXECUTABLE, ENV) as process:
        ready, _ = process.read()
        # No `after` hook: the orchestrator skips the round trip for responses.
        assert ready == {"ready": True, "protocol": 2, "hooks": ["before"], "length": 0}
        base = {"hook": "before", "request_id": "r1", "content_type": "application/json",
                "middleware": "cloudevents", "function_arn": ENV["OPENRUNTIME_FUNCTION_ARN"],
                "state": None}
        cases = [
            ("kinesis.json", "continue", "application/cloudevents-batch+json"),
            ("eventbridge-ec2-state-change.json", "continue", "application/cloudevents+json"),
            ("iot-button.json", "continue", None),  # passthrough
            ("malformed/apigw-v2-http-request-invalid.json", "fail", None),
        ]
        for fixture, action, media_type in cases:
            answer, payload = process.send(base, raw(fixture))
            assert answer["action"] == action, (fixture, payload)
            # Never changed: runtime clients parse only application/json into a value.
            assert "content_type" not in answer
            if fixture == "iot-button.json":
                assert payload == raw(fixture)
            if action == "fail":
                error = json.loads(payload)
                assert error["errorType"] == "CloudEvents.InvalidEvent"
                assert error["field"] == "requestContext.domainName"
            elif media_type:
                assert answer["state"]["format"] == media_type


def test_importable_without_the_sdk_on_sys_path() -> None:
    # The conversion logic is plain functions: usable from any Python code.
    code = (f"import sys; sys.path.insert(0, {str(EXECUTABLE.parent)!r}); "
            "import aws_cloudevents as a; print(a.detect({'detail-type': 'x', 'source': 'y'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert done.stdout.strip() == b"eventbridge"
