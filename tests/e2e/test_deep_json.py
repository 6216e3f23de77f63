"""A payload nested deeper than Python's JSON parser goes (it raises RecursionError, not
ValueError) is an ordinary bad input: a clear error for that invocation, never a
traceback of ours, a dropped connection or a dead reader thread. (The runtime's own log
line for its Runtime.UnmarshalError carries a traceback, as awslambdaric's does.)"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.conftest import hello_app, serving_cli, write_pipeline  # noqa: F401  (fixture)

DEEP = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
PIPELINE = """\
runtime: {name: python, handler: app.handler, task_root: .}
middlewares:
  - {name: log, mode: persistent}
  - {name: http, mode: persistent}
  - {name: batch, mode: exec}
"""


def test_invoke_answers_a_deep_event_as_lambdas_python_runtime_does(tmp_path: Path, hello_app: Path) -> None:
    write_pipeline(hello_app, PIPELINE)
    (hello_app / "deep.json").write_bytes(DEEP)
    result = subprocess.run([sys.executable, "-m", "openruntime", "invoke", "--pipeline", "pipeline.yml",
                             "--event", "deep.json"], cwd=hello_app, capture_output=True, timeout=120)
    assert b"openruntime/cli" not in result.stderr, result.stderr[-2000:]  # no traceback of ours
    error = json.loads(result.stdout)
    assert error["errorType"] == "Runtime.UnmarshalError"  # every middleware passed it on; the runtime refused it


def test_serve_answers_a_deep_payload_instead_of_dropping_the_connection(tmp_path: Path, hello_app: Path) -> None:
    write_pipeline(hello_app, PIPELINE)
    with serving_cli(hello_app) as (endpoint, _):
        request = urllib.request.Request(f"{endpoint}/2015-03-31/functions/function/invocations", data=DEEP)
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, function_error, body = answer.status, answer.headers["X-Amz-Function-Error"], answer.read()
    assert (status, function_error) == (200, "Unhandled")
    assert json.loads(body)["errorType"] == "Runtime.UnmarshalError"
    assert b"Exception in thread" not in (hello_app / "serve.log").read_bytes()
