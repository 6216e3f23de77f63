"""What the sub-runtime sees, and the official awslambdaric behind the orchestrator."""

from __future__ import annotations

import json
import sys
import time
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.conftest import orchestrated, write_pipeline

CLIENTS = Path(__file__).parent / "clients"


def test_every_runtime_header_and_the_content_type_reach_the_sub_runtime(tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, yaml.safe_dump({
        "runtime": {"command": [sys.executable, str(CLIENTS / "echo_headers_runtime.py")],
                    "handler": "any.handler", "task_root": str(tmp_path)},
    }))
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(
            b"raw \x00 bytes", content_type="application/octet-stream; charset=binary",
            client_context='{"custom": {"k": "v"}}', cognito_identity='{"cognitoIdentityId": "id-1"}',
            tenant_id="tenant-7", extra_headers=[("Lambda-Runtime-Future-Feature", "v2; x=1")],
        )
    seen = result.json()
    headers = {name.lower(): value for name, value in seen["headers"]}
    assert headers["lambda-runtime-aws-request-id"] == result.request_id
    assert headers["lambda-runtime-client-context"] == '{"custom": {"k": "v"}}'
    assert headers["lambda-runtime-cognito-identity"] == '{"cognitoIdentityId": "id-1"}'
    assert headers["lambda-runtime-aws-tenant-id"] == "tenant-7"
    assert headers["lambda-runtime-future-feature"] == "v2; x=1"  # unknown to this version
    assert headers["content-type"] == "application/octet-stream; charset=binary"
    for name in ("lambda-runtime-deadline-ms", "lambda-runtime-invoked-function-arn",
                 "lambda-runtime-trace-id", "lambda-runtime-invocation-id"):
        assert headers[name]
    assert seen["body"] == "raw \x00 bytes"
    # Started the way AWS starts official clients: in the task root, handler as argument.
    assert seen["cwd"] == str(tmp_path)
    assert seen["argv"] == ["any.handler"]


@pytest.mark.parametrize("grace_ms", [5000, 0])  # 5 s: far beyond the call's own time
def test_the_runtimes_deadline_is_lambdas_less_the_grace_period(tmp_path: Path, grace_ms: int) -> None:
    """The orchestrator answers a timeout grace_ms before Lambda's deadline, so that is when
    the invocation's time ends: the runtime's Lambda-Runtime-Deadline-Ms (its
    get_remaining_time_in_millis) and a middleware's deadline say so."""
    from tests.conftest import write_executable

    seen = tmp_path / "deadlines"  # Lambda's (the emulator's header, passed to it) and the middleware's
    recorder = write_executable(tmp_path / "recorder", f'#!/bin/sh\nprintf %s "$OPENRUNTIME_DEADLINE_MS" > {seen}\nexec cat\n')
    pipeline = write_pipeline(tmp_path, yaml.safe_dump({
        "runtime": {"command": [sys.executable, str(CLIENTS / "echo_headers_runtime.py")],
                    "handler": "any.handler", "task_root": str(tmp_path), "grace_ms": grace_ms},
        "middlewares": [{"name": "recorder", "command": str(recorder), "hooks": ["before"]}],
    }))
    with orchestrated(pipeline, timeout_s=30) as emulator:
        before_ms = time.time() * 1000
        result = emulator.invoke(b"{}")
        after_ms = time.time() * 1000
    headers = {name.lower(): value for name, value in result.json()["headers"]}
    runtimes, middlewares = int(headers["lambda-runtime-deadline-ms"]), int(seen.read_text())
    assert runtimes == middlewares
    # Lambda's deadline is 30 s after the event's delivery (within the call); the told one
    # is grace_ms earlier.
    assert before_ms + 30_000 - grace_ms - 1 <= runtimes <= after_ms + 30_000 - grace_ms + 1


HANDLERS = textwrap.dedent('''
    import decimal

    def ok(event, context):
        return {"got": event, "fn": context.function_name, "mem": context.memory_limit_in_mb,
                "version": context.function_version, "arn": context.invoked_function_arn,
                "group": context.log_group_name, "hasStream": bool(context.log_stream_name),
                "remainingPositive": context.get_remaining_time_in_millis() > 0}

    def fails(event, context):
        raise KeyError("missing-key")

    class CustomError(Exception):
        pass

    def custom(event, context):
        raise CustomError("custom failure")

    def raw(event, context):
        return b"\\x00\\x01binary"

    def unserializable(event, context):
        return {"s": {1, 2}}
''')


@pytest.fixture
def shared_handlers(tmp_path: Path) -> Path:
    app = tmp_path / "task"
    app.mkdir()
    (app / "handlers.py").write_text(HANDLERS)
    return app


def run_both(tmp_path: Path, app: Path, handler: str, event: bytes) -> tuple[dict, dict]:
    """The same handler behind the orchestrator, once with runtimes/python, once with awslambdaric."""
    results = []
    for label, runtime in (("ours", {"name": "python"}),
                           ("official", {"command": [sys.executable, "-m", "awslambdaric"]})):
        folder = tmp_path / label
        folder.mkdir(exist_ok=True)
        pipeline = write_pipeline(folder, yaml.safe_dump(
            {"runtime": {**runtime, "handler": handler, "task_root": str(app)}}))
        with orchestrated(pipeline) as emulator:
            result = emulator.invoke(event)
        results.append({"body": result.body, "error": result.function_error,
                        "json": _maybe_json(result.body), "request_id": result.request_id})
    return results[0], results[1]


def _maybe_json(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return None


def test_success_matches_awslambdaric(tmp_path: Path, shared_handlers: Path) -> None:
    ours, official = run_both(tmp_path, shared_handlers, "handlers.ok", b'{"n": [1, 2.5, "x"]}')
    assert ours["error"] is None and official["error"] is None
    assert ours["json"] == official["json"]
    assert ours["json"]["got"] == {"n": [1, 2.5, "x"]}
    assert ours["json"]["mem"] == "3008"


@pytest.mark.parametrize("handler", ["handlers.fails", "handlers.custom", "handlers.unserializable"])
def test_error_shapes_match_awslambdaric(tmp_path: Path, shared_handlers: Path, handler: str) -> None:
    ours, official = run_both(tmp_path, shared_handlers, handler, b"{}")
    assert ours["error"] == official["error"] == "Unhandled"
    mine, theirs = ours["json"], official["json"]
    assert set(mine) == set(theirs)
    assert mine["errorType"] == theirs["errorType"]
    assert mine["errorMessage"] == theirs["errorMessage"]
    assert mine["requestId"] == ours["request_id"] and theirs["requestId"] == official["request_id"]
    assert len(mine["stackTrace"]) == len(theirs["stackTrace"])
    for a, b in zip(mine["stackTrace"], theirs["stackTrace"]):
        assert a.split(",")[0] == b.split(",")[0]  # same file (line numbers are the same file too)


def test_bytes_result_matches_awslambdaric(tmp_path: Path, shared_handlers: Path) -> None:
    ours, official = run_both(tmp_path, shared_handlers, "handlers.raw", b"{}")
    assert ours["body"] == official["body"] == b"\x00\x01binary"


@pytest.mark.parametrize("handler", ["missing_module.handler", "handlers.no_such_function", "nodot"])
def test_init_errors_match_awslambdaric(tmp_path: Path, shared_handlers: Path, handler: str) -> None:
    ours, official = run_both(tmp_path, shared_handlers, handler, b"{}")
    assert ours["error"] == official["error"] == "Unhandled"
    assert ours["json"]["errorType"] == official["json"]["errorType"]
    assert ours["json"]["errorMessage"] == official["json"]["errorMessage"]
