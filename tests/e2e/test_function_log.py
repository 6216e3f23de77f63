"""The function's log as CloudWatch would get it: the orchestrator's STDERR, with the real
`log` middleware (persistent), a chatty exec middleware and the Python runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from openruntime.emulator.sandbox import Emulator, FunctionSettings
from tests.conftest import ORCHESTRATOR, write_executable, write_pipeline

HANDLER = '''
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
'''


def run_pipeline(tmp_path: Path, env: dict[str, str]) -> tuple[list[str], str, str]:
    """Two invocations (one succeeds, one fails); the log lines (STDOUT and STDERR, as
    CloudWatch gets both) and both request ids."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "fn.py").write_text(HANDLER)
    chatty = write_executable(tmp_path / "chatty", '#!/bin/sh\necho "hello from chatty $1" >&2\nexec cat\n')
    pipeline = write_pipeline(tmp_path, yaml.safe_dump({
        "runtime": {"name": "python", "handler": "fn.handler", "task_root": str(app)},
        "middlewares": [
            {"name": "log", "mode": "persistent", "hooks": ["before", "after", "error"]},
            {"name": "chatty", "command": str(chatty), "hooks": ["before"]},
        ]}))
    log_file = tmp_path / "stderr.log"
    with log_file.open("wb") as sink, Emulator(
        command=ORCHESTRATOR, cwd=tmp_path, env={"OPENRUNTIME_PIPELINE": str(pipeline), **env},
        function=FunctionSettings(timeout_s=20), child_stdout=sink, child_stderr=sink, log=lambda _: None,
    ) as emulator:
        ok = emulator.invoke(b'{"fail": false}')
        failed = emulator.invoke(b'{"fail": true}')
    assert ok.function_error is None and failed.function_error == "Unhandled"
    return log_file.read_text().splitlines(), ok.request_id, failed.request_id


def objects(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_text_format_keeps_the_log_middleware_lines_pure_json(tmp_path: Path) -> None:
    lines, ok_id, failed_id = run_pipeline(tmp_path, {})
    log_records = [r for r in objects(lines) if r.get("middleware") == "log"]
    assert [(r["hook"], r["requestId"]) for r in log_records] == [
        ("before", ok_id), ("after", ok_id), ("before", failed_id), ("error", failed_id)]
    assert f"[chatty] {ok_id} hello from chatty before" in lines
    assert any(line.startswith(f"[openruntime] RequestId: {failed_id} Outcome: error:ValueError") for line in lines)


def test_json_format_makes_every_line_an_object(tmp_path: Path) -> None:
    lines, ok_id, failed_id = run_pipeline(tmp_path, {"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    records = [json.loads(line) for line in lines]  # any line that is not JSON fails here
    chatty = [r for r in records if r.get("middleware") == "chatty"]
    assert [(r["requestId"], r["message"]) for r in chatty] == [
        (ok_id, "hello from chatty before"), (failed_id, "hello from chatty before")]
    invocations = [r for r in records if r.get("type") == "openruntime.invocation"]
    assert [(r["requestId"], r["level"], r["outcome"]) for r in invocations] == [
        (ok_id, "INFO", "success"), (failed_id, "ERROR", "error:ValueError")]
    # the runtime logged the handler's error as JSON itself, as Lambda's runtimes do
    assert any(r.get("errorType") == "ValueError" for r in records)


def test_json_log_level_drops_our_info_lines_and_keeps_errors(tmp_path: Path) -> None:
    lines, ok_id, failed_id = run_pipeline(tmp_path, {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "ERROR"})
    records = [json.loads(line) for line in lines]
    invocations = [r["requestId"] for r in records if r.get("type") == "openruntime.invocation"]
    assert invocations == [failed_id]
    # Middlewares' lines are filtered as Lambda filters a function's JSON lines: by their
    # own `level`, and a line without one (chatty's plain text) counts as INFO.
    assert [(r["requestId"], r["hook"]) for r in records if r.get("middleware") == "log"] == [(failed_id, "error")]
    assert not [r for r in records if r.get("middleware") == "chatty"]


def test_json_log_level_warn_keeps_a_middlewares_own_error_lines(tmp_path: Path) -> None:
    lines, ok_id, failed_id = run_pipeline(tmp_path, {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"})
    records = [json.loads(line) for line in lines]
    assert {r["level"] for r in records if r.get("middleware") == "log"} == {"ERROR"}
    # Every middleware line has Lambda's timestamp and level fields.
    assert all("level" in r and ("timestamp" in r or "ts" in r) for r in records if "middleware" in r)
