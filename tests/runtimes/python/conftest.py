"""Shared setup for the Python runtime's tests: its package on sys.path, and fixtures."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

RUNTIME_DIR = Path(__file__).resolve().parents[3] / "runtimes" / "python"
if str(RUNTIME_DIR) not in sys.path:
    sys.path.insert(0, str(RUNTIME_DIR))

from openruntime_python_runtime import lambda_logging  # noqa: E402
from openruntime_python_runtime.main import Runtime  # noqa: E402
from openruntime_python_runtime.marshalling import Marshaller  # noqa: E402


@dataclass
class RecordingClient:
    """Stands in for RuntimeAPIClient inside one process: it records what the runtime
    would post. (End-to-end tests use the real client against the real emulator.)"""

    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def post_response(self, request_id: str, body: bytes, content_type: str, invocation_id: str | None) -> None:
        self.posts.append(
            ("response", {"request_id": request_id, "body": body, "content_type": content_type, "invocation_id": invocation_id})
        )

    def post_error(
        self, request_id: str, body: bytes, error_type: str, xray_cause: str | None, invocation_id: str | None
    ) -> None:
        self.posts.append(
            (
                "error",
                {
                    "request_id": request_id,
                    "body": body,
                    "error_type": error_type,
                    "xray_cause": xray_cause,
                    "invocation_id": invocation_id,
                },
            )
        )

    def post_init_error(self, body: bytes, error_type: str) -> None:
        self.posts.append(("init_error", {"body": body, "error_type": error_type}))


@pytest.fixture
def make_runtime() -> Callable[..., tuple[Runtime, RecordingClient]]:
    def factory(is_json: bool = False) -> tuple[Runtime, RecordingClient]:
        client = RecordingClient()
        runtime = Runtime(client, Marshaller(), lambda_logging.StandardLogSink(), is_json)  # type: ignore[arg-type]
        return runtime, client

    return factory
