"""The `validate` middleware as a real process, in exec and persistent mode."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_events import http_source as detect
from aws_fixtures import FIXTURES as AWS_EVENTS
from mw_harness import Persistent, middleware, run_exec

VALIDATE = middleware("validate")

SCHEMA = {
    "type": "object",
    "required": ["name", "qty"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "qty": {"type": "integer", "minimum": 1},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}
ENV = {"VALIDATE_SCHEMA_JSON": json.dumps(SCHEMA)}
GOOD = b'{"name": "widget",  "qty": 2}'  # odd spacing: output must be these exact bytes
BAD = b'{"name": "", "qty": 0, "tags": ["a", 3], "color": "red"}'
BAD_ERRORS = [
    {"path": "$.name", "rule": "minLength", "message": "must be at least 1 character long"},
    {"path": "$.qty", "rule": "minimum", "message": "must be >= 1"},
    {"path": "$.tags[1]", "rule": "type", "message": "must be string, got integer"},
    {"path": "$.color", "rule": "additionalProperties", "message": "is not allowed"},
]
BAD_MESSAGE = (
    "event failed validation: $.name: must be at least 1 character long (minLength); "
    "$.qty: must be >= 1 (minimum); $.tags[1]: must be string, got integer (type); "
    "$.color: is not allowed (additionalProperties)"
)

Spawn = Callable[..., Persistent]


def http_event(kind: str, body: str | None, *, base64_body: bool = False) -> dict[str, Any]:
    """A minimal event of each HTTP source, shaped like the real ones."""
    if kind == "apigw-v1":
        event: dict[str, Any] = {
            "resource": "/orders", "path": "/orders", "httpMethod": "POST",
            "headers": {"Content-Type": "application/json"}, "multiValueHeaders": {},
            "requestContext": {"resourceId": "abc", "stage": "prod", "requestId": "r"},
        }
    elif kind in ("apigw-v2", "function-url"):
        domain = "x.lambda-url.us-east-1.on.aws" if kind == "function-url" else "x.execute-api.us-east-1.amazonaws.com"
        event = {
            "version": "2.0", "routeKey": "$default", "rawPath": "/orders", "headers": {},
            "requestContext": {"domainName": domain, "http": {"method": "POST", "path": "/orders"}},
        }
    elif kind == "alb":
        event = {"httpMethod": "POST", "path": "/orders", "headers": {},
                 "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:tg"}}}
    elif kind == "alb-multi":
        event = {"httpMethod": "POST", "path": "/orders", "multiValueHeaders": {},
                 "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:tg"}}}
    else:
        raise ValueError(kind)
    if base64_body and body is not None:
        body = base64.b64encode(body.encode()).decode()
    event["body"] = body
    event["isBase64Encoded"] = base64_body
    return event


EXPECTED_SHAPE = {
    "apigw-v1": {"headers": {"Content-Type": "application/json"}},
    "apigw-v2": {"headers": {"content-type": "application/json"}},
    "function-url": {"headers": {"content-type": "application/json"}},
    "alb": {"statusDescription": "400 Bad Request", "headers": {"Content-Type": "application/json"}},
    "alb-multi": {"statusDescription": "400 Bad Request", "multiValueHeaders": {"Content-Type": ["application/json"]}},
}


def check_400(response: dict[str, Any], kind: str) -> dict[str, Any]:
    body = json.loads(response.pop("body"))
    assert response == {"statusCode": 400, "isBase64Encoded": False, **EXPECTED_SHAPE[kind]}
    return body


# ------------------------------------------------------------------------ plain events


def test_exec_valid_event_passes_byte_identical() -> None:
    result = run_exec(VALIDATE, "before", GOOD, env=ENV)
    assert result.status == 0, result.stderr
    assert result.stdout == GOOD


def test_exec_invalid_event_fails_with_its_error_object_naming_path_and_rule() -> None:
    result = run_exec(VALIDATE, "before", BAD, env=ENV)
    assert result.status == 4  # STDOUT is the error object, kept as it is
    assert result.json() == {"errorType": "Validation.Failed", "errorMessage": BAD_MESSAGE, "errors": BAD_ERRORS}
    assert result.stderr_tail() == f"Validation.Failed: {BAD_MESSAGE}"


def test_persistent_valid_and_invalid_events(spawn: Spawn) -> None:
    mw = spawn(VALIDATE, ENV)
    assert mw.ready is not None and mw.ready.header["hooks"] == ["before"]
    good = mw.call("before", GOOD)
    assert (good.action, good.payload) == ("continue", GOOD)
    bad = mw.call("before", BAD)
    assert bad.action == "fail"
    assert bad.json() == {"errorType": "Validation.Failed", "errorMessage": BAD_MESSAGE, "errors": BAD_ERRORS}
    again = mw.call("before", GOOD)
    assert (again.action, again.payload) == ("continue", GOOD)


def test_persistent_many_errors_are_summarised(spawn: Spawn) -> None:
    mw = spawn(VALIDATE, {"VALIDATE_SCHEMA_JSON": '{"type": "array", "items": {"type": "string"}}'})
    err = mw.call("before", json.dumps(list(range(8))).encode()).json()
    assert err["errorMessage"].endswith("$[4]: must be string, got integer (type); and 3 more")
    assert [e["path"] for e in err["errors"]] == [f"$[{i}]" for i in range(8)]


def test_event_that_is_not_json(spawn: Spawn) -> None:
    mw = spawn(VALIDATE, ENV)
    answer = mw.call("before", b"\x00\x01 not json")
    assert answer.action == "fail"
    assert answer.json()["errorType"] == "Validation.Failed"
    assert answer.json()["errorMessage"].startswith("event is not valid JSON")


def test_other_hooks_pass_through_untouched(spawn: Spawn) -> None:
    payload = b'{"statusCode": 500}'
    assert run_exec(VALIDATE, "after", payload, env=ENV).stdout == payload
    mw = spawn(VALIDATE, ENV)
    assert mw.call("error", payload).payload == payload


def test_schema_file_relative_to_the_task_root(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "order.json").write_text(json.dumps(SCHEMA))
    env = {"VALIDATE_SCHEMA": "schemas/order.json", "LAMBDA_TASK_ROOT": str(tmp_path)}
    assert run_exec(VALIDATE, "before", GOOD, env=env).status == 0
    assert run_exec(VALIDATE, "before", BAD, env=env).status == 4


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SchemaError: no schema: set VALIDATE_SCHEMA"),
        ({"VALIDATE_SCHEMA": "/nonexistent/schema.json"},
         "SchemaError: cannot read VALIDATE_SCHEMA '/nonexistent/schema.json'"),
        ({"VALIDATE_SCHEMA_JSON": "{"}, "SchemaError: VALIDATE_SCHEMA_JSON is not JSON"),
        ({"VALIDATE_SCHEMA_JSON": '{"properties": {"id": {"type": "string"}}, "requried": ["id"]}'},
         "SchemaError: VALIDATE_SCHEMA_JSON: #: unknown keyword 'requried' (did you mean 'required'?)"),
        ({"VALIDATE_SCHEMA_JSON": '{"$ref": "https://example.com/order.json"}'},
         "SchemaError: VALIDATE_SCHEMA_JSON: #: remote $ref 'https://example.com/order.json' is not fetched"),
        ({"VALIDATE_SCHEMA_JSON": "{}", "VALIDATE_SCHEMA": "x.json"}, "SchemaError: set VALIDATE_SCHEMA or "),
        ({"VALIDATE_RESPONSE_SCHEMA_JSON": '{"minimun": 1}'},
         "SchemaError: VALIDATE_RESPONSE_SCHEMA_JSON: #: unknown keyword 'minimun'"),
        ({**ENV, "VALIDATE_ENVELOPE": "sqs"}, "ConfigError: VALIDATE_ENVELOPE='sqs': must be one of http, records, none"),
        ({**ENV, "VALIDATE_MAX_DEPTH": "deep"}, "ConfigError: VALIDATE_MAX_DEPTH='deep': must be a whole number"),
    ],
)
def test_bad_configuration_stops_at_start(env: dict[str, str], message: str) -> None:
    result = run_exec(VALIDATE, "before", GOOD, env=env)
    assert result.status == 1
    assert result.stderr_tail().startswith(f"Validation.{message}")
    # In persistent mode it exits before the ready frame: a failed start, not a failed event.
    mw = Persistent(VALIDATE, env)
    try:
        assert mw.proc.wait(timeout=20) == 1
        assert f"Validation.{message}" in mw.stderr()
    finally:
        mw.kill()


def test_unknown_keywords_as_warnings_on_request(spawn: Spawn) -> None:
    env = {"VALIDATE_SCHEMA_JSON": '{"type": "object", "requried": ["id"]}', "VALIDATE_UNKNOWN_KEYWORDS": "warn"}
    mw = spawn(VALIDATE, env)
    assert mw.call("before", b"{}").action == "continue"
    assert ("Validation.Warning: VALIDATE_SCHEMA_JSON: #: unknown keyword 'requried' "
            "(did you mean 'required'?): ignored") in mw.stderr()


# ------------------------------------------------------------------------ HTTP events

KINDS = ["apigw-v1", "apigw-v2", "function-url", "alb", "alb-multi"]


@pytest.mark.parametrize("kind", KINDS)
def test_http_invalid_body_gets_a_400_in_the_source_shape(kind: str, spawn: Spawn) -> None:
    event = json.dumps(http_event(kind, BAD.decode())).encode()
    result = run_exec(VALIDATE, "before", event, env=ENV)
    assert result.status == 3, result.stderr
    assert check_400(result.json(), kind) == {"message": "Request body failed validation", "errors": BAD_ERRORS,
                                         "requestId": "req-1"}  # to find the invocation in the logs

    answer = spawn(VALIDATE, ENV).call("before", event)
    assert answer.action == "respond"
    assert check_400(answer.json(), kind) == {"message": "Request body failed validation", "errors": BAD_ERRORS,
                                         "requestId": "req-1"}  # to find the invocation in the logs


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("base64_body", [False, True])
def test_http_valid_body_passes_the_event_byte_identical(kind: str, base64_body: bool) -> None:
    event = json.dumps(http_event(kind, GOOD.decode(), base64_body=base64_body), indent=1).encode()
    result = run_exec(VALIDATE, "before", event, env=ENV)
    assert result.status == 0, result.stderr
    assert result.stdout == event


def test_http_body_that_is_not_json_gets_a_400(spawn: Spawn) -> None:
    mw = spawn(VALIDATE, ENV)
    answer = mw.call("before", json.dumps(http_event("apigw-v2", "name=widget&qty=2")).encode())
    assert answer.action == "respond"
    body = check_400(answer.json(), "apigw-v2")
    assert body["message"] == "Request body is not valid JSON"
    assert [(e["path"], e["rule"]) for e in body["errors"]] == [("$", "json")]


def test_http_body_flagged_base64_that_is_not_gets_a_400(spawn: Spawn) -> None:
    event = http_event("apigw-v1", "not base64 at all!")
    event["isBase64Encoded"] = True
    answer = spawn(VALIDATE, ENV).call("before", json.dumps(event).encode())
    assert answer.action == "respond"
    assert check_400(answer.json(), "apigw-v1")["message"] == "Request body is not valid JSON"


def test_http_without_body_is_validated_as_null(spawn: Spawn) -> None:
    mw = spawn(VALIDATE, ENV)
    body = check_400(mw.call("before", json.dumps(http_event("alb", None)).encode()).json(), "alb")
    assert body["errors"] == [{"path": "$", "rule": "type", "message": "must be object, got null"}]
    optional = {"VALIDATE_SCHEMA_JSON": json.dumps({"type": ["object", "null"]})}
    assert spawn(VALIDATE, optional).call("before", json.dumps(http_event("alb", "")).encode()).action == "continue"


# ------------------------------------------------------------------------ real AWS samples


def aws_samples() -> list[Path]:
    return sorted(AWS_EVENTS.glob("*.json")) if AWS_EVENTS.is_dir() else []


def expected_source(name: str) -> str | None:
    if "-response" in name:
        return None
    for prefix, source in (("apigw-v1-", "apigw-v1"), ("apigw-v2-", "apigw-v2"),
                           ("function-url-", "function-url"), ("alb-", "alb")):
        if name.startswith(prefix):
            return source
    return None


@pytest.mark.skipif(not aws_samples(), reason="shared AWS event samples not found")
def test_detection_on_real_aws_events() -> None:
    for path in aws_samples():
        assert detect(json.loads(path.read_bytes())) == expected_source(path.name), path.name


@pytest.mark.skipif(not aws_samples(), reason="shared AWS event samples not found")
def test_real_http_events_with_a_bad_body_get_400(spawn: Spawn) -> None:
    mw = spawn(VALIDATE, ENV)
    for path in aws_samples():
        source = expected_source(path.name)
        if source is None:
            continue
        event = copy.deepcopy(json.loads(path.read_bytes()))
        event["body"], event["isBase64Encoded"] = '{"qty": "two"}', False
        answer = mw.call("before", json.dumps(event).encode())
        assert answer.action == "respond", path.name
        response = answer.json()
        assert response["statusCode"] == 400, path.name
        assert json.loads(response["body"])["errors"] == [
            {"path": "$.name", "rule": "required", "message": "is required"},
            {"path": "$.qty", "rule": "type", "message": "must be integer, got string"},
        ]
        uses_multi = source == "alb" and "headers" not in event
        assert ("multiValueHeaders" in response) == uses_multi, path.name


@pytest.mark.skipif(not aws_samples(), reason="shared AWS event samples not found")
def test_real_non_http_events_are_validated_whole(spawn: Spawn) -> None:
    mw = spawn(VALIDATE, {"VALIDATE_SCHEMA_JSON": '{"type": "object", "required": ["Records"]}'})
    sqs = (AWS_EVENTS / "sqs-batch.json").read_bytes()
    assert mw.call("before", sqs).payload == sqs
    answer = mw.call("before", (AWS_EVENTS / "eventbridge-scheduled-event.json").read_bytes())
    assert answer.action == "fail"
    assert answer.json()["errorMessage"] == "event failed validation: $.Records: is required (required)"


# ------------------------------------------------------------------------ limits


def test_an_absurdly_deep_event_is_a_clear_failure_not_a_crash(spawn: Spawn) -> None:
    schema = {"$ref": "#/$defs/n", "$defs": {"n": {"type": "object", "properties": {"c": {"$ref": "#/$defs/n"}}}}}
    mw = spawn(VALIDATE, {"VALIDATE_SCHEMA_JSON": json.dumps(schema)})
    valid_600 = b'{"c":' * 600 + b"{}" + b"}" * 600
    assert mw.call("before", valid_600).payload == valid_600
    deep = b'{"c":' * 100_000 + b"{}" + b"}" * 100_000
    answer = mw.call("before", deep)
    assert answer.action == "fail"
    assert answer.json()["errorMessage"] == (
        "event nests 100001 levels deep, more than the limit of 800 (VALIDATE_MAX_DEPTH)")
    assert answer.json()["errors"][0]["rule"] == "limit"
    assert mw.call("before", valid_600).action == "continue"  # still serving


def test_size_limit(spawn: Spawn) -> None:
    mw = spawn(VALIDATE, {**ENV, "VALIDATE_MAX_BYTES": "100"})
    answer = mw.call("before", json.dumps({"name": "x" * 200, "qty": 1}).encode())
    assert answer.json()["errorMessage"] == "event is 222 bytes, more than the limit of 100 (VALIDATE_MAX_BYTES)"
    # The body is parsed on its own: its nesting is checked on its own too.
    event = json.dumps(http_event("apigw-v2", json.dumps({"name": [[[[["x"]]]]], "qty": 1}))).encode()
    mw = spawn(VALIDATE, {**ENV, "VALIDATE_MAX_DEPTH": "4"})
    body = check_400(mw.call("before", event).json(), "apigw-v2")
    assert body == {"message": "Request body is over the size or nesting limit", "errors": [
        {"path": "$", "rule": "limit", "message": "nests 6 levels deep, more than the limit of 4 (VALIDATE_MAX_DEPTH)"}],
        "requestId": "req-1"}


# ------------------------------------------------------------------------ batch records

ORDER_SCHEMA = {"VALIDATE_SCHEMA_JSON": json.dumps({"type": "object", "required": ["message"]}),
                "VALIDATE_ENVELOPE": "records"}


def test_records_envelope_on_the_real_sqs_sample(spawn: Spawn) -> None:
    mw = spawn(VALIDATE, ORDER_SCHEMA)
    sqs = (AWS_EVENTS / "sqs-batch.json").read_bytes()
    answer = mw.call("before", sqs)
    assert answer.action == "fail"
    err = answer.json()
    # The first record's body is "Test message.": not JSON; the second is {"message": "foo1"}.
    [problem] = err["errors"]
    assert problem["record"] == "059f36b4-87a3-44ab-83d2-661975830a7d"
    assert (problem["path"], problem["rule"]) == ("$", "json")
    assert err["errorMessage"].startswith(
        "event failed validation: record 059f36b4-87a3-44ab-83d2-661975830a7d: $: is not valid JSON")
    records = json.loads(sqs)
    records["Records"][0]["body"] = '{"message": "fixed"}'
    fixed = json.dumps(records).encode()
    assert mw.call("before", fixed).payload == fixed


def kinesis_batch(*bodies: bytes) -> dict[str, Any]:
    event = json.loads((AWS_EVENTS / "kinesis.json").read_bytes())
    template = event["Records"][0]
    event["Records"] = []
    for i, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["kinesis"]["data"] = base64.b64encode(body).decode()
        record["kinesis"]["sequenceNumber"] = f"4956{i}"
        event["Records"].append(record)
    return event


def test_records_envelope_on_kinesis_and_sns() -> None:
    event = kinesis_batch(b'{"message": 1}', b'{"other": 2}', b'{"message": 3}')
    result = run_exec(VALIDATE, "before", json.dumps(event).encode(), env=ORDER_SCHEMA)
    assert result.status == 4
    assert result.json()["errors"] == [{"record": "49561", "path": "$.message", "rule": "required", "message": "is required"}]
    sns = json.loads((AWS_EVENTS / "sns.json").read_bytes())
    sns["Records"][0]["Sns"]["Message"] = '{"message": "hi"}'
    assert run_exec(VALIDATE, "before", json.dumps(sns).encode(), env=ORDER_SCHEMA).status == 0


# ------------------------------------------------------------------------ responses

RESPONSE_ENV = {**ENV, "VALIDATE_RESPONSE_SCHEMA_JSON": json.dumps(
    {"type": "object", "required": ["orderId"], "properties": {"orderId": {"type": "string"}}})}


def test_response_schema_checks_the_handlers_response_in_after(spawn: Spawn) -> None:
    mw = spawn(VALIDATE, RESPONSE_ENV)
    assert mw.ready is not None and mw.ready.header["hooks"] == ["before", "after"]
    good = b'{"orderId": "o-1"}'
    assert (mw.call("after", good).action, mw.call("after", good).payload) == ("continue", good)
    bad = mw.call("after", b'{"orderId": 7}')
    assert bad.action == "fail"
    assert bad.json() == {
        "errorType": "Validation.ResponseFailed",
        "errorMessage": "response failed validation: $.orderId: must be string, got integer (type)",
        "errors": [{"path": "$.orderId", "rule": "type", "message": "must be string, got integer"}]}
    # An HTTP response: its body is what is checked.
    http_ok = json.dumps({"statusCode": 200, "body": '{"orderId": "o-1"}'}).encode()
    assert mw.call("after", http_ok).action == "continue"
    http_bad = mw.call("after", json.dumps({"statusCode": 200, "body": "{}"}).encode())
    assert http_bad.json()["errorMessage"] == "response failed validation: $.orderId: is required (required)"


def test_response_only(spawn: Spawn) -> None:
    env = {"VALIDATE_RESPONSE_SCHEMA_JSON": RESPONSE_ENV["VALIDATE_RESPONSE_SCHEMA_JSON"]}
    mw = spawn(VALIDATE, env)
    assert mw.ready is not None and mw.ready.header["hooks"] == ["after"]
    result = run_exec(VALIDATE, "after", b'"text"', env=env)
    assert result.status == 4
    assert result.json()["errorType"] == "Validation.ResponseFailed"
