"""Through the real emulator and orchestrator: handlers that fail some records of SQS,
FIFO SQS and Kinesis batches, and the invocation result Lambda would read —
`batchItemFailures` with the right identifiers — with `batch` in exec and persistent mode,
behind a Python handler and behind the README's Node.js handler."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from aws_fixtures import load, pipeline_for, raw
from batch_support import EXECUTABLE, dumps, fifo_batch, sqs_batch_of, sqs_ids

from tests.conftest import orchestrated, write_pipeline

# The README's Python handler, with BATCH_DECODE=json, failing the orders marked "fail"
# and stopping at the first failure of a FIFO batch.
PYTHON_APP = '''
def handler(event, context):
    if "Records" not in event:
        return {"plain": event}
    outcomes = []
    for record in event["Records"]:
        if "decodeError" in record:
            outcomes.append(None)         # failed by the middleware anyway
            continue
        order = record["decoded"]
        if order.get("crash"):
            raise RuntimeError("the database is down")
        if order.get("fail"):
            outcomes.append({"errorType": "ValueError", "errorMessage": f"no stock for {order['sku']}"})
            if record["eventSourceARN"].endswith(".fifo"):
                break
        else:
            outcomes.append(None)
    return outcomes
'''

NODE_APP = '''
exports.handler = async (event) => {
  const settled = await Promise.allSettled(event.Records.map(async (record) => {
    const order = JSON.parse(record.body);
    if (order.fail) throw new Error(`no stock for ${order.sku}`);
  }));
  return settled.map((s) => (s.status === 'fulfilled'
    ? null : { errorType: s.reason?.name, errorMessage: s.reason?.message }));
};
'''


def with_bodies(event: dict, bodies: list[dict]) -> dict:
    for record, body in zip(event["Records"], bodies, strict=True):
        record["body"] = json.dumps(body)
    return event


def failures(*ids: str) -> dict:
    return {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}


@pytest.mark.parametrize("mode", ["exec", "persistent"])
def test_a_python_handler_failing_some_records(tmp_path: Path, mode: str) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(textwrap.dedent(PYTHON_APP))
    pipeline = pipeline_for(tmp_path, app, [
        {"name": "batch", "command": str(EXECUTABLE), "mode": mode, "hooks": ["before", "after", "error"],
         "env": {"BATCH_DECODE": "json"}},
    ])
    standard = with_bodies(sqs_batch_of(4), [{"sku": "a"}, {"sku": "b", "fail": True}, {"sku": "c"},
                                             {"sku": "d", "fail": True}])
    fifo = with_bodies(fifo_batch(["g1", "g1", "g2"]), [{"sku": "a"}, {"sku": "b", "fail": True}, {"sku": "c"}])
    crash = with_bodies(sqs_batch_of(2), [{"sku": "a"}, {"sku": "b", "crash": True}])
    with orchestrated(pipeline) as emulator:
        partial = emulator.invoke(dumps(standard))
        sample = emulator.invoke(raw("sqs-batch.json"))
        ordered = emulator.invoke(dumps(fifo))
        kinesis = emulator.invoke(raw("kinesis.json"))
        crashed = emulator.invoke(dumps(crash))
        plain = emulator.invoke(b'{"not": "a batch"}')

    assert partial.function_error is None
    assert partial.json() == failures(sqs_ids(standard)[1], sqs_ids(standard)[3])
    # The real sample: record 0's body "Test message." is not JSON, record 1's is.
    assert sample.json() == failures(sqs_ids(load("sqs-batch.json"))[0])
    # FIFO: the failed record and every later one, though the handler never saw the last.
    assert ordered.json() == failures(*sqs_ids(fifo)[1:])
    # Kinesis: both records' data is "Hello World", not JSON: all failed, Batch.AllFailed.
    assert kinesis.function_error == "Unhandled"
    error = kinesis.json()
    assert error["errorType"] == "Batch.AllFailed"
    assert [f["itemIdentifier"] for f in error["failures"]] == [
        r["kinesis"]["sequenceNumber"] for r in load("kinesis.json")["Records"]]
    assert error["middleware"] == {"name": "batch", "hook": "after"}
    # A handler that raises fails the whole batch with its own error, untouched.
    assert crashed.function_error == "Unhandled"
    assert (crashed.json()["errorType"], crashed.json()["errorMessage"]) == ("RuntimeError", "the database is down")
    assert plain.function_error is None and plain.body == b'{"plain": {"not": "a batch"}}'


def test_the_readme_node_handler(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    app = tmp_path / "app"
    app.mkdir()
    (app / "handlers.js").write_text(textwrap.dedent(NODE_APP))
    pipeline = write_pipeline(tmp_path, yaml.safe_dump({
        "runtime": {"name": "node", "handler": "handlers.handler", "task_root": str(app)},
        "middlewares": [{"name": "batch", "command": str(EXECUTABLE), "mode": "persistent"}],
    }))
    event = with_bodies(sqs_batch_of(3), [{"sku": "a", "fail": True}, {"sku": "b"}, {"sku": "c", "fail": True}])
    with orchestrated(pipeline, timeout_s=30, stderr_file=tmp_path / "log") as emulator:
        result = emulator.invoke(dumps(event))
    assert result.json() == failures(sqs_ids(event)[0], sqs_ids(event)[2])
    logged = [json.loads(line) for line in (tmp_path / "log").read_text().splitlines()
              if '"batch record failed"' in line]
    assert [(line["itemIdentifier"], line["reason"]) for line in logged] == [
        (sqs_ids(event)[0], "Error: no stock for a"), (sqs_ids(event)[2], "Error: no stock for c")]
