"""AWS's own command line against `openruntime serve`: `aws lambda invoke` as users type
it, with LogType Tail, the Event invocation type, a payload that is not JSON and a
function that fails. The CLI is $OPENRUNTIME_AWS_CLI (.ci/run installs awscli from PyPI)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import serving_cli, write_pipeline

AWS = os.environ.get("OPENRUNTIME_AWS_CLI")

pytestmark = pytest.mark.skipif(not AWS or not os.access(AWS, os.X_OK),
                                reason="the AWS CLI is not installed (pip install awscli, then OPENRUNTIME_AWS_CLI=…/aws)")


def aws(endpoint: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert AWS is not None
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": ""}
    # AWS CLI v1 (PyPI's awscli) sends --payload as given (v2 would need --cli-binary-format).
    return subprocess.run([AWS, "--endpoint-url", endpoint, "lambda", "invoke", "--function-name", "function",
                           *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_aws_lambda_invoke_against_serve(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    print('hello from', event['who'])\n"
                                     "    if event.get('fail'):\n        raise ValueError('asked to fail')\n"
                                     "    return {'hello': event['who']}\n")
    write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")
    with serving_cli(tmp_path) as (endpoint, _):
        done = aws(endpoint, "--payload", '{"who": "cli"}', "--log-type", "Tail", "out.json", cwd=tmp_path)
        event = aws(endpoint, "--payload", '{"who": "later"}', "--invocation-type", "Event", "event.json", cwd=tmp_path)
        failed = aws(endpoint, "--payload", '{"who": "x", "fail": true}', "failed.json", cwd=tmp_path)
        refused = aws(endpoint, "--payload", "not json", "refused.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["StatusCode"] == 200 and json.loads((tmp_path / "out.json").read_text()) == {"hello": "cli"}
    log = base64.b64decode(answer["LogResult"]).decode()
    assert log.startswith("START RequestId:") and "hello from cli" in log and "REPORT RequestId:" in log
    assert event.returncode == 0 and json.loads(event.stdout)["StatusCode"] == 202
    assert failed.returncode == 0 and json.loads(failed.stdout)["FunctionError"] == "Unhandled"
    assert json.loads((tmp_path / "failed.json").read_text())["errorMessage"] == "asked to fail"
    assert refused.returncode != 0 and "InvalidRequestContentException" in refused.stderr
