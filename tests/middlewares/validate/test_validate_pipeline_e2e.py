"""Through the real emulator and orchestrator: an invalid event fails the invocation with
validate's own error object — errorType, message and the `errors` list — in both modes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_fixtures import FIXTURES as AWS_EVENTS
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


def test_the_handlers_response_is_checked_in_after(tmp_path: Path, hello_app: Path) -> None:
    # hello_app answers {"event": <the event>, ...}: the response schema caps what it echoes.
    response_schema = {"type": "object", "required": ["event"],
                       "properties": {"event": {"properties": {"qty": {"maximum": 10}}}}}
    pipeline = pipeline_for(tmp_path, hello_app, [
        {"name": "validate", "command": str(VALIDATE), "mode": "persistent", "hooks": ["before", "after"],
         "env": {"VALIDATE_SCHEMA_JSON": json.dumps(SCHEMA),
                 "VALIDATE_RESPONSE_SCHEMA_JSON": json.dumps(response_schema)}},
    ])
    with orchestrated(pipeline) as emulator:
        small = emulator.invoke(b'{"name": "widget", "qty": 2}')
        large = emulator.invoke(b'{"name": "widget", "qty": 50}')

    assert small.function_error is None and small.json()["event"] == {"name": "widget", "qty": 2}
    assert large.function_error == "Unhandled"
    assert large.json() == {
        "errorType": "Validation.ResponseFailed",
        "errorMessage": "response failed validation: $.event.qty: must be <= 10 (maximum)",
        "errors": [{"path": "$.event.qty", "rule": "maximum", "message": "must be <= 10"}],
        "requestId": large.request_id, "middleware": {"name": "validate", "hook": "after"},
    }


def test_each_sqs_record_body_is_validated_naming_the_record(tmp_path: Path, hello_app: Path) -> None:
    pipeline = pipeline_for(tmp_path, hello_app, [
        {"name": "validate", "command": str(VALIDATE), "mode": "exec", "hooks": ["before"],
         "env": {"VALIDATE_SCHEMA_JSON": json.dumps(SCHEMA), "VALIDATE_ENVELOPE": "records"}},
    ])
    batch = json.loads((AWS_EVENTS / "sqs-batch.json").read_bytes())
    batch["Records"][0]["body"] = json.dumps({"name": "widget", "qty": 2})
    batch["Records"][1]["body"] = json.dumps({"name": "gadget", "qty": 0})
    with orchestrated(pipeline) as emulator:
        rejected = emulator.invoke(json.dumps(batch).encode())
        batch["Records"][1]["body"] = json.dumps({"name": "gadget", "qty": 1})
        accepted = emulator.invoke(json.dumps(batch).encode())

    second = batch["Records"][1]["messageId"]
    assert rejected.json()["errors"] == [{"record": second, "path": "$.qty", "rule": "minimum", "message": "must be >= 1"}]
    assert rejected.json()["errorMessage"] == f"event failed validation: record {second}: $.qty: must be >= 1 (minimum)"
    assert accepted.function_error is None and accepted.json()["event"] == batch


ORDER_APP = '''
import json

def handler(request, context):
    order = json.loads(request["body"])
    return {"statusCode": 201, "body": {"orderId": "o-" + order["name"], "qty": order["qty"]}}
'''


@pytest.mark.parametrize("mode", ["exec", "persistent"])
def test_behind_http_the_body_is_checked_and_the_400_gets_https_headers(tmp_path: Path, mode: str) -> None:
    """http first (as its README says), validate inside it: validate reads http's request
    shape, answers in http's lenient response shape, and checks the handler's object body."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(ORDER_APP)
    response_schema = {"type": "object", "required": ["orderId"], "properties": {"qty": {"maximum": 10}}}
    pipeline = pipeline_for(tmp_path, app, [
        {"name": "http", "mode": mode, "hooks": ["before", "after", "error"],
         "env": {"HTTP_CORS_ORIGINS": "https://shop.example.com"}},
        {"name": "validate", "command": str(VALIDATE), "mode": mode, "hooks": ["before", "after"],
         "env": {"VALIDATE_SCHEMA_JSON": json.dumps(SCHEMA), "VALIDATE_RESPONSE_SCHEMA_JSON": json.dumps(response_schema)}},
    ])
    request = json.loads((AWS_EVENTS / "apigw-v2-http-request.json").read_text())
    request["headers"]["origin"] = "https://shop.example.com"

    def post(body: dict[str, object]) -> dict[str, object]:
        return {**request, "body": json.dumps(body), "isBase64Encoded": False}

    with orchestrated(pipeline) as emulator:
        good = emulator.invoke(json.dumps(post({"name": "widget", "qty": 2})).encode()).json()
        bad = emulator.invoke(json.dumps(post(BAD)).encode())
        too_many = emulator.invoke(json.dumps(post({"name": "widget", "qty": 50})).encode()).json()

    assert good["statusCode"] == 201 and json.loads(good["body"]) == {"orderId": "o-widget", "qty": 2}
    answer = bad.json()
    assert answer["statusCode"] == 400
    headers = {name.lower(): value for name, value in answer["headers"].items()}
    assert headers["access-control-allow-origin"] == "https://shop.example.com"  # http's CORS on validate's 400
    assert json.loads(answer["body"]) == {"message": "Request body failed validation", "errors": BAD_ERRORS,
                                          "requestId": bad.request_id}
    assert too_many["statusCode"] == 500  # the handler's answer broke the response schema: http's 500
