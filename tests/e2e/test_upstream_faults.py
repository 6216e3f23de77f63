"""The Runtime API itself failing: bounded retries, then a clean non-zero exit."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import ORCHESTRATOR, write_pipeline
from tests.e2e.fault_injecting_upstream import FaultInjectingRuntimeAPI


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text("def handler(event, context):\n    return {'got': event}\n"
                                "def big(event, context):\n    return 'x' * 100\n")
    return write_pipeline(tmp_path, yaml.safe_dump(
        {"runtime": {"name": "python", "handler": "app.handler", "task_root": str(app)}}))


def run_bootstrap(pipeline: Path, address: str, timeout: float = 30, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "AWS_LAMBDA_RUNTIME_API": address, "OPENRUNTIME_PIPELINE": str(pipeline),
                "OPENRUNTIME_UPSTREAM_RETRY_S": "1", **env}
    return subprocess.run(ORCHESTRATOR, env=full_env, capture_output=True, text=True, timeout=timeout)


def test_refused_connections_are_retried_for_a_bounded_time_then_exit_1(pipeline: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    started = time.monotonic()
    done = run_bootstrap(pipeline, closed)
    assert done.returncode == 1
    assert "unreachable for 1.0s" in done.stderr
    assert time.monotonic() - started < 15


def test_a_500_means_exit_now(pipeline: Path) -> None:
    upstream = FaultInjectingRuntimeAPI([("event", b'{"n": 1}'), ("status", 500)])
    done = run_bootstrap(pipeline, upstream.address)
    assert done.returncode == 1
    assert "answered 500" in done.stderr
    assert upstream.posted() == [("response", {"got": {"n": 1}})]  # the event before it was answered


def test_reset_and_slow_upstream_are_survived_and_nothing_is_lost(pipeline: Path) -> None:
    upstream = FaultInjectingRuntimeAPI([
        ("event", b'{"n": 1}'), ("reset",), ("event", b'{"n": 2}'), ("slow", 1.5, b'{"n": 3}'), ("status", 500)])
    done = run_bootstrap(pipeline, upstream.address)
    assert done.returncode == 1
    assert upstream.posted() == [("response", {"got": {"n": n}}) for n in (1, 2, 3)]


def test_413_on_posting_a_response_becomes_an_error_post(pipeline: Path) -> None:
    upstream = FaultInjectingRuntimeAPI([("event", b'{"n": 1}'), ("status", 500)], response_status=413)
    done = run_bootstrap(pipeline, upstream.address)
    assert done.returncode == 1
    kinds = [kind for kind, _ in upstream.posted()]
    assert kinds == ["response", "error"]
    error = upstream.posted()[1][1]
    assert error["errorType"] == "Function.ResponseSizeTooLarge"  # type: ignore[index]
    assert upstream.posts[1].headers["lambda-runtime-function-error-type"] == "Function.ResponseSizeTooLarge"


def test_missing_runtime_api_variable_is_a_clear_error(pipeline: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"}
    done = subprocess.run(ORCHESTRATOR, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "AWS_LAMBDA_RUNTIME_API is not set" in done.stderr
