"""Hostile and odd inputs a clean-room review fed the middlewares of the catalogue, each
once answered by a traceback or a wrong result. Every middleware is run as the
orchestrator runs it in exec mode (tests/middlewares/sdk/mw_harness.py): what is checked
is the clear answer a caller or an operator gets instead."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "sdk"))

from mw_harness import middleware, run_exec  # noqa: E402

HTTP, VALIDATE, BATCH, METRICS = (middleware(n) for n in ("http", "validate", "batch", "metrics"))


def v2(headers: dict[str, str], body: str | None = None, method: str = "GET") -> bytes:
    return json.dumps({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "", "headers": headers,
        "requestContext": {"http": {"method": method, "path": "/", "sourceIp": "127.0.0.1"}, "requestId": "r",
                           "domainName": "x.execute-api.us-east-1.amazonaws.com", "stage": "$default"},
        "body": body, "isBase64Encoded": False,
    }).encode()


def test_http_takes_an_empty_multi_value_origin_for_no_origin(tmp_path: Path) -> None:
    event = json.dumps({"resource": "/", "path": "/", "httpMethod": "GET", "headers": None,
                        "multiValueHeaders": {"Origin": []}, "queryStringParameters": None,
                        "multiValueQueryStringParameters": None,
                        "requestContext": {"stage": "prod", "requestId": "rq"}, "body": None,
                        "isBase64Encoded": False}).encode()
    for env in ({}, {"HTTP_CORS_ORIGINS": "https://a.example"}):
        result = run_exec(HTTP, "before", event, state_file=tmp_path / "s", env=env)
        assert result.status == 0, result.stderr
        assert result.json()["method"] == "GET"


def test_http_refuses_a_form_charset_that_is_not_a_text_encoding(tmp_path: Path) -> None:
    for charset in ("hex", "rot13", "zlib", "unicode_escape", "undefined", "punycode"):
        event = v2({"content-type": f"application/x-www-form-urlencoded; charset={charset}"}, "a=1", "POST")
        result = run_exec(HTTP, "before", event, state_file=tmp_path / "s", env={"HTTP_PARSE_FORMS": "1"})
        assert result.status == 3, (charset, result.stderr)  # answered, not crashed
        assert result.json()["statusCode"] == 415
    latin = v2({"content-type": "application/x-www-form-urlencoded; charset=iso-8859-1"}, "a=%E9", "POST")
    result = run_exec(HTTP, "before", latin, state_file=tmp_path / "s", env={"HTTP_PARSE_FORMS": "1"})
    assert result.status == 0 and result.json()["form"] == {"a": ["é"]}


def test_http_carries_lone_surrogates_through_every_hook(tmp_path: Path) -> None:
    state = tmp_path / "s"
    before = run_exec(HTTP, "before", v2({"x-a": "\ud800"}), state_file=state)
    assert before.status == 0, before.stderr
    assert before.json()["headers"]["x-a"] == ["\ud800"]
    after = run_exec(HTTP, "after", json.dumps({"statusCode": 200, "body": "\ud800"}).encode(), state_file=state)
    assert after.status == 0, after.stderr
    assert json.loads(after.stdout)["body"] == "\ud800"
    run_exec(HTTP, "before", v2({}), state_file=state)
    error = json.dumps({"errorType": "Validation.Failed", "errorMessage": "x\ud800"}).encode()
    failed = run_exec(HTTP, "error", error, state_file=state, env={"HTTP_EXPOSE_ERRORS": "1"})
    assert failed.status == 3 and failed.json()["statusCode"] == 400, failed.stderr


def test_http_refuses_a_status_written_in_other_digits(tmp_path: Path) -> None:
    state = tmp_path / "s"
    run_exec(HTTP, "before", v2({}), state_file=state)
    for status in ("²", "١٠٠"):
        result = run_exec(HTTP, "after", json.dumps({"statusCode": status}).encode(), state_file=state)
        assert "Traceback" not in result.stderr
        assert result.status != 0 or result.json()["statusCode"] != 100, result.stdout


def test_cors_never_grants_an_origin_outside_ascii(tmp_path: Path) -> None:
    kelvin = "https://\u212aa.example.com"  # 'K' (Kelvin sign) folds to 'k' under str.lower()
    env = {"HTTP_CORS_ORIGINS": "https://*.example.com"}
    state = tmp_path / "s"
    run_exec(HTTP, "before", v2({"origin": kelvin}), state_file=state, env=env)
    answer = run_exec(HTTP, "after", b'{"statusCode": 200}', state_file=state, env=env)
    headers = {k.lower(): v for k, v in answer.json()["headers"].items()}
    assert "access-control-allow-origin" not in headers


def test_validate_answers_lone_surrogates_as_invalid_json_not_a_traceback(tmp_path: Path) -> None:
    env = {"VALIDATE_SCHEMA_JSON": '{"type": "string"}'}
    http = run_exec(VALIDATE, "before", v2({"content-type": "application/json"}, '"\ud800"', "POST"), env=env)
    assert http.status == 3 and http.json()["statusCode"] == 400, http.stderr
    sqs = json.dumps({"Records": [{"messageId": "m-1", "eventSource": "aws:sqs", "body": '"\ud800"',
                                   "eventSourceARN": "arn:aws:sqs:us-east-1:1:q", "receiptHandle": "h",
                                   "attributes": {}, "messageAttributes": {}, "md5OfBody": "x",
                                   "awsRegion": "us-east-1"}]}).encode()
    records = run_exec(VALIDATE, "before", sqs, env={**env, "VALIDATE_ENVELOPE": "records"})
    assert records.status == 4 and "Traceback" not in records.stderr
    assert records.json()["errorType"] == "Validation.Failed" and records.json()["errors"][0]["record"] == "m-1"


def test_batch_refuses_non_standard_json_in_a_record_alone(tmp_path: Path) -> None:
    def record(message_id: str, body: str) -> dict[str, object]:
        return {"messageId": message_id, "eventSource": "aws:sqs", "body": body,
                "eventSourceARN": "arn:aws:sqs:us-east-1:1:q", "receiptHandle": "h", "attributes": {},
                "messageAttributes": {}, "md5OfBody": "x", "awsRegion": "us-east-1"}

    event = json.dumps({"Records": [record("bad", '{"x": 1e400, "y": NaN}'), record("good", '{"x": 1}')]}).encode()
    result = run_exec(BATCH, "before", event, state_file=tmp_path / "s", env={"BATCH_DECODE": "json"})
    assert result.status == 0, result.stderr
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} written into the event: a Node, Java or Go handler cannot parse it")

    bad, good = json.loads(result.stdout, parse_constant=refuse)["Records"]
    assert "decodeError" in bad and good["decoded"] == {"x": 1}


def test_metrics_writes_its_line_for_an_error_too_deep_to_parse(tmp_path: Path) -> None:
    state = tmp_path / "s"
    run_exec(METRICS, "before", b"{}", state_file=state, env={"TMPDIR": str(tmp_path)})
    deep = b"[" * 50_000 + b"]" * 50_000
    result = run_exec(METRICS, "error", deep, state_file=state, env={"TMPDIR": str(tmp_path)})
    assert result.status == 0 and "Traceback" not in result.stderr
    assert '"_aws"' in result.stderr  # its EMF line


def test_numbers_in_settings_are_ascii_digits_or_a_clear_start_failure() -> None:
    for exe, variable, extra in (
        (middleware("idempotency"), "IDEMPOTENCY_EXPIRES_AFTER_SECONDS", {"IDEMPOTENCY_FILE_DIR": "/tmp/x"}),
        (middleware("trace"), "OTEL_EXPORTER_OTLP_TIMEOUT", {}),
        (VALIDATE, "VALIDATE_MAX_DEPTH", {"VALIDATE_SCHEMA_JSON": "{}"}),
    ):
        result = run_exec(exe, "before", b"{}", env={**extra, variable: "²"})
        assert result.status == 1 and "Traceback" not in result.stderr, result.stderr
        assert variable in result.stderr_tail() and "ConfigError" in result.stderr_tail()
