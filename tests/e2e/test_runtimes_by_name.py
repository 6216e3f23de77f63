"""Every bundled runtime, picked by `runtime.name`, behind the orchestrator: same behaviour."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import orchestrated, write_pipeline

FUNCTIONS = Path(__file__).parent / "functions"
RUNTIMES = ["python", "node", "shell"]
EXPECTED_ERROR = {
    "python": ("ValueError", "python handler failed on purpose"),
    "node": ("TypeError", "node handler failed on purpose"),
}


def pipeline_for(tmp_path: Path, runtime: str, handler: str) -> Path:
    if runtime == "node" and shutil.which("node") is None:
        pytest.skip("node is not installed")
    return write_pipeline(tmp_path, yaml.safe_dump({
        "runtime": {"name": runtime, "handler": f"handlers.{handler}", "task_root": str(FUNCTIONS)},
        "middlewares": [{"name": "stamp"}],
    }))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_success_context_and_remaining_time(tmp_path: Path, runtime: str) -> None:
    with orchestrated(pipeline_for(tmp_path, runtime, "ok"), timeout_s=30) as emulator:
        result = emulator.invoke(b'{"n": 1}')
        second = emulator.invoke(b'{"n": 2}')
    body = result.json()
    assert result.function_error is None
    assert body["got"]["n"] == 1 and body["got"]["stamp_before"]["by"] == "stamp (bash)"
    assert body["stamp_after"]["hook"] == "after"
    assert body["requestId"] == result.request_id
    assert body["arn"].endswith(":function:test_function")
    assert 25_000 < body["remainingMs"] <= 30_000
    assert second.json()["got"]["n"] == 2


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_error_shape(tmp_path: Path, runtime: str) -> None:
    with orchestrated(pipeline_for(tmp_path, runtime, "fail")) as emulator:
        result = emulator.invoke(b"{}")
        again = emulator.invoke(b"{}")
    error = result.json()
    assert result.function_error == again.function_error == "Unhandled"
    if runtime == "shell":
        assert error["errorType"] == "Function.ExitError"
        assert "7" in error["errorMessage"] and "shell handler failed on purpose" in error["errorMessage"]
    else:
        assert (error["errorType"], error["errorMessage"]) == EXPECTED_ERROR[runtime]
        trace = error["stackTrace"] if runtime == "python" else error["trace"]
        assert any("handlers." in line for line in trace)
