"""A pipeline that lists built-ins by name only (`- http`) runs them as they are written to
run: with the hooks their middleware.json declares (http's `error` turns a raise into a
500). The mode they declare is read the same way (tests/unit/test_middleware_defaults.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import orchestrated, write_pipeline

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "aws-events"


def test_http_by_name_answers_a_handler_error_as_an_http_500(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    raise RuntimeError('broken')\n")
    pipeline = write_pipeline(tmp_path, """
        runtime: {name: python, handler: app.handler, task_root: .}
        middlewares:
          - http
    """)
    event = (FIXTURES / "apigw-v2-http-request.json").read_bytes()
    with orchestrated(pipeline, stderr_file=tmp_path / "log") as emulator:
        answer = emulator.invoke(event)
        again = emulator.invoke(event)
    assert answer.function_error is None, answer.body  # recovered: the caller gets an HTTP answer
    assert answer.json()["statusCode"] == 500 and again.json()["statusCode"] == 500
    log = (tmp_path / "log").read_text()
    assert "http.error=" in log  # its error hook ran
    assert json.loads(answer.json()["body"])["message"] == "Internal Server Error"
