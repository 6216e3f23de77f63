"""The function log's lines: text or JSON as Lambda's logging controls ask, middleware JSON kept whole."""

from __future__ import annotations

import json
import re

import pytest

from openruntime.function_log import LogSettings, middleware_line, orchestrator_line, timestamp
from openruntime.invocation import Invocation, Outcome
from openruntime.orchestrator.invocation_log import invocation_line

TEXT = LogSettings({})
JSON = LogSettings({"AWS_LAMBDA_LOG_FORMAT": "JSON"})
JSON_WARN = LogSettings({"AWS_LAMBDA_LOG_FORMAT": "json", "AWS_LAMBDA_LOG_LEVEL": "warn"})


def test_timestamp_is_utc_with_milliseconds() -> None:
    assert timestamp(0.5) == "1970-01-01T00:00:00.500Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", timestamp())


def test_text_format_prefixes_plain_lines() -> None:
    assert middleware_line("auth", "req-1", "token expired", TEXT) == "[auth] req-1 token expired"
    assert orchestrator_line("init failed: x", "ERROR", settings=TEXT) == "[openruntime] init failed: x"


def test_json_format_wraps_plain_lines_in_an_object() -> None:
    record = json.loads(middleware_line("auth", "req-1", "token expired", JSON))
    assert record["middleware"] == "auth"
    assert record["requestId"] == "req-1"
    assert record["message"] == "token expired"
    assert record["level"] == "INFO"
    line = orchestrator_line("fatal: upstream gone", "FATAL", "req-2", JSON)
    assert line is not None
    record = json.loads(line)
    assert (record["level"], record["logger"], record["message"], record["requestId"]) == (
        "FATAL", "openruntime", "fatal: upstream gone", "req-2")


@pytest.mark.parametrize("settings", [TEXT, JSON], ids=["text", "json"])
def test_a_middleware_json_object_stays_parseable_in_both_formats(settings: LogSettings) -> None:
    line = '{"ts":"2026-01-01T00:00:00.000Z","level":"WARN","msg":"slow","n":1}'
    record = json.loads(middleware_line("cache", "req-3", line, settings))
    assert record == {"ts": "2026-01-01T00:00:00.000Z", "level": "WARN", "msg": "slow", "n": 1,
                      "middleware": "cache", "requestId": "req-3"}


def test_a_line_that_says_whose_it_is_passes_byte_for_byte() -> None:
    line = '{"middleware":"log","requestId":"r","preview":"{\\"a\\": 1}"}'
    assert middleware_line("log", "other", line, TEXT) == line
    assert middleware_line("log", "other", line, JSON) == line


@pytest.mark.parametrize("line", ["{not json}", "[1, 2]", '"{}"', "{", "} {"])
def test_lines_that_only_look_like_objects_are_plain(line: str) -> None:
    assert middleware_line("m", "r", line, TEXT) == f"[m] r {line}"
    assert json.loads(middleware_line("m", "r", line, JSON))["message"] == line


def test_log_level_filters_our_lines_only_in_json_format() -> None:
    assert orchestrator_line("restarted", "INFO", settings=JSON_WARN) is None
    assert orchestrator_line("restarted", "WARN", settings=JSON_WARN) is not None
    text_warn = LogSettings({"AWS_LAMBDA_LOG_LEVEL": "ERROR"})
    assert orchestrator_line("restarted", "INFO", settings=text_warn) == "[openruntime] restarted"
    unknown = LogSettings({"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "LOUD"})
    assert orchestrator_line("x", "TRACE", settings=unknown) is not None
    # A middleware's lines are filtered as Lambda filters a function's: by the `level` of a
    # JSON line (any case), a plain line counting as INFO; only in JSON format.
    assert middleware_line("m", "r", "debug detail", JSON_WARN) is None
    assert middleware_line("m", "r", '{"level": "debug", "msg": "x"}', JSON_WARN) is None
    assert middleware_line("m", "r", '{"level": "debug", "msg": "x", "middleware": "m", "requestId": "r"}',
                           JSON_WARN) is None
    assert middleware_line("m", "r", '{"msg": "no level: INFO"}', JSON_WARN) is None
    assert middleware_line("m", "r", '{"level": "warning", "msg": "Python logging"}', JSON_WARN) is not None
    assert middleware_line("m", "r", '{"level": "verbose", "msg": "unknown: INFO"}', JSON_WARN) is None
    kept = middleware_line("m", "r", '{"level": "error", "msg": "x"}', JSON_WARN)
    assert kept is not None and json.loads(kept)["level"] == "error"
    assert middleware_line("m", "r", "debug detail", text_warn) == "[m] r debug detail"


def test_a_json_object_line_gets_lambdas_timestamp_and_level_only_where_it_has_none() -> None:
    record = json.loads(middleware_line("m", "r", '{"msg": "x"}', JSON) or "")
    assert record["level"] == "INFO" and record["timestamp"].endswith("Z") and record["msg"] == "x"
    record = json.loads(middleware_line("m", "r", '{"msg": "x", "time": 5, "level": "WARN"}', JSON) or "")
    assert "timestamp" not in record and record["level"] == "WARN"
    assert json.loads(middleware_line("m", "r", '{"msg": "x"}', TEXT) or "") == {
        "msg": "x", "middleware": "m", "requestId": "r"}  # text format: the object as written


def _invocation() -> Invocation:
    return Invocation("req-9", 2**62, "arn:aws:lambda:us-east-1:1:function:f", None, None, "application/json", b"{}")


def test_invocation_line_in_json_carries_level_by_outcome_and_is_filtered_by_level() -> None:
    ok, failed = Outcome(b"{}"), Outcome.error(b"{}", "Handler.Boom")
    timings = {"handler": 0.002}
    record = json.loads(invocation_line(_invocation(), ok, 0.003, timings, JSON) or "")
    assert (record["level"], record["outcome"], record["requestId"]) == ("INFO", "success", "req-9")
    assert record["stagesMs"] == {"handler": 2.0}
    assert invocation_line(_invocation(), ok, 0.003, timings, JSON_WARN) is None
    record = json.loads(invocation_line(_invocation(), failed, 0.003, timings, JSON_WARN) or "")
    assert (record["level"], record["outcome"]) == ("ERROR", "error:Handler.Boom")
    text = invocation_line(_invocation(), ok, 0.003, timings, TEXT)
    assert text is not None and text.startswith("[openruntime] RequestId: req-9 Outcome: success")


def test_a_multi_line_message_stays_one_log_event() -> None:
    tail = "Traceback (most recent call last):\n  File x\r\nValueError: boom"
    line = orchestrator_line(f"skipped: {tail}", "WARN", settings=TEXT)
    assert line is not None and "\n" not in line
    assert line == "[openruntime] skipped: Traceback (most recent call last):\r  File x\rValueError: boom"
    record = json.loads(orchestrator_line(f"skipped: {tail}", "WARN", settings=JSON) or "")
    assert record["message"] == f"skipped: {tail}"  # JSON keeps it as it was, escaped
