"""The command line as a user types it: invoke, serve (curl), validate."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, serving_cli, wait_gone, write_executable, write_pipeline

OPENRUNTIME = [sys.executable, "-m", "openruntime"]
EXAMPLE_EVENT = REPO / "examples" / "events" / "hello.json"


def run_cli(*args: str, stdin: bytes | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*OPENRUNTIME, *args], input=stdin, capture_output=True, cwd=cwd, timeout=60)


def test_invoke_example_pipeline_prints_the_transformed_response() -> None:
    done = run_cli("invoke", "--pipeline", "pipeline.example.yml", "--event", str(EXAMPLE_EVENT))
    assert done.returncode == 0, done.stderr.decode()
    body = json.loads(done.stdout)
    assert body["meta"]["wrappedBy"] == "envelope (python)"
    assert body["data"]["message"] == "Hello, openruntime!"
    seen = body["data"]["seenByHandler"]
    assert seen["stamp_before"]["by"] == "stamp (bash)"
    assert seen["openruntime"]["by"] == "bash"  # enrich, with the bash SDK
    assert body["data"]["timing"]["measuredBy"] == "timing"  # Node, persistent
    assert b"START RequestId" in done.stderr  # logs go to stderr, the body alone to stdout
    log_lines = [json.loads(line) for line in done.stderr.decode().splitlines() if line.startswith('{"ts"')]
    assert [r["hook"] for r in log_lines if r["middleware"] == "log"] == ["before", "after"]  # Python, persistent


def test_invoke_reads_the_event_from_stdin_and_exits_1_on_function_error(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text("def handler(event, context):\n    raise RuntimeError(event['why'])\n")
    pipeline = write_pipeline(tmp_path, f"runtime: {{name: python, handler: app.handler, task_root: {app}}}\n")
    done = run_cli("invoke", "--pipeline", str(pipeline), "--event", "-", stdin=b'{"why": "no luck"}')
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert error["errorType"] == "RuntimeError" and error["errorMessage"] == "no luck"


def test_validate_reports_file_line_and_field(tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, """
        runtime:
          name: python
        middlewares:
          - name: a
            hooks: [before, sideways]
    """)
    done = run_cli("validate", str(pipeline))
    assert done.returncode == 1
    assert f"{pipeline}:5: middlewares[0].hooks[1]: expected one of before, after, error, received, done, before_snapshot, after_restore, got 'sideways'" \
        in done.stderr.decode()
    ok = run_cli("validate", "pipeline.example.yml")
    assert ok.returncode == 0 and b"middleware stamp" in ok.stdout


def test_validate_lists_every_problem_and_suggests_the_name_meant(tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, """
        runtime:
          name: python
        middlewares:
          - name: valdiate
          - name: log
            mode: persistant
    """)
    done = run_cli("validate", str(pipeline))
    lines = done.stderr.decode().splitlines()
    assert done.returncode == 1 and len(lines) == 1  # the file's own problems first: the name is looked up once it reads
    assert "got 'persistant' (did you mean 'persistent'?)" in lines[0]
    pipeline.write_text(pipeline.read_text().replace("persistant", "persistent").replace("- name: log", "- name: metrix"))
    lines = run_cli("validate", str(pipeline)).stderr.decode().splitlines()
    assert [("valdiate" in line, "(did you mean 'validate'?)" in line) for line in lines[:1]] == [(True, True)]
    assert "'metrix' not found as an executable (did you mean 'metrics'?)" in lines[1]


def test_an_own_middleware_without_its_execute_bit_is_named_not_replaced_by_the_built_in(tmp_path: Path) -> None:
    """`stamp` is also a built-in: a user's middlewares/stamp/stamp that cannot run must not
    silently become it."""
    own = tmp_path / "middlewares" / "stamp" / "stamp"
    own.parent.mkdir(parents=True)
    own.write_text("#!/bin/sh\ncat\n")
    own.chmod(0o644)
    pipeline = write_pipeline(tmp_path, """
        runtime:
          name: python
        middlewares:
          - name: stamp
    """)
    done = run_cli("validate", str(pipeline))
    said = done.stderr.decode()
    assert done.returncode == 1 and f"{own} is not executable (chmod +x {own})" in said, said
    own.chmod(0o755)
    done = run_cli("validate", str(pipeline))
    assert done.returncode == 0 and str(own).encode() in done.stdout


def test_every_command_has_help() -> None:
    for command in ("invoke", "serve", "bootstrap", "validate"):
        done = run_cli(command, "--help")
        assert done.returncode == 0 and b"usage: openruntime " + command.encode() in done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(*args: str, cwd: Path = REPO) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([*OPENRUNTIME, "serve", "--port", str(port), *args], cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def curl(url: str, data: str) -> tuple[dict[str, str], bytes]:
    done = subprocess.run(["curl", "-sS", "-D", "-", "-d", data, url], capture_output=True, timeout=30)
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers, body


def test_serve_answers_curl_for_our_pipeline() -> None:
    with serving("--pipeline", "pipeline.example.yml") as url:
        _, body = curl(url, '{"x":1}')
        again = httpx.post(url, content=b'{"name": "curl"}', timeout=30)
    first = json.loads(body)
    assert first["data"]["seenByHandler"]["x"] == 1
    assert again.json()["data"]["message"] == "Hello, curl!"


def test_serve_runs_a_plain_bash_bootstrap_like_the_rie(tmp_path: Path) -> None:
    # The bootstrap from the AWS custom runtime tutorial, with an error path added.
    bootstrap = write_executable(tmp_path / "bootstrap", r"""
        #!/bin/bash
        set -euo pipefail
        while true; do
          HEADERS="$(mktemp)"
          EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
          REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
          if [[ "$EVENT_DATA" == *fail* ]]; then
            curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/error" \
              -H "Lambda-Runtime-Function-Error-Type: Function.Bash" \
              -d '{"errorType":"Function.Bash","errorMessage":"asked to fail"}' > /dev/null
          else
            curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" \
              -d "{\"echo\": $EVENT_DATA, \"handler\": \"$_HANDLER\"}" > /dev/null
          fi
        done
    """)
    with serving("--handler", "function.handler", "--", str(bootstrap), cwd=tmp_path) as url:
        headers, body = curl(url, '{"x":1}')
        error_headers, error_body = curl(url, '{"fail":1}')
    assert json.loads(body) == {"echo": {"x": 1}, "handler": "function.handler"}
    assert "x-amz-function-error" not in headers
    assert error_headers["x-amz-function-error"] == "Unhandled"
    assert json.loads(error_body) == {"errorType": "Function.Bash", "errorMessage": "asked to fail"}


def test_handler_option_overrides_the_pipelines(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "fn.py").write_text("def main(event, context):\n    return 'main'\n\ndef other(event, context):\n    return 'other'\n")
    pipeline = write_pipeline(tmp_path, f"runtime:\n  name: python\n  handler: fn.main\n  task_root: {app}\n")
    assert json.loads(run_cli("invoke", "--pipeline", str(pipeline)).stdout) == "main"
    assert json.loads(run_cli("invoke", "--pipeline", str(pipeline), "--handler", "fn.other").stdout) == "other"
    missing = run_cli("invoke", "--pipeline", str(pipeline), "--handler", "fn.nothere")
    assert missing.returncode == 1 and json.loads(missing.stdout)["errorType"] == "Runtime.HandlerNotFound"


def test_a_bootstrap_command_with_arguments_gets_the_last_one_as_handler(tmp_path: Path) -> None:
    """As `aws-lambda-rie CMD ARGS…` does: a bootstrap like AWS's bash example reads $_HANDLER."""
    bootstrap = write_executable(tmp_path / "bootstrap", """\
        #!/bin/bash
        set -euo pipefail
        API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
        HEADERS="$(mktemp)"
        while true; do
          curl -sS -LD "$HEADERS" "$API/next" -o /dev/null
          ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
          curl -sS "$API/$ID/response" -d "\\"$_HANDLER\\"" -o /dev/null
        done
    """)
    done = run_cli("invoke", "--", str(bootstrap), "function.handler", cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout) == "function.handler"


def test_boto3_sees_lambdas_own_errors_from_serve() -> None:
    """The Invoke API's errors as AWS's SDK reads them: a non-JSON payload is refused before
    any code runs (Lambda's InvalidRequestContentException), with the code boto3 raises."""
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    with serving("--pipeline", "pipeline.example.yml") as url:
        endpoint = url.split("/2015-03-31")[0]
        client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="x", aws_secret_access_key="x",
                              config=Config(retries={"max_attempts": 1}))
        with pytest.raises(client.exceptions.InvalidRequestContentException) as refused:
            client.invoke(FunctionName="function", Payload=b"not json {")
        answer = client.invoke(FunctionName="function", Payload=b'{"name": "boto3"}')
    assert "Could not parse request body into json" in str(refused.value)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert json.loads(answer["Payload"].read())["data"]["message"] == "Hello, boto3!"


def test_invoke_refuses_an_event_that_is_not_json_as_lambda_does(tmp_path: Path) -> None:
    (tmp_path / "event.json").write_text("{'single': 'quotes'}")
    done = run_cli("invoke", "--pipeline", str(REPO / "pipeline.example.yml"), "--event", str(tmp_path / "event.json"))
    assert done.returncode == 1 and done.stdout == b""
    assert b"event.json: the event is not JSON (Expecting property name enclosed in double quotes: line 1 column 2" \
        in done.stderr and b"InvalidRequestContentException" in done.stderr and b"Traceback" not in done.stderr


def hanging_handler(folder: Path) -> Path:
    """app.py whose handler writes "<runtime pid> <orchestrator pid>" to the file returned, then hangs."""
    pids = folder / "pids"
    (folder / "app.py").write_text(
        "import os, time\n"
        "def handler(event, context):\n"
        f"    open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{os.getppid()}}')\n"
        "    time.sleep(60)\n")
    return pids


def test_serve_killed_outright_takes_the_whole_tree_along(tmp_path: Path) -> None:
    """SIGKILL to `serve` mid-invocation: the bootstrap (orchestrator), the runtime and the
    middlewares die with it, not when the invocation would have ended."""
    pids = hanging_handler(tmp_path)
    write_executable(tmp_path / "middlewares" / "keep" / "keep", """
        #!/usr/bin/env python3
        import json, sys
        inp, out = sys.stdin.buffer, sys.stdout.buffer
        out.write(b'{"ready":true,"protocol":2,"hooks":["before"],"length":0}\\n'); out.flush()
        while line := inp.readline():
            payload = inp.read(json.loads(line)["length"])
            out.write(b'{"action":"continue","length":%d}\\n' % len(payload) + payload); out.flush()
    """)
    write_pipeline(tmp_path, """
        runtime: {name: python, handler: app.handler, task_root: .}
        middlewares:
          - {name: keep, mode: persistent, hooks: [before]}
    """)
    port = free_port()
    serve = subprocess.Popen([*OPENRUNTIME, "serve", "--port", str(port), "--pipeline", "pipeline.yml"],
                             cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    try:
        deadline = time.monotonic() + 15
        caller = None
        while time.monotonic() < deadline and caller is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                caller = subprocess.Popen(["curl", "-sS", "-m", "60", "-d", "{}", url],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError:
                time.sleep(0.05)
        while not pids.exists() or not pids.read_text():
            assert time.monotonic() < deadline, "the handler never ran"
            time.sleep(0.05)
        runtime_pid, orchestrator_pid = map(int, pids.read_text().split())
        middleware_pids = [int(p) for p in subprocess.run(["pgrep", "-f", str(tmp_path / "middlewares")],
                                                          capture_output=True, text=True).stdout.split()]
        assert middleware_pids
        serve.kill()
        serve.wait(5)
        assert wait_gone([orchestrator_pid, runtime_pid, *middleware_pids], within_s=5) == []
    finally:
        serve.kill()
        if caller is not None:
            caller.kill()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_invoke_stopped_by_a_signal_ends_its_tree_and_says_so(tmp_path: Path, signum: int) -> None:
    pids = hanging_handler(tmp_path)
    write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")
    invoke = subprocess.Popen([*OPENRUNTIME, "invoke", "--pipeline", "pipeline.yml"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not pids.exists() or not pids.read_text():
        assert time.monotonic() < deadline and invoke.poll() is None, "the handler never ran"
        time.sleep(0.05)
    runtime_pid, orchestrator_pid = map(int, pids.read_text().split())
    invoke.send_signal(signum)
    _, err = invoke.communicate(timeout=20)
    assert invoke.returncode == 128 + signum
    assert f"openruntime: stopped by signal {signum}".encode() in err and b"Traceback" not in err
    assert wait_gone([orchestrator_pid, runtime_pid], within_s=3) == []


def test_a_closed_stdout_is_no_traceback(tmp_path: Path) -> None:
    """`openruntime validate pipeline.yml | head -0`: the reader went away first."""
    read, write = os.pipe()
    os.close(read)
    done = subprocess.run([*OPENRUNTIME, "validate", str(REPO / "pipeline.example.yml")], stdout=write,
                          stderr=subprocess.PIPE, timeout=60)
    os.close(write)
    assert done.returncode == 141 and b"Traceback" not in done.stderr, done.stderr


def test_invoke_with_a_damaged_layer_names_it(tmp_path: Path) -> None:
    import zipfile

    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bootstrap", "#!/bin/sh\\n" + "echo x\\n" * 500)
    data = bytearray(good.read_bytes())
    data[60] ^= 0xFF  # inside the compressed bytes: the CRC check fails on extraction
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    for layer, says in ((damaged, b"--layer: "), (tmp_path / "missing.zip", b"missing.zip: no such file")):
        done = run_cli("invoke", "--layer", str(layer), cwd=tmp_path)
        assert done.returncode == 1 and says in done.stderr and b"Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize(("args", "said"), [
    (["serve", "--port", "99999"], b"argument --port: expected a port from 0 to 65535"),
    (["invoke", "--timeout", "-1"], b"argument --timeout: expected more than 0 and at most 900 seconds"),
    (["serve", "--timeout", "0"], b"argument --timeout: expected more than 0"),
    (["serve", "--concurrency", "0"], b"argument --concurrency: expected a whole number from 1 to 256"),
])
def test_out_of_range_options_are_refused_by_name(args: list[str], said: bytes) -> None:
    done = run_cli(*args)
    assert done.returncode == 2 and said in done.stderr and b"Traceback" not in done.stderr, done.stderr


def test_strict_rie_outside_managed_instances_mode_is_refused(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler}\n")
    done = run_cli("serve", "--strict-rie", "--pipeline", "pipeline.yml", cwd=tmp_path)
    assert done.returncode == 1 and b"--strict-rie is AWS RIE's answer in Managed Instances mode" in done.stderr


def test_boto3_gets_the_invocations_log_tail_and_qualifiers(tmp_path: Path) -> None:
    """LogType='Tail': X-Amz-Log-Result is base64 of the invocation's log, START to REPORT,
    the handler's own lines included; a Qualifier the function does not have is Lambda's
    ResourceNotFoundException."""
    boto3 = pytest.importorskip("boto3")
    import base64

    from botocore.config import Config

    (tmp_path / "app.py").write_text("def handler(event, context):\n"
                                     "    print('a line from the handler', event['n'])\n    return event['n']\n")
    write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")
    with serving_cli(tmp_path) as (endpoint, _):
        client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
        answers = [client.invoke(FunctionName="function", Payload=json.dumps({"n": n}).encode(), LogType="Tail",
                                 Qualifier="$LATEST") for n in range(2)]
        plain = client.invoke(FunctionName="function", Payload=b'{"n": 9}')
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.invoke(FunctionName="function", Payload=b'{"n": 9}', Qualifier="7")
    for n, answer in enumerate(answers):
        log = base64.b64decode(answer["LogResult"]).decode()
        lines = log.splitlines()
        request_id = answer["ResponseMetadata"]["RequestId"]
        assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
        assert any(f"a line from the handler {n}" in line for line in lines)
        assert lines[-2] == f"END RequestId: {request_id}" and lines[-1].startswith(f"REPORT RequestId: {request_id}")
        assert f"handler {1 - n}" not in log  # its own log, not the other invocation's
    assert "LogResult" not in plain


def test_generate_event_prints_real_samples_that_invoke_takes(tmp_path: Path) -> None:
    listing = run_cli("generate-event")
    assert listing.returncode == 0 and b"s3 " in listing.stdout and b"sqs " in listing.stdout
    s3 = run_cli("generate-event", "s3", "put")
    assert s3.returncode == 0 and json.loads(s3.stdout)["Records"][0]["eventSource"] == "aws:s3"
    assert run_cli("generate-event", "sqs").stdout.split() == [b"receive-message"]
    wrong = run_cli("generate-event", "s3", "nope")
    assert wrong.returncode == 2 and b"s3 has no action 'nope'; it has: delete, put" in wrong.stderr
    # --set, for what sam's --bucket/--body/--path change: JSON when it reads as JSON, else text
    changed = run_cli("generate-event", "s3", "put", "--set", "Records.0.s3.bucket.name=my-bucket",
                      "--set", "Records.0.s3.object.size=5", "--set", "Records.0.extra={\"a\": [1]}")
    record = json.loads(changed.stdout)["Records"][0]
    assert (record["s3"]["bucket"]["name"], record["s3"]["object"]["size"], record["extra"]) == ("my-bucket", 5, {"a": [1]})
    # A text field stays text, as AWS sends it: an HTTP event's body is a JSON document in a string.
    http_event = run_cli("generate-event", "apigateway", "http-api-proxy", "--set", 'body={"k": 1}')
    assert json.loads(json.loads(http_event.stdout)["body"]) == {"k": 1}
    missing = run_cli("generate-event", "s3", "put", "--set", "Records.3.s3=x")
    assert missing.returncode == 2 and b"--set 'Records.3.s3=x': the event has no Records.3" in missing.stderr
    (tmp_path / "event.json").write_bytes(s3.stdout)
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event['Records'][0]['s3']['bucket']['name']\n")
    write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")
    done = run_cli("invoke", "-e", "event.json", cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout) == json.loads(s3.stdout)["Records"][0]["s3"]["bucket"]["name"]


def test_validate_start_shows_what_a_middleware_refuses_at_start(tmp_path: Path) -> None:
    """A misspelt schema keyword or a bad variable: the middleware refuses it when it starts,
    which `validate --start` does, before deploying (plain `validate` reads only the file)."""
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event\n")
    (tmp_path / "schema.json").write_text('{"type": "object", "requried": ["x"]}')
    write_pipeline(tmp_path, """
        runtime: {name: python, handler: app.handler, task_root: .}
        middlewares:
          - name: validate
            env: {VALIDATE_SCHEMA: schema.json}
          - name: http
            env: {HTTP_ERROR_STATUS: "NotFoundError=404"}
    """)
    assert run_cli("validate", "pipeline.yml", cwd=tmp_path).returncode == 0
    refused = run_cli("validate", "--start", "pipeline.yml", cwd=tmp_path)
    assert refused.returncode == 1
    assert b"middleware 'validate' hook 'init' did not start" in refused.stderr
    assert b"unknown keyword 'requried' (did you mean 'required'?)" in refused.stderr
    (tmp_path / "schema.json").write_text('{"type": "object", "required": ["x"]}')
    started = run_cli("validate", "--start", "pipeline.yml", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    assert b"OK (each persistent middleware started and ready)" in started.stdout


def test_validate_draws_the_order_of_an_invocation() -> None:
    done = run_cli("validate", "pipeline.example.yml")
    lines = done.stdout.decode().split("  the order of an invocation:\n")[1].splitlines()
    assert [line.strip() for line in lines] == [
        "→ log.before", "→ envelope.before", "→ timing.before", "→ stamp.before", "→ enrich.before", "handler",
        "← stamp.after", "← timing.after", "← envelope.after", "← log.after / error"]


def test_validate_draws_the_done_hooks_after_the_answer(tmp_path: Path) -> None:
    write_pipeline(tmp_path, """
        runtime: {name: python, handler: app.handler, task_root: .}
        middlewares: [trace, metrics]
    """)
    done = run_cli("validate", "pipeline.yml", cwd=tmp_path)
    lines = done.stdout.decode().split("  the order of an invocation:\n")[1].splitlines()
    assert [line.strip() for line in lines] == [
        "handler", "then, once the answer is posted: trace.received, trace.done, metrics.done"]


def test_serve_watch_restarts_the_sandbox_when_the_code_changes(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text("def handler(event, context):\n    return 'first version'\n")
    write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")
    with serving_cli(tmp_path, "--watch") as (endpoint, _):
        url = f"{endpoint}/2015-03-31/functions/function/invocations"
        before = httpx.post(url, content=b"{}").json()
        app.write_text("def handler(event, context):\n    return 'second version'\n")
        log = tmp_path / "serve.log"
        deadline = time.monotonic() + 10
        while "app.py changed" not in log.read_text():
            assert time.monotonic() < deadline, "the change was not seen within 10 s"
            time.sleep(0.05)
        after = httpx.post(url, content=b"{}").json()
        time.sleep(0.6)  # two of the watcher's looks, while serve.log grows
        again = httpx.post(url, content=b"{}").json()
    assert (before, after, again) == ("first version", "second version", "second version")
    # serve.log, in the watched folder, is serve's own STDERR: writing it changes nothing.
    text = log.read_text()
    assert "serve.log changed" not in text and text.count("Init Duration") == 2, text[-2000:]


TEMPLATE_FOR_WATCH = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Environment:
      Variables:
        GLOBALVAR: {globalvar}
Resources:
  EnvFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: app.handler
      Runtime: python3.12
      Timeout: {timeout}
      AutoPublishAlias: live
      Environment:
        Variables:
          TABLE: from-the-template   # declared: what --env-vars may set, as in sam local
"""


def wait_for_line(log: Path, text: str, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    while log.read_text().count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} not seen within 10 s: {log.read_text()[-2000:]}"
        time.sleep(0.05)


def test_serve_watch_reads_the_env_vars_file_and_the_template_again(tmp_path: Path) -> None:
    """SAM's users edit env.json and template.yaml while serving: the next invocation gets
    the new environment and timeout, not the ones serve started with. (And the template's
    AutoPublishAlias is served as a qualifier.)"""
    (tmp_path / "app.py").write_text("import os\ndef handler(event, context):\n    return [os.environ.get('TABLE'), "
                                     "os.environ.get('GLOBALVAR'), round(context.get_remaining_time_in_millis() / 1000)]\n")
    template, env_vars = tmp_path / "template.yaml", tmp_path / "env.json"
    template.write_text(TEMPLATE_FOR_WATCH.format(globalvar="first", timeout=30))
    env_vars.write_text(json.dumps({"EnvFunction": {"TABLE": "table-1"}}))
    with serving_cli(tmp_path, "--template", "template.yaml", "--env-vars", "env.json", "--watch",
                     drop_pipeline=True) as (endpoint, _):
        url = f"{endpoint}/2015-03-31/functions/EnvFunction/invocations"
        log = tmp_path / "serve.log"
        before = httpx.post(url, content=b"{}").json()
        # Its AutoPublishAlias is a qualifier callers use (fn:live); another is not found.
        assert httpx.post(f"{endpoint}/2015-03-31/functions/EnvFunction:live/invocations", content=b"{}").json() == before
        assert httpx.post(f"{url}?Qualifier=live", content=b"{}").status_code == 200
        assert httpx.post(f"{url}?Qualifier=prod", content=b"{}").status_code == 404
        env_vars.write_text(json.dumps({"EnvFunction": {"TABLE": "table-2"}}))
        wait_for_line(log, "env.json changed: read again")
        after_env = httpx.post(url, content=b"{}").json()
        template.write_text(TEMPLATE_FOR_WATCH.format(globalvar="second", timeout=60))
        wait_for_line(log, "template.yaml changed: read again")
        after_template = httpx.post(url, content=b"{}").json()
        env_vars.write_text('{"EnvFunction": {"TABLE": ')  # half-saved: the settings before it stay
        wait_for_line(log, "the previous settings stay")
        half_saved = httpx.post(url, content=b"{}").json()
        env_vars.write_text(json.dumps({"EnvFunction": {"TABLE": "table-2"}}))
        # A template half saved so that its reader breaks (Properties a string): said, and watching goes on.
        template.write_text("Resources:\n  EnvFunction:\n    Type: AWS::Serverless::Function\n    Properties: x\n")
        wait_for_line(log, "the previous settings stay", count=2)
        # Code and template saved together (one look of the watcher sees both): both taken in.
        (tmp_path / "app.py").write_text((tmp_path / "app.py").read_text().replace("return [", "return ['v2', "))
        template.write_text(TEMPLATE_FOR_WATCH.format(globalvar="third", timeout=60))
        wait_for_line(log, "template.yaml changed: read again", count=2)
        together = httpx.post(url, content=b"{}").json()
    assert before == ["table-1", "first", 30]
    assert after_env == ["table-2", "first", 30]
    assert after_template == ["table-2", "second", 60]
    assert half_saved == after_template
    assert together == ["v2", "table-2", "third", 60]
    assert "Traceback" not in log.read_text()


def test_the_function_sees_the_qualifier_it_was_invoked_with(tmp_path: Path) -> None:
    """Lambda's invoked_function_arn ends with the alias the caller named (FunctionName
    Fn:live, or Qualifier=live); without one it is the function's ARN."""
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return context.invoked_function_arn\n")
    (tmp_path / "template.yaml").write_text(TEMPLATE_FOR_WATCH.format(globalvar="x", timeout=30))
    with serving_cli(tmp_path, "--template", "template.yaml", drop_pipeline=True) as (endpoint, _):
        url = f"{endpoint}/2015-03-31/functions"
        plain = httpx.post(f"{url}/EnvFunction/invocations", content=b"{}").json()
        named = httpx.post(f"{url}/EnvFunction:live/invocations", content=b"{}").json()
        queried = httpx.post(f"{url}/EnvFunction/invocations?Qualifier=live", content=b"{}").json()
    assert plain.endswith(":function:EnvFunction")
    assert named == queried == plain + ":live"


def test_invoke_a_templates_function_by_its_logical_id(tmp_path: Path) -> None:
    """`sam local invoke FUNCTION`'s habit: the function picked from ./template.yaml (or
    --template) by logical id, with the template's handler, environment and timeout."""
    for name in ("orders", "users"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(
            f"import os\ndef handler(event, context):\n    return ['{name}', os.environ['TABLE'], event, "
            "context.get_remaining_time_in_millis(), context.function_name]\n")
    (tmp_path / "template.yaml").write_text("""\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    Timeout: 7
Resources:
  OrdersFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: orders
      Environment: {Variables: {TABLE: !Sub "orders-${Stage}-${AWS::Region}"}}
  UsersFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: users
      Timeout: 9
      Environment: {Variables: {TABLE: users-table}}
""")
    (tmp_path / "event.json").write_text('{"id": 1}')
    done = run_cli("invoke", "UsersFunction", "-e", "event.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    name, table, event, remaining_ms, function_name = json.loads(done.stdout)
    assert (name, table, event, function_name) == ("users", "users-table", {"id": 1}, "UsersFunction")
    assert 7_000 < remaining_ms <= 9_000  # its own Timeout, not the Globals' 7 s
    done = run_cli("invoke", "OrdersFunction", "--template", "template.yaml", "--timeout", "4", cwd=tmp_path)
    name, table, event, remaining_ms, function_name = json.loads(done.stdout)
    # !Sub of a Parameter's Default and a pseudo parameter, resolved as sam local does
    assert (name, table, event, function_name) == ("orders", "orders-dev-us-east-1", {}, "OrdersFunction"), done.stderr
    assert 2_000 < remaining_ms <= 4_000  # --timeout over the template's
    for overrides in (["--parameter-overrides", "Stage=prod"],
                      ["--parameter-overrides", "ParameterKey=Stage,ParameterValue=prod"]):
        done = run_cli("invoke", "OrdersFunction", *overrides, cwd=tmp_path)
        assert json.loads(done.stdout)[1] == "orders-prod-us-east-1", done.stderr
    # SAM's splitting: spaces outside quotes; a value keeps its commas, loses its quotes.
    done = run_cli("invoke", "OrdersFunction", "--parameter-overrides",
                   'Other=x ParameterKey=Stage,ParameterValue=a,b Unused="hello world"', cwd=tmp_path)
    assert json.loads(done.stdout)[1] == "orders-a,b-us-east-1", done.stderr
    done = run_cli("invoke", "OrdersFunction", "--parameter-overrides", 'Stage="quoted stage"', cwd=tmp_path)
    assert json.loads(done.stdout)[1] == "orders-quoted stage-us-east-1", done.stderr
    bad = run_cli("invoke", "OrdersFunction", "--parameter-overrides", "Stage", cwd=tmp_path)
    assert bad.returncode == 1 and b"--parameter-overrides: 'Stage': expected KEY=VALUE" in bad.stderr
    several = run_cli("invoke", "--template", "template.yaml", cwd=tmp_path)
    assert several.returncode == 1 and b"several functions (OrdersFunction, UsersFunction): name one" in several.stderr
    unknown = run_cli("invoke", "Nope", cwd=tmp_path)
    assert unknown.returncode == 1
    assert b"has no function 'Nope' (it has: OrdersFunction, UsersFunction)" in unknown.stderr


def test_a_layers_python_folder_is_importable_as_on_lambda(tmp_path: Path) -> None:
    """A dependencies layer (python/ and python/lib/pythonX.Y/site-packages/, as Lambda's
    Python runtimes read /opt) given with --layer: the handler imports from it."""
    import zipfile

    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    with zipfile.ZipFile(tmp_path / "deps.zip", "w") as layer:
        layer.writestr("python/mylib.py", "NAME = 'from the layer'\n")
        layer.writestr(f"python/lib/{version}/site-packages/sitelib.py", "NAME = 'from site-packages'\n")
    (tmp_path / "app.py").write_text("import mylib, sitelib\ndef handler(event, context):\n"
                                     "    return [mylib.NAME, sitelib.NAME]\n")
    write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")
    done = run_cli("invoke", "--layer", "deps.zip", "--pipeline", "pipeline.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == ["from the layer", "from site-packages"]


def test_env_vars_file_in_sams_format(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import os\ndef handler(event, context):\n"
                                     "    return [os.environ.get(k) for k in ('TABLE', 'STAGE', 'DEBUG')]\n")
    write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")
    (tmp_path / "env.json").write_text(json.dumps({"Parameters": {"TABLE": "shared", "STAGE": "dev"},
                                                   "HelloFunction": {"TABLE": "hello-table", "DEBUG": True}}))
    done = run_cli("invoke", "--env-vars", "env.json", "--env", "STAGE=cli", cwd=tmp_path)
    assert json.loads(done.stdout) == ["hello-table", "cli", "true"], done.stderr
    (tmp_path / "blank.json").write_text(json.dumps({"Parameters": {"TABLE": None}}))  # SAM: null is ""
    done = run_cli("invoke", "--env-vars", "blank.json", cwd=tmp_path)
    assert json.loads(done.stdout) == ["", None, None], done.stderr
    (tmp_path / "bad.json").write_text('{"Parameters": {"X": {"nested": 1}}}')
    bad = run_cli("invoke", "--env-vars", "bad.json", cwd=tmp_path)
    assert bad.returncode == 1 and b"bad.json: Parameters.X: expected a string, number or boolean" in bad.stderr


def test_serve_runs_several_functions_by_name(tmp_path: Path) -> None:
    """boto3 calls two functions of one serve by name and by ARN; a third name is Lambda's
    ResourceNotFoundException."""
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    for name in ("orders", "users"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "app.py").write_text(f"def handler(event, context):\n    return ['{name}', context.function_name]\n")
        write_pipeline(folder, "runtime: {name: python, handler: app.handler, task_root: .}\n")
    with serving_cli(tmp_path, "--function", f"orders={tmp_path / 'orders' / 'pipeline.yml'}",
                     "--function", f"users={tmp_path / 'users' / 'pipeline.yml'}", drop_pipeline=True) as (endpoint, _):
        client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
        orders = json.loads(client.invoke(FunctionName="orders", Payload=b"{}")["Payload"].read())
        users = json.loads(client.invoke(FunctionName="arn:aws:lambda:us-east-1:012345678912:function:users",
                                         Payload=b"{}")["Payload"].read())
        with pytest.raises(client.exceptions.ResourceNotFoundException) as missing:
            client.invoke(FunctionName="nobody", Payload=b"{}")
    assert orders == ["orders", "orders"] and users == ["users", "users"]
    assert "function:nobody" in str(missing.value)


def test_serve_template_serves_a_sam_templates_functions(tmp_path: Path) -> None:
    """The `init` scaffold's own template.yaml: its function, by its logical id, with its
    pipeline (middlewares included) behind boto3 and the HTTP front; and a second function
    without a pipeline, on the bundled runtime its Runtime names, with its environment."""
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    assert run_cli("init", str(tmp_path / "fn"), cwd=tmp_path).returncode == 0
    project = tmp_path / "fn"
    (project / "plain").mkdir()
    (project / "plain" / "app.py").write_text("import os\ndef handler(event, context):\n"
                                              "    return [os.environ['COLOUR'], os.environ.get('TABLE'), context.memory_limit_in_mb,\n"
                                              "            os.environ.get('SHARED'), os.environ.get('STAGE')]\n")
    # SAM's --env-vars file with a section per function (and one for a function that is not there).
    (project / "env.json").write_text(json.dumps({"Parameters": {"SHARED": "everyone"}, "Plain": {"STAGE": "plain", "COLOUR": "green"},
                                                  "Function": {"STAGE": "function"}, "Typo": {"X": "1"}}))
    template = (project / "template.yaml").read_text()
    template = template.replace("Resources:\n", """Resources:
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: plain
      Handler: app.handler
      Runtime: python3.12
      MemorySize: 256
      Environment:
        Variables:
          COLOUR: blue
          TABLE: !Ref SomeTable
          SHARED: from-the-template
""", 1)
    (project / "template.yaml").write_text(template)
    http_port = socket.socket()
    http_port.bind(("127.0.0.1", 0))
    port = http_port.getsockname()[1]
    http_port.close()
    with serving_cli(project, "--template", "template.yaml", "--http", str(port), "--env-vars", "env.json",
                     drop_pipeline=True) as (endpoint, _):
        client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
        event = (project / "events" / "http-api.json").read_bytes()
        shaped = json.loads(client.invoke(FunctionName="Function", Payload=event)["Payload"].read())
        plain = json.loads(client.invoke(FunctionName="Plain", Payload=b"{}")["Payload"].read())
        front = httpx.get(f"http://127.0.0.1:{port}/hello")
    assert shaped["statusCode"] == 200 and json.loads(shaped["body"])["message"] == "Hello, world!"
    # The file's section wins over the template's Environment, as in SAM, for the variables
    # the function declares (STAGE it does not: not set, and said); a !Ref that only
    # CloudFormation resolves is left out, and said.
    assert plain == ["green", None, "256", "everyone", None]
    log = (project / "serve.log").read_text()
    assert "environment variable TABLE is {'Ref': 'SomeTable'}" in log
    assert "section 'Typo' names no function of the template (Function, Plain); not used" in log
    assert "env.json: STAGE not in Plain's Environment in the template: not set" in log
    here = f"python{sys.version_info[0]}.{sys.version_info[1]}"  # the OPENRUNTIME_PYTHON serving_cli sets
    assert (f"Plain: the template's Runtime is python3.12; here it runs on {here}" in log) is (here != "python3.12")
    assert front.status_code == 200 and json.loads(front.text)["message"] == "Hello, world!"  # the HttpApi one


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH")
def test_debug_port_opens_the_node_inspector(tmp_path: Path) -> None:
    (tmp_path / "app.js").write_text("exports.handler = async () => 'inspected';\n")
    write_pipeline(tmp_path, "runtime: {name: node, handler: app.handler, task_root: .}\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with serving_cli(tmp_path, "--debug-port", str(port)) as (endpoint, _), ThreadPoolExecutor(1) as caller:
        # The runtime starts with the first invocation, and waits for a debugger before it
        # loads the handler, as `sam local invoke -d` does: the call returns once attached.
        pending = caller.submit(lambda: httpx.post(f"{endpoint}/2015-03-31/functions/function/invocations",
                                                   content=b"{}", timeout=60).json())
        deadline = time.monotonic() + 20
        while True:
            try:
                targets = httpx.get(f"http://127.0.0.1:{port}/json/list").json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the inspector did not open"
                time.sleep(0.05)
        wait_for_line(tmp_path / "serve.log", "waiting for a debugger")
        debugger = attach_and_run(port, targets[0]["webSocketDebuggerUrl"])
        answer = pending.result(timeout=30)
        debugger.close()
    assert answer == "inspected"
    # The port taken (another sandbox's inspector, say): the function runs, undebugged.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = run_cli("invoke", "--debug-port", str(taken.getsockname()[1]), cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout) == "inspected", done.stderr[-2000:]
    assert b"running without a debugger" in done.stderr


def attach_and_run(port: int, url: str) -> socket.socket:
    """A debugger, as little of one as the Chrome DevTools Protocol allows: a WebSocket to
    the inspector and `Runtime.runIfWaitingForDebugger`."""
    import base64

    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET {url.split(str(port), 1)[1]} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    message = json.dumps({"id": 1, "method": "Runtime.runIfWaitingForDebugger"}).encode()
    mask = os.urandom(4)
    sock.sendall(bytes([0x81, 0x80 | len(message)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(message)))
    return sock


def test_debug_port_without_debugpy_says_how_to_get_it(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("debugpy") is not None:
        pytest.skip("debugpy is installed here: the runtime would wait for a debugger")
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return ['ran', context.get_remaining_time_in_millis()]\n")
    write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")
    done = run_cli("invoke", "--debug-port", "5678", "--timeout", "3", cwd=tmp_path)
    ran, remaining_ms = json.loads(done.stdout)
    assert ran == "ran"
    assert remaining_ms > 3_600_000  # as sam local: no timeout cuts a debugging session short
    assert b"--debug-port needs debugpy: pip install debugpy" in done.stderr


def _on_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, bytes]:
    """Run the command with STDOUT and STDERR on a pseudo-terminal; (status, what it wrote)."""
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen([*OPENRUNTIME, *args], cwd=cwd, stdout=follower, stderr=follower,
                               env={**os.environ, **env})
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the other end closed
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(60), output


def test_a_terminal_gets_colour_and_a_readable_error_unless_no_color(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    raise ValueError('it broke')\n")
    write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")
    status, coloured = _on_a_terminal(["invoke"], tmp_path, {})
    assert status == 1 and b"\x1b[36mREPORT RequestId" in coloured
    assert b'\x1b[31m{\r\n  "errorMessage": "it broke"' in coloured  # indented, one key a line, red
    status, plain = _on_a_terminal(["invoke"], tmp_path, {"NO_COLOR": "1"})
    assert status == 1 and b"\x1b[" not in plain and b'{\r\n  "errorMessage": "it broke"' in plain
    piped = run_cli("invoke", cwd=tmp_path)  # a pipe: the bytes as the function sent them
    assert b"\x1b[" not in piped.stdout + piped.stderr and piped.stdout.startswith(b'{"errorMessage"')


def test_boto3_client_context_reaches_the_handler(tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    import base64

    from botocore.config import Config

    (tmp_path / "app.py").write_text("def handler(event, context):\n"
                                     "    cc = context.client_context\n"
                                     "    return {'custom': cc.custom if cc else None, 'app': cc.client.app_title if cc else None}\n")
    write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")
    context = {"custom": {"tenant": "blue"}, "client": {"app_title": "shop"}, "env": {}}
    with serving_cli(tmp_path) as (endpoint, _):
        client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
        answer = client.invoke(FunctionName="function", Payload=b"{}",
                               ClientContext=base64.b64encode(json.dumps(context).encode()).decode())
    assert json.loads(answer["Payload"].read()) == {"custom": {"tenant": "blue"}, "app": "shop"}


# A bootstrap of our own on the Runtime API (`serve -- ./bootstrap`), so that what the
# Invoke API answers is the emulator's alone. {"lines": N}: N short lines on STDOUT just
# before the answer; {"fail": MSG}: an error post; {"stream": [TEXT…]}: a streamed answer,
# one chunk each; otherwise the event comes back with what /next told it (its client
# context and invoked ARN). Each event's client context is also added to ./contexts.
RAW_BOOTSTRAP = """\
#!{python}
import http.client, json, os, sys
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
api = http.client.HTTPConnection(host, int(port))
while True:
    api.request("GET", "/2018-06-01/runtime/invocation/next")
    got = api.getresponse()
    body = got.read()
    rid = got.getheader("Lambda-Runtime-Aws-Request-Id")
    event = json.loads(body)  # an empty body would fail here: the emulator must never send one
    with open("contexts", "a") as seen:  # each event's client context, in order
        seen.write(json.dumps(got.getheader("Lambda-Runtime-Client-Context")) + "\\n")
    out = sys.stdout.buffer
    for i in range(event.get("lines", 0) if isinstance(event, dict) else 0):
        out.write(b"line %05d\\n" % i)
    out.flush()
    if isinstance(event, dict) and "fail" in event:
        error = {{"errorMessage": event["fail"], "errorType": "MyError", "stackTrace": []}}
        api.request("POST", f"/2018-06-01/runtime/invocation/{{rid}}/error", body=json.dumps(error),
                    headers={{"Lambda-Runtime-Function-Error-Type": "MyError"}})
    elif isinstance(event, dict) and "stream" in event:
        api.request("POST", f"/2018-06-01/runtime/invocation/{{rid}}/response",
                    body=iter([c.encode() for c in event["stream"]]), encode_chunked=True,
                    headers={{"Lambda-Runtime-Function-Response-Mode": "streaming",
                             "Content-Type": "text/plain"}})
    else:
        answer = {{"event": event, "cc": got.getheader("Lambda-Runtime-Client-Context"),
                  "arn": got.getheader("Lambda-Runtime-Invoked-Function-Arn")}}
        api.request("POST", f"/2018-06-01/runtime/invocation/{{rid}}/response", body=json.dumps(answer))
    api.getresponse().read()
"""


@contextmanager
def raw_bootstrap_served(folder: Path, *options: str) -> Iterator[tuple[str, Any]]:
    """`serve -- ./bootstrap` (RAW_BOOTSTRAP) and a boto3 Lambda client for it."""
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    write_executable(folder / "bootstrap", RAW_BOOTSTRAP.format(python=sys.executable))
    with serving_cli(folder, "--timeout", "30", *options, "--", "./bootstrap", drop_pipeline=True) as (endpoint, _):
        client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x", config=Config(retries={"max_attempts": 0}, read_timeout=60))
        yield endpoint, client


def assert_log_tail(log_result: str, request_id: str, lines_written: int) -> None:
    """X-Amz-Log-Result: the last 4 KB of the log, in order, ending with END and REPORT."""
    import base64

    text = base64.b64decode(log_result)
    assert len(text) <= 4096
    lines = text.decode().splitlines()
    assert lines[-2] == f"END RequestId: {request_id}" and lines[-1].startswith(f"REPORT RequestId: {request_id}")
    numbers = [int(line.split()[1]) for line in lines[1:-2]]  # the first may be cut mid-line
    assert numbers == list(range(lines_written - len(numbers), lines_written)), lines[:3]


def test_the_log_tail_ends_with_report_however_much_the_function_wrote_last(tmp_path: Path) -> None:
    """Lines written just before the answer (more than a pipe holds) come before END and
    REPORT in X-Amz-Log-Result, never after them."""
    with raw_bootstrap_served(tmp_path) as (_, client):
        for _ in range(3):
            answer = client.invoke(FunctionName="function", Payload=b'{"lines": 8000}', LogType="Tail")
            assert_log_tail(answer["LogResult"], answer["ResponseMetadata"]["RequestId"], 8000)


def test_invoke_with_response_stream_and_log_type_tail_ends_with_the_log(tmp_path: Path) -> None:
    """InvokeWithResponseStream, LogType='Tail': InvokeComplete carries LogResult (the
    service model's InvokeWithResponseStreamCompleteEvent), for an answer and an error."""
    with raw_bootstrap_served(tmp_path) as (_, client):
        answer = client.invoke_with_response_stream(FunctionName="function", Payload=b'{"lines": 300}', LogType="Tail")
        events = list(answer["EventStream"])
        failed = client.invoke_with_response_stream(FunctionName="function", Payload=b'{"lines": 2, "fail": "no"}',
                                                    LogType="Tail")
        failed_events = list(failed["EventStream"])
        streamed = client.invoke_with_response_stream(FunctionName="function", LogType="Tail",
                                                      Payload=b'{"lines": 5, "stream": ["a", "b"]}')
        streamed_events = list(streamed["EventStream"])
        plain = list(client.invoke_with_response_stream(FunctionName="function", Payload=b"{}")["EventStream"])
    assert json.loads(events[0]["PayloadChunk"]["Payload"])["event"] == {"lines": 300}
    assert_log_tail(events[-1]["InvokeComplete"]["LogResult"], answer["ResponseMetadata"]["RequestId"], 300)
    complete = failed_events[-1]["InvokeComplete"]
    assert (complete["ErrorCode"], complete["ErrorDetails"]) == ("MyError", "no")
    assert_log_tail(complete["LogResult"], failed["ResponseMetadata"]["RequestId"], 2)
    assert b"".join(e["PayloadChunk"]["Payload"] for e in streamed_events[:-1]) == b"ab"
    assert_log_tail(streamed_events[-1]["InvokeComplete"]["LogResult"], streamed["ResponseMetadata"]["RequestId"], 5)
    assert plain[-1] == {"InvokeComplete": {}}


def test_no_payload_reaches_the_function_as_an_empty_object(tmp_path: Path) -> None:
    """Lambda hands the function {} when the caller sends no payload (boto3 without
    Payload, `aws lambda invoke` without --payload); AWS's own .NET test tool changed to
    match the service (aws-lambda-dotnet#834). The same for `openruntime invoke` on empty input."""
    with raw_bootstrap_served(tmp_path) as (_, client):
        for invocation in ({}, {"InvocationType": "RequestResponse"}):
            answer = client.invoke(FunctionName="function", **invocation)
            assert "FunctionError" not in answer
            assert json.loads(answer["Payload"].read())["event"] == {}
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text("def handler(event, context):\n    return {'got': event}\n")
    pipeline = write_pipeline(tmp_path, f"runtime: {{name: python, handler: app.handler, task_root: {app}}}\n")
    done = run_cli("invoke", "--pipeline", str(pipeline), "--event", "-", stdin=b"")
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout) == {"got": {}}


def test_an_event_invocation_over_1_mb_is_refused_as_lambda_does(tmp_path: Path) -> None:
    """InvocationType=Event takes up to 1,048,576 bytes (the service model: "1 MB for
    asynchronous invocations"); RequestResponse still takes 6 MB."""
    from botocore.exceptions import ClientError

    def payload(size: int) -> bytes:
        return b'"' + b"a" * (size - 2) + b'"'

    with raw_bootstrap_served(tmp_path) as (_, client):
        with pytest.raises(ClientError) as over:
            client.invoke(FunctionName="function", InvocationType="Event", Payload=payload(1048577))
        at_limit = client.invoke(FunctionName="function", InvocationType="Event", Payload=payload(1048576))
        sync = client.invoke(FunctionName="function", Payload=payload(2 * 1048576))
    assert over.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert over.value.response["Error"] == {
        "Code": "RequestEntityTooLargeException",
        "Message": "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)"}
    assert at_limit["StatusCode"] == 202
    assert sync["StatusCode"] == 200 and len(json.loads(sync["Payload"].read())["event"]) == 2 * 1048576 - 2


@pytest.mark.parametrize("name", ["fn:prod", "012345678912:function:fn:prod",
                                  "arn:aws:lambda:us-east-1:012345678912:function:fn:prod"])
def test_a_qualifier_in_the_function_name_counts_as_the_qualifier_parameter(tmp_path: Path, name: str) -> None:
    """`NAME:QUALIFIER`, and a partial or full ARN with one, are Lambda's FunctionName
    formats: the qualifier is honoured as ?Qualifier= is (this function has no `prod`);
    one that differs from ?Qualifier= is refused."""
    from botocore.exceptions import ClientError

    with raw_bootstrap_served(tmp_path) as (_, client):
        with pytest.raises(client.exceptions.ResourceNotFoundException) as missing:
            client.invoke(FunctionName=name, Payload=b"{}")
        with pytest.raises(ClientError) as conflict:
            client.invoke(FunctionName=name, Payload=b"{}", Qualifier="$LATEST")
        latest = client.invoke(FunctionName=name.replace(":prod", ":$LATEST"), Payload=b"{}", Qualifier="$LATEST")
    assert missing.value.response["Error"]["Message"].endswith(":function:fn:prod")
    assert conflict.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert conflict.value.response["Error"] == {
        "Code": "InvalidParameterValueException",
        "Message": "The derived qualifier from the function name does not match the specified qualifier."}
    assert latest["StatusCode"] == 200 and latest["ExecutedVersion"] == "$LATEST"


def test_a_client_context_that_is_not_base64_json_is_refused_before_the_function_runs(tmp_path: Path) -> None:
    """ClientContext must be base64 of a JSON object (else 400 InvalidRequestContentException,
    and the function does not run); with InvocationType=Event it is not passed on (the
    service model: "for synchronous invocations only")."""
    import base64

    from botocore.exceptions import ClientError

    def b64(text: str | bytes) -> str:
        return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()

    context = b64('{"custom": {"k": "v"}}')
    with raw_bootstrap_served(tmp_path) as (_, client):
        refused = []
        for bad in (b64("not json"), b64("[1, 2]"), b64('"a string"'), "%%%not base64", b64(b"\xff\xfe")):
            with pytest.raises(ClientError) as error:
                client.invoke(FunctionName="function", Payload=b"{}", ClientContext=bad)
            refused.append(error.value.response)
        client.invoke(FunctionName="function", Payload=b'{"async": 1}', InvocationType="Event", ClientContext=context)
        sync = json.loads(client.invoke(FunctionName="function", Payload=b"{}", ClientContext=context)["Payload"].read())
    for response in refused:
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert response["Error"] == {"Code": "InvalidRequestContentException",
                                     "Message": "Client context must be a valid Base64-encoded JSON object."}
    assert json.loads(sync["cc"]) == {"custom": {"k": "v"}}
    # Two events ran, no more: the Event one without its context, the synchronous one with it.
    assert [json.loads(line) for line in (tmp_path / "contexts").read_text().splitlines()] == [None, sync["cc"]]


def test_only_post_invokes_and_an_unknown_route_is_no_missing_function(tmp_path: Path) -> None:
    """Invoke and InvokeWithResponseStream are POST: another method is a 405 that runs
    nothing; a route the emulator does not serve does not claim the function is missing."""
    from botocore.exceptions import ClientError

    paths = ["/2015-03-31/functions/function/invocations",
             "/2021-11-15/functions/function/response-streaming-invocations"]
    with raw_bootstrap_served(tmp_path) as (endpoint, client):
        answers = [(method, httpx.request(method, endpoint + path, content=b"{}" if method != "HEAD" else None))
                   for path in paths for method in ("GET", "PUT", "DELETE", "HEAD", "PATCH")]
        with pytest.raises(ClientError) as unknown:
            client.get_function(FunctionName="function")
        assert client.invoke(FunctionName="function", Payload=b"{}")["StatusCode"] == 200
    for method, answer in answers:
        assert answer.status_code == 405 and answer.headers["allow"] == "POST", (method, answer.text)
        assert answer.headers["x-amzn-errortype"] == "MethodNotAllowedException"
        assert method == "HEAD" or f"{method} is not allowed here: Invoke and InvokeWithResponseStream are POST" in answer.json()["message"]
    assert len((tmp_path / "contexts").read_text().splitlines()) == 1  # the POST alone ran the function
    assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert unknown.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "GET /2015-03-31/functions/function" in unknown.value.response["Error"]["Message"]


def lambda_error_shapes() -> dict[str, set[str]]:
    """Each exception shape of botocore's Lambda model: its members."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("lambda")
    return {name: set(model.shape_for(name).members) for name in model.shape_names
            if model.shape_for(name).metadata.get("exception")}


def test_error_bodies_use_the_service_models_member_names(tmp_path: Path) -> None:
    """Each error the Invoke API answers with is shaped as the model's exception of that
    name (ResourceNotFoundException has "Message", most others "message"), so boto3 fills
    in e.response["Message"] where the model says it is."""
    shapes = lambda_error_shapes()
    url = "/2015-03-31/functions/{name}/invocations"
    requests = [  # each provokes one error
        ("POST", url.format(name="function") + "?Qualifier=7", {}, b"{}"),
        ("POST", url.format(name="function:7") + "?Qualifier=8", {}, b"{}"),
        ("POST", url.format(name="function"), {}, b"{not json"),
        ("POST", url.format(name="function"), {"X-Amz-Client-Context": "%%"}, b"{}"),
        ("POST", url.format(name="function"), {"X-Amz-Invocation-Type": "Sometimes"}, b"{}"),
        ("POST", url.format(name="function"), {"X-Amz-Invocation-Type": "Event"}, b"1" * (1048576 + 1)),
        ("POST", url.format(name="function"), {}, b"1" * (6 * 1048576 + 1)),
        ("GET", url.format(name="function"), {}, b""),
        ("GET", "/2015-03-31/functions/function", {}, b""),
    ]
    with raw_bootstrap_served(tmp_path) as (endpoint, client):
        answers = [httpx.request(method, endpoint + path, headers=headers, content=body or None)
                   for method, path, headers, body in requests]
        with pytest.raises(client.exceptions.ResourceNotFoundException) as missing:
            client.invoke(FunctionName="function:7", Payload=b"{}")
    codes = []
    for answer in answers:
        code, body = answer.headers["x-amzn-errortype"], answer.json()
        codes.append(code)
        members = shapes.get(code, {"Type", "message"})  # one the model does not have: its usual shape
        assert set(body) <= members and ({"message", "Message"} & set(body)), (code, body)
    assert {"ResourceNotFoundException", "InvalidParameterValueException", "InvalidRequestContentException"} <= set(codes)
    assert missing.value.response["Message"] == "Function not found: arn:aws:lambda:us-east-1:012345678912:function:function:7"
