"""Shared test helpers: paths, and a pipeline run on the real emulator + orchestrator."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from openruntime.emulator import Emulator, FunctionSettings

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("OPENRUNTIME_SHARED", REPO.parent / "shared"))
AWS_EVENTS = SHARED / "fixtures" / "aws-events"
ORCHESTRATOR = [sys.executable, "-m", "openruntime", "bootstrap"]


def write_executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    path.chmod(0o755)
    return path


def write_pipeline(folder: Path, text: str, name: str = "pipeline.yml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@contextmanager
def orchestrated(
    pipeline: Path, timeout_s: float = 20.0, env: dict[str, str] | None = None, handler: str | None = None
) -> Iterator[Emulator]:
    """The real orchestrator as the bootstrap of the real emulator, over real sockets."""
    full_env = {"OPENRUNTIME_PIPELINE": str(pipeline), **(env or {})}
    with Emulator(
        command=ORCHESTRATOR,
        cwd=pipeline.parent,
        env=full_env,
        function=FunctionSettings(timeout_s=timeout_s, handler=handler),
        log=lambda line: None,
    ) as emulator:
        yield emulator


@pytest.fixture
def hello_app(tmp_path: Path) -> Path:
    """A task root with handlers that show what they were given."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(textwrap.dedent('''
        import os, time

        def handler(event, context):
            return {"event": event, "requestId": context.aws_request_id,
                    "remainingMs": context.get_remaining_time_in_millis(),
                    "functionArn": context.invoked_function_arn,
                    "traceEnv": os.environ.get("_X_AMZN_TRACE_ID")}

        def boom(event, context):
            raise ValueError("the handler failed on purpose")

        def sleepy(event, context):
            time.sleep(float(event.get("sleep", 5)))
            return {"slept": True}
    '''))
    return app
