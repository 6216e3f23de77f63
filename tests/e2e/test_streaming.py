"""Response streaming end to end: a Node handler's `awslambda.streamifyResponse` through
the orchestrator's proxy and the emulator, read by boto3's `invoke_with_response_stream`
(its own event-stream parser checks every frame).

Incremental delivery is shown causally, not by timing: the handler writes its first chunk
and then waits until the caller says it has it; a stream buffered anywhere on the way
would never get there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import orchestrated, serving_cli, write_executable, write_pipeline

OPENRUNTIME = [sys.executable, "-m", "openruntime"]
NODE = os.environ.get("OPENRUNTIME_NODE") or shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="the Node.js runtime needs node on PATH")

STREAMING_APP = """\
import { existsSync } from 'node:fs';
import { once } from 'node:events';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream.setContentType('text/plain');
  if (event.gate) {                         // first chunk, then wait for the caller to have it
    stream.write('first\\n');
    while (!existsSync(event.gate)) await sleep(10);
    stream.write('second\\n');
  }
  if (event.megabytes) {                    // chunk i is 64 KiB of the letter i % 26
    const chunks = event.megabytes * 16;
    for (let i = 0; i < chunks; i++) {
      if (!stream.write(Buffer.alloc(65536, 97 + (i % 26)))) await once(stream, 'drain');
    }
  }
  if (event.fail) {
    stream.write('partial\\n');
    throw new Error(event.fail);
  }
  stream.end();
});
"""


def expected_bytes(megabytes: int) -> bytes:
    return b"".join(bytes([97 + (i % 26)]) * 65536 for i in range(megabytes * 16))


def streaming_function(folder: Path, middlewares: str = "") -> Path:
    (folder / "app.mjs").write_text(STREAMING_APP)
    return write_pipeline(folder, "runtime: {name: node, handler: app.handler, task_root: .}\n" + middlewares)


# A pass-through exec middleware that records each hook call in calls/<hook>.
RECORDER = """\
#!{python}
import os, sys
hook = sys.argv[1]
open(os.path.join({calls!r}, hook), "a").write("x")
sys.stdout.buffer.write(sys.stdin.buffer.read())
"""

# An `after` middleware that upper-cases a text response.
UPPER = """\
#!{python}
import sys
sys.stdout.buffer.write(sys.stdin.buffer.read().upper())
"""


def with_middlewares(folder: Path) -> Path:
    calls = folder / "calls"
    calls.mkdir()
    write_executable(folder / "middlewares" / "recorder" / "recorder",
                     RECORDER.format(python=sys.executable, calls=str(calls)))
    write_executable(folder / "middlewares" / "upper" / "upper", UPPER.format(python=sys.executable))
    return calls


@contextmanager
def serving(folder: Path) -> Iterator[str]:
    with serving_cli(folder, "--timeout", "30") as (endpoint, _):
        yield endpoint


def lambda_client(endpoint: str):  # type: ignore[no-untyped-def]
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    return boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x",
                        config=Config(retries={"max_attempts": 1}, read_timeout=60, connect_timeout=5))


def test_boto3_reads_the_stream_as_the_handler_writes_it_through_middlewares(tmp_path: Path) -> None:
    calls = with_middlewares(tmp_path)
    streaming_function(tmp_path, """middlewares:
  - {name: recorder, hooks: [before, after]}
""")
    gate = tmp_path / "gate"
    with serving(tmp_path) as endpoint:
        answer = lambda_client(endpoint).invoke_with_response_stream(
            FunctionName="function", Payload=json.dumps({"gate": str(gate)}).encode())
        assert answer["StatusCode"] == 200
        events = []
        for event in answer["EventStream"]:
            events.append(event)
            if "PayloadChunk" in event:
                gate.touch()  # the handler writes its second chunk only after this
    chunks = [e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e]
    assert b"".join(chunks) == b"first\nsecond\n"
    assert chunks[0] == b"first\n"  # it came alone, before the handler went on
    assert events[-1] == {"InvokeComplete": {}}
    assert (calls / "before").exists() and not (calls / "after").exists()  # on_stream: pass
    assert "its after/error hooks are not called for streamed responses" in (tmp_path / "serve.log").read_text()


def test_a_stream_over_6_mb_arrives_whole_and_in_order(tmp_path: Path) -> None:
    streaming_function(tmp_path)
    with serving(tmp_path) as endpoint:
        answer = lambda_client(endpoint).invoke_with_response_stream(
            FunctionName="function", Payload=b'{"megabytes": 9}')
        body = b"".join(e["PayloadChunk"]["Payload"] for e in answer["EventStream"] if "PayloadChunk" in e)
    assert len(body) == 9 * 1024 * 1024
    assert hashlib.sha256(body).digest() == hashlib.sha256(expected_bytes(9)).digest()


def test_an_error_mid_stream_arrives_in_invoke_complete(tmp_path: Path) -> None:
    streaming_function(tmp_path)
    with serving(tmp_path) as endpoint:
        answer = lambda_client(endpoint).invoke_with_response_stream(
            FunctionName="function", Payload=b'{"fail": "the database went away"}')
        events = list(answer["EventStream"])
    assert events[0] == {"PayloadChunk": {"Payload": b"partial\n"}}
    assert events[-1] == {"InvokeComplete": {"ErrorCode": "Error", "ErrorDetails": "the database went away"}}


def test_a_buffered_invoke_of_a_streaming_function_gets_the_whole_body(tmp_path: Path) -> None:
    pipeline = streaming_function(tmp_path)
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"megabytes": 1}')
        too_big = emulator.invoke(b'{"megabytes": 7}')
    assert result.function_error is None and result.stream is None
    assert result.body == expected_bytes(1) and result.headers["content-type"] == "text/plain"
    assert too_big.function_error and json.loads(too_big.body)["errorType"] == "Function.ResponseSizeTooLarge"


def test_on_stream_buffer_gives_an_after_hook_the_whole_response(tmp_path: Path) -> None:
    """The middleware asked for it: the stream is collected, transformed, posted buffered."""
    with_middlewares(tmp_path)
    pipeline = streaming_function(tmp_path, """middlewares:
  - {name: upper, hooks: [after], on_stream: buffer}
""")
    gate = tmp_path / "gate"
    gate.touch()
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(json.dumps({"gate": str(gate)}).encode(), stream=True)
    assert result.stream is None  # buffered by the middleware's choice
    assert result.body == b"FIRST\nSECOND\n"


def test_a_100_mb_stream_keeps_the_orchestrators_memory_flat(tmp_path: Path) -> None:
    pipeline = streaming_function(tmp_path)
    with orchestrated(pipeline, timeout_s=120) as emulator:
        result = emulator.invoke(b'{"megabytes": 100}', stream=True)
        assert result.stream is not None
        size = 0
        digest = hashlib.sha256()
        for chunk in result.stream:
            size += len(chunk)
            digest.update(chunk)
        assert result.stream.error_type is None
        orchestrator = emulator.runtime_pid
        assert orchestrator is not None
        with open(f"/proc/{orchestrator}/status") as f:
            peak_kb = int(next(line for line in f if line.startswith("VmHWM:")).split()[1])
    assert size == 100 * 1024 * 1024 and digest.digest() == hashlib.sha256(expected_bytes(100)).digest()
    assert peak_kb < 80 * 1024, f"the orchestrator peaked at {peak_kb // 1024} MB for a 100 MB stream"


def test_a_stream_past_the_deadline_ends_with_a_timeout_in_invoke_complete(tmp_path: Path) -> None:
    pipeline = streaming_function(tmp_path)
    gate = tmp_path / "never"  # the handler waits for it forever
    with orchestrated(pipeline, timeout_s=2) as emulator:
        result = emulator.invoke(json.dumps({"gate": str(gate)}).encode(), stream=True)
        assert result.stream is not None
        body = b"".join(result.stream)
        assert body == b"first\n"
        assert result.stream.error_type == "Sandbox.Timedout"
        after = emulator.invoke(b'{"megabytes": 0}')  # a fresh environment answers
    assert after.function_error is None


def _aws_lambda_ric() -> Path | None:
    """AWS's own Node client, where tests/runtimes/node/install-aws-lambda-ric.sh built it."""
    explicit = os.environ.get("OPENRUNTIME_AWS_LAMBDA_RIC")
    cache = Path(os.environ.get("OPENRUNTIME_CACHE", Path.home() / ".cache" / "openruntime"))
    for package in ([Path(explicit)] if explicit else []) + [cache / "aws-lambda-ric" / "node_modules" / "aws-lambda-ric"]:
        if (package / "bin" / "index.mjs").is_file() and (package / "dist" / "rapid-client.node").is_file():
            return package
    return None


@pytest.mark.skipif(_aws_lambda_ric() is None, reason="aws-lambda-ric is not installed "
                    "(tests/runtimes/node/install-aws-lambda-ric.sh builds it)")
def test_aws_lambda_rics_stream_passes_through_the_orchestrator(tmp_path: Path) -> None:
    """AWS's client as the runtime behind openruntime: its streamed response, its mid-stream
    error trailers, as boto3 reads them."""
    ric = _aws_lambda_ric()
    assert ric is not None
    (tmp_path / "app.mjs").write_text(STREAMING_APP)
    write_pipeline(tmp_path, f"runtime: {{command: [{NODE}, {ric / 'bin' / 'index.mjs'}], handler: app.handler, "
                             "task_root: .}\n")
    gate = tmp_path / "gate"
    with serving(tmp_path) as endpoint:
        client = lambda_client(endpoint)
        answer = client.invoke_with_response_stream(FunctionName="function",
                                                    Payload=json.dumps({"gate": str(gate)}).encode())
        chunks = []
        for event in answer["EventStream"]:
            if "PayloadChunk" in event:
                chunks.append(event["PayloadChunk"]["Payload"])
                gate.touch()
            else:
                complete = event
        failed = list(client.invoke_with_response_stream(FunctionName="function",
                                                         Payload=b'{"fail": "official and broken"}')["EventStream"])
    assert b"".join(chunks) == b"first\nsecond\n" and complete == {"InvokeComplete": {}}
    assert failed[-1]["InvokeComplete"]["ErrorCode"] == "Error"
    assert failed[-1]["InvokeComplete"]["ErrorDetails"] == "official and broken"


def test_invoke_stream_prints_each_chunk_as_it_arrives(tmp_path: Path) -> None:
    streaming_function(tmp_path)
    gate = tmp_path / "gate"
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"gate": str(gate), "fail": "late trouble"}))
    invoke = subprocess.Popen([*OPENRUNTIME, "invoke", "--pipeline", "pipeline.yml", "--event", str(event),
                               "--stream", "--timeout", "30"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    assert invoke.stdout is not None
    first = invoke.stdout.readline()  # the handler waits for the gate: this line came alone
    gate.touch()
    rest, err = invoke.communicate(timeout=60)
    assert first == b"first\n" and rest == b"second\npartial\n"
    assert invoke.returncode == 1
    assert b"the stream ended with Error" in err and b"late trouble" in err


def test_lambda_limits_throttle_a_stream_past_its_first_megabytes(tmp_path: Path) -> None:
    """The emulator's `--lambda-limits` bandwidth, scaled down: 1 MB free, then 4 MB/s; a
    3 MB stream cannot end before the 2 MB past the free part have had their 0.5 s. (A
    lower bound: a busy machine only makes it slower.)"""
    pipeline = streaming_function(tmp_path)
    with orchestrated(pipeline) as emulator:
        emulator.stream_bandwidth = (1024 * 1024, 4 * 1024 * 1024)
        result = emulator.invoke(b'{"megabytes": 3}', stream=True)
        assert result.stream is not None
        started = time.monotonic()
        size = sum(len(chunk) for chunk in result.stream)
        elapsed = time.monotonic() - started
    assert size == 3 * 1024 * 1024
    assert elapsed >= 0.45, f"3 MB with 2 MB throttled at 4 MB/s took only {elapsed:.2f} s"


HTTP_STREAMING_APP = """\
export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream = awslambda.HttpResponseStream.from(stream, {
    statusCode: 201, headers: {'x-streamed': 'yes', 'content-type': 'text/plain'}, cookies: ['a=1']});
  stream.write('hello ');
  stream.end('from a stream');
});
"""


def test_the_http_middleware_maps_a_streamed_http_response_for_api_gateway(tmp_path: Path) -> None:
    """`awslambda.HttpResponseStream.from` (JSON prelude, 8 NULs, body) behind the http
    middleware with on_stream: buffer: the caller, an API Gateway HTTP API, gets its own
    response shape with the prelude's status, headers and cookies."""
    (tmp_path / "app.mjs").write_text(HTTP_STREAMING_APP)
    pipeline = write_pipeline(tmp_path, """runtime: {name: node, handler: app.handler, task_root: .}
middlewares:
  - {name: http, mode: persistent, hooks: [before, after, error], on_stream: buffer}
""")
    event = (Path(__file__).resolve().parents[1] / "fixtures" / "aws-events" / "apigw-v2-http-request.json").read_bytes()
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(event)
    assert result.function_error is None, result.body
    assert result.headers["content-type"] == "application/json"
    shaped = json.loads(result.body)
    assert shaped["statusCode"] == 201 and shaped["body"] == "hello from a stream"
    assert shaped["headers"]["x-streamed"] == "yes" and shaped["cookies"] == ["a=1"]
