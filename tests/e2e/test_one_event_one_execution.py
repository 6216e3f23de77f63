"""One event, one execution of the handler, whatever polls the proxy.

awslambdaric under `AWS_LAMBDA_MAX_CONCURRENCY` (Lambda Managed Instances) forks workers
that all wait in `/next` on the orchestrator's proxy. Each event must reach exactly one of
them: a handler run twice is a duplicated side effect.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import orchestrated, write_pipeline

pytestmark = pytest.mark.slow

HANDLER = '''\
import os


def handler(event, context):
    with open(os.environ["EXECUTIONS_FILE"], "a") as f:
        f.write(f"{context.aws_request_id} {os.getpid()}\\n")
    return {"n": event["n"], "pid": os.getpid()}
'''


def test_each_event_runs_once_with_several_workers_polling(tmp_path: Path) -> None:
    pytest.importorskip("awslambdaric")
    (tmp_path / "app.py").write_text(HANDLER)
    executions = tmp_path / "executions"
    executions.touch()
    pipeline = write_pipeline(tmp_path, f"""
        runtime:
          command: [{sys.executable}, -m, awslambdaric, app.handler]
          task_root: .
    """)
    env = {"AWS_LAMBDA_MAX_CONCURRENCY": "4", "EXECUTIONS_FILE": str(executions)}
    with orchestrated(pipeline, timeout_s=30, env=env) as emulator:
        answers = [emulator.invoke(b'{"n": %d}' % n) for n in range(9)]
    assert [a.json()["n"] for a in answers] == list(range(9))
    lines = executions.read_text().splitlines()
    request_ids = [line.split()[0] for line in lines]
    assert len(lines) == 9, lines
    assert sorted(request_ids) == sorted(a.request_id for a in answers)
