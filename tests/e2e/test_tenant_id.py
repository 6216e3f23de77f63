"""Lambda's tenant isolation mode: the caller's TenantId (boto3) reaches the handler and the
middlewares of the pipeline, exec and persistent."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, serving_cli, write_executable, write_pipeline

OPENRUNTIME = [sys.executable, "-m", "openruntime"]
SDK = REPO / "middlewares" / "lib" / "python"

PERSISTENT = f"""\
#!{sys.executable}
import json, sys
sys.path.insert(0, {str(SDK)!r})
from openruntime_middleware import before, run

@before
def note(event, ctx):
    event["persistent_saw"] = ctx.tenant_id
    return event

run()
"""

EXEC = """\
#!/bin/sh
# Exec mode: the context is in the environment.
python3 -c 'import json, os, sys; e = json.load(sys.stdin); e["exec_saw"] = os.environ.get("OPENRUNTIME_TENANT_ID"); print(json.dumps(e))'
"""


def test_a_tenant_id_from_boto3_reaches_handler_and_middlewares(tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    (tmp_path / "app.py").write_text("def handler(event, context):\n"
                                     "    return {**event, 'handler_saw': context.tenant_id}\n")
    write_executable(tmp_path / "middlewares" / "noting" / "noting", PERSISTENT)
    write_executable(tmp_path / "middlewares" / "env" / "env", EXEC)
    write_pipeline(tmp_path, """runtime: {name: python, handler: app.handler, task_root: .}
middlewares:
  - {name: noting, mode: persistent, hooks: [before]}
  - {name: env, hooks: [before]}
""")
    with serving_cli(tmp_path) as (endpoint, _):
        client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="x", aws_secret_access_key="x",
                              config=Config(retries={"max_attempts": 1}))
        with_tenant = json.loads(client.invoke(FunctionName="function", Payload=b"{}",
                                               TenantId="tenant-blue")["Payload"].read())
        without = json.loads(client.invoke(FunctionName="function", Payload=b"{}")["Payload"].read())
    assert with_tenant == {"persistent_saw": "tenant-blue", "exec_saw": "tenant-blue", "handler_saw": "tenant-blue"}
    assert without == {"persistent_saw": None, "exec_saw": None, "handler_saw": None}
