"""The `log` middleware as a real process: one JSON line per hook, payload untouched."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mw_harness import TRACE, Persistent, middleware, run_exec

LOG = middleware("log")
Spawn = Callable[..., Persistent]

EVENT = {
    "user": {"name": "ada", "Password": "hunter2", "profile": {"apiToken": "tok-1", "age": 36}},
    "headers": {"Authorization": "Bearer abc", "Cookie": "sid=1", "X-Api-Key": "k", "Accept": "*/*"},
    "multiValueHeaders": {"cookie": ["a=1", "b=2"], "accept": ["*/*"]},
    "items": [{"client_secret": "s3"}, {"ok": True}],
    "rawQueryString": "page=2&access_token=zzz",
    "body": json.dumps({"login": "ada", "password": "pw"}),
}
SECRETS = ["hunter2", "tok-1", "Bearer abc", "sid=1", '"k"', "a=1", "s3", "zzz", "pw\\"]


def log_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def only_line(stderr: str) -> dict[str, Any]:
    lines = log_lines(stderr)
    assert len(lines) == 1, stderr
    return lines[0]


def test_exec_passes_the_payload_through_and_logs_one_line(tmp_path: Path) -> None:
    payload = b'{"a":  1,\n "b": [true, null]}\n'
    result = run_exec(LOG, "before", payload, state_file=tmp_path / "state", request_id="req-9")
    assert result.status == 0
    assert result.stdout == payload
    line = only_line(result.stderr)
    assert line["level"] == "INFO"
    assert line["hook"] == "before"
    assert line["requestId"] == "req-9"
    assert line["traceId"] == TRACE
    assert line["middleware"] == "log"
    assert line["payloadBytes"] == len(payload)
    assert line["preview"] == '{"a":1,"b":[true,null]}'
    assert line["truncated"] is False
    assert line["ts"].endswith("Z")


def test_redaction_at_any_depth_in_headers_lists_bodies_and_query_strings() -> None:
    result = run_exec(LOG, "before", json.dumps(EVENT).encode())
    preview = json.loads(only_line(result.stderr)["preview"])
    assert preview["user"] == {"name": "ada", "Password": "[REDACTED]",
                               "profile": {"apiToken": "[REDACTED]", "age": 36}}
    assert preview["headers"] == {"Authorization": "[REDACTED]", "Cookie": "[REDACTED]",
                                  "X-Api-Key": "[REDACTED]", "Accept": "*/*"}
    assert preview["multiValueHeaders"] == {"cookie": "[REDACTED]", "accept": ["*/*"]}
    assert preview["items"] == [{"client_secret": "[REDACTED]"}, {"ok": True}]
    assert preview["rawQueryString"] == "page=2&access_token=[REDACTED]"
    assert json.loads(preview["body"]) == {"login": "ada", "password": "[REDACTED]"}
    for secret in SECRETS:
        assert secret not in result.stderr


def test_an_empty_sensitive_value_is_shown_as_it_is() -> None:
    """Nothing to hide in `cookies: []` or `password: ""`: the log says the value was empty."""
    event = {"cookies": [], "password": "", "token": None, "cookie": {}, "secret": "s1", "authorization": [""]}
    result = run_exec(LOG, "before", json.dumps(event).encode())
    assert json.loads(only_line(result.stderr)["preview"]) == {
        "cookies": [], "password": "", "token": None, "cookie": {}, "secret": "[REDACTED]",
        "authorization": "[REDACTED]"}


@pytest.mark.parametrize("event, redacted", [
    # Spelt so that a search of the raw bytes for the words misses them: each must still go.
    (b'{"\\u0074oken": "t1"}', {"token": "[REDACTED]"}),
    ('{"x-api-\u212aey": "k1"}'.encode(), {"x-api-\u212aey": "[REDACTED]"}),  # Kelvin sign: lower() is "k"
    (b'{"q": "a=1&\\u0073ecret=s1"}', {"q": "a=1&secret=[REDACTED]"}),
    (b'{"body": "{\\"PASSWORD\\": \\"p1\\"}"}', {"body": '{"PASSWORD":"[REDACTED]"}'}),
])
def test_redaction_is_not_fooled_by_escapes_or_unicode_case(event: bytes, redacted: dict[str, Any]) -> None:
    result = run_exec(LOG, "before", event)
    assert json.loads(only_line(result.stderr)["preview"]) == redacted
    for secret in ("t1", "k1", "s1", "p1"):
        assert secret not in result.stderr


def test_an_event_with_nothing_to_hide_is_shown_as_it_is() -> None:
    """No secret word anywhere (most SQS, S3, EventBridge events): nothing is rewritten,
    an embedded JSON body included."""
    event = {"Records": [{"body": '{"order": 7,  "note": "a = b"}', "eventSource": "aws:sqs"}]}
    result = run_exec(LOG, "before", json.dumps(event).encode())
    assert json.loads(only_line(result.stderr)["preview"]) == event


def test_custom_redact_list_replaces_the_default() -> None:
    env = {"LOG_REDACT": "ssn, Name"}
    result = run_exec(LOG, "before", b'{"SSN": "123", "name": "ada", "password": "pw"}', env=env)
    preview = json.loads(only_line(result.stderr)["preview"])
    assert preview == {"SSN": "[REDACTED]", "name": "[REDACTED]", "password": "pw"}
    unredacted = run_exec(LOG, "before", b'{"password": "pw"}', env={"LOG_REDACT": ""})
    assert json.loads(only_line(unredacted.stderr)["preview"]) == {"password": "pw"}


def test_truncation_respects_the_byte_limit_and_redacts_first() -> None:
    event = {"password": "p" * 50, "data": "é" * 500}
    result = run_exec(LOG, "before", json.dumps(event).encode(), env={"LOG_MAX_BYTES": "41"})
    line = only_line(result.stderr)
    assert line["truncated"] is True
    assert len(line["preview"].encode()) <= 41
    assert line["preview"].startswith('{"password":"[REDACTED]","data":"éé')
    assert "ppp" not in result.stderr
    assert line["payloadBytes"] == len(json.dumps(event).encode())


def test_preview_can_be_turned_off() -> None:
    line = only_line(run_exec(LOG, "before", b'{"a": 1}', env={"LOG_MAX_BYTES": "0"}).stderr)
    assert "preview" not in line and line["payloadBytes"] == 8


def test_bad_max_bytes_is_a_start_error() -> None:
    result = run_exec(LOG, "before", b"{}", env={"LOG_MAX_BYTES": "lots"})
    assert result.status == 1
    assert "LOG_MAX_BYTES must be a non-negative integer" in result.stderr_tail()


def test_text_and_binary_payloads() -> None:
    form = b"user=ada&password=pw&token=t1"
    result = run_exec(LOG, "before", form, content_type="application/x-www-form-urlencoded")
    assert result.stdout == form
    assert only_line(result.stderr)["preview"] == "user=ada&password=[REDACTED]&token=[REDACTED]"

    raw = b"Host: x\r\nAuthorization: Basic Zm9v\r\n"
    text = run_exec(LOG, "before", raw, content_type="text/plain")
    assert only_line(text.stderr)["preview"] == "Host: x\r\nAuthorization: [REDACTED]\r\n"

    blob = b"\x00\xff\xfe binary"
    binary = run_exec(LOG, "before", blob, content_type="application/octet-stream")
    assert binary.stdout == blob
    line = only_line(binary.stderr)
    assert line["binary"] is True and "preview" not in line


def test_exec_duration_from_before_to_after_via_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    run_exec(LOG, "before", b"{}", state_file=state)
    time.sleep(0.2)
    result = run_exec(LOG, "after", b'{"ok": true}', state_file=state)
    assert result.stdout == b'{"ok": true}'
    line = only_line(result.stderr)
    assert line["hook"] == "after"
    assert 200 <= line["durationMs"] < 10_000


def test_error_hook_logs_at_error_level_with_the_error_type(tmp_path: Path) -> None:
    err = b'{"errorType": "Handler.Crash", "errorMessage": "boom", "token": "t"}'
    result = run_exec(LOG, "error", err, state_file=tmp_path / "state")
    assert result.status == 0
    assert result.stdout == err
    line = only_line(result.stderr)
    assert (line["level"], line["hook"], line["errorType"]) == ("ERROR", "error", "Handler.Crash")
    assert "durationMs" not in line  # no before ran for this invocation


def test_persistent_byte_identical_binary_and_large_payloads(spawn: Spawn) -> None:
    mw = spawn(LOG)
    assert mw.ready is not None and mw.ready.header["hooks"] == ["before", "after", "error"]
    binary = b"\x00\n" * 1000 + os.urandom(4096)
    answer = mw.call("before", binary, content_type="application/octet-stream")
    assert (answer.action, answer.payload) == ("continue", binary)
    big = json.dumps({"blob": "x" * (1 << 20), "secret": "s"}).encode()
    answer = mw.call("before", big)
    assert answer.payload == big
    lines = log_lines(mw.log())
    assert [line["payloadBytes"] for line in lines] == [len(binary), len(big)]
    assert lines[1]["truncated"] is True and len(lines[1]["preview"].encode()) <= 1024
    assert '"s"' not in mw.log()


def test_persistent_state_round_trip_gives_duration(spawn: Spawn) -> None:
    mw = spawn(LOG)
    first = mw.call("before", b'{"n": 1}', request_id="a")
    assert first.payload == b'{"n": 1}'
    state = first.header["state"]
    assert isinstance(state["startedAtMs"], float)
    time.sleep(0.1)
    second = mw.call("after", b'{"r": 1}', request_id="a", state=state)
    assert second.payload == b'{"r": 1}'
    after_line = log_lines(mw.log())[-1]
    assert after_line["requestId"] == "a" and after_line["hook"] == "after"
    assert 100 <= after_line["durationMs"] < 10_000


def test_persistent_many_requests_one_line_each(spawn: Spawn) -> None:
    mw = spawn(LOG)
    for i in range(20):
        payload = json.dumps({"i": i, "password": f"pw{i}"}).encode()
        assert mw.call("before", payload, request_id=f"r{i}").payload == payload
    lines = log_lines(mw.log())
    assert [line["requestId"] for line in lines] == [f"r{i}" for i in range(20)]
    assert all("pw" not in line["preview"] for line in lines)
    mw.assert_quiet()


@pytest.mark.parametrize("payload", [b"", b"null", b'"just a string"', b"[1, 2]"])
def test_unusual_json_payloads_pass_through(payload: bytes, spawn: Spawn) -> None:
    assert run_exec(LOG, "after", payload).stdout == payload
    assert spawn(LOG).call("after", payload).payload == payload


@pytest.mark.parametrize(("path", "event", "expected"), [
    ("API_GATEWAY_REST", {"requestContext": {"requestId": "c-1"}, "body": None}, "c-1"),  # Powertools' preset
    ('headers."x-correlation-id"', {"headers": {"x-correlation-id": "c-2"}}, "c-2"),
    ("powertools_json(body).correlation", {"body": json.dumps({"correlation": 7})}, "7"),
    ('headers."x-correlation-id"', {"headers": {}}, None),  # not there: no field, no failure
])
def test_a_correlation_id_from_the_event_is_on_every_line_of_the_invocation(
        tmp_path: Path, path: str, event: dict[str, Any], expected: str | None) -> None:
    """LOG_CORRELATION_ID_PATH, as Powertools Logger's correlation_id_path: found in the
    event at `before`, carried by that line and by the invocation's after/error lines."""
    env = {"LOG_CORRELATION_ID_PATH": path}
    state = tmp_path / "state"
    first = run_exec(LOG, "before", json.dumps(event).encode(), state_file=state, env=env)
    then = run_exec(LOG, "after", b'{"ok": true}', state_file=state, env=env)
    assert first.status == then.status == 0
    for result in (first, then):
        assert only_line(result.stderr).get("correlationId") == expected


def test_a_correlation_path_outside_the_subset_stops_the_start() -> None:
    result = run_exec(LOG, "before", b"{}", env={"LOG_CORRELATION_ID_PATH": "Records[*].id"})
    assert result.status != 0 and "Log.ConfigError: LOG_CORRELATION_ID_PATH: unexpected '*'" in result.stderr
