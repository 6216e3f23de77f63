"""Lambda extensions in the emulator, written to AWS's documented Extensions API: a Python
one and a bash one (like AWS's samples), beside the orchestrator and a real runtime."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import EXTENSION_REGISTER, EXTENSION_UNTIL_SHUTDOWN, orchestrated, write_executable, write_pipeline

OPENRUNTIME = [sys.executable, "-m", "openruntime"]

PY_EXTENSION = """\
#!{python}
import json, os, sys, time, urllib.request
api, log = os.environ["AWS_LAMBDA_RUNTIME_API"], {log!r}
def note(text):
    with open(log, "a") as f:
        f.write(text + "\\n")
if os.environ.get("CRASH_AT_INIT"):
    sys.exit(5)
request = urllib.request.Request(f"http://{{api}}/2020-01-01/extension/register",
    data=json.dumps({{"events": ["INVOKE", "SHUTDOWN"]}}).encode(), method="POST",
    headers={{"Lambda-Extension-Name": os.path.basename(sys.argv[0])}})
with urllib.request.urlopen(request) as answer:
    identifier = answer.headers["Lambda-Extension-Identifier"]
    note("registered " + json.loads(answer.read())["functionName"])
while True:
    request = urllib.request.Request(f"http://{{api}}/2020-01-01/extension/event/next",
                                     headers={{"Lambda-Extension-Identifier": identifier}})
    with urllib.request.urlopen(request) as answer:
        event = json.loads(answer.read())
    if event["eventType"] == "SHUTDOWN":
        note("SHUTDOWN " + event["shutdownReason"])
        sys.exit(0)
    note("INVOKE " + event["requestId"])
    time.sleep(float(os.environ.get("WORK_S", "0")))  # its share of the invocation
    if os.environ.get("HANG_AFTER_INVOKE"):
        time.sleep(3600)
"""

# The shape of AWS's bash sample (aws-samples/aws-lambda-extensions, bash-example-extension).
BASH_EXTENSION = """\
#!/bin/bash
set -euo pipefail
LAMBDA_EXTENSION_NAME="$(basename "$0")"
HEADERS="$(mktemp)"
curl -sS -LD "$HEADERS" -XPOST "http://${{AWS_LAMBDA_RUNTIME_API}}/2020-01-01/extension/register" \\
  --header "Lambda-Extension-Name: ${{LAMBDA_EXTENSION_NAME}}" -d '{{"events": ["INVOKE", "SHUTDOWN"]}}' > /dev/null
EXTENSION_ID=$(grep -Fi Lambda-Extension-Identifier "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
while true; do
  EVENT=$(curl -sS -L -XGET "http://${{AWS_LAMBDA_RUNTIME_API}}/2020-01-01/extension/event/next" \\
    --header "Lambda-Extension-Identifier: ${{EXTENSION_ID}}")
  echo "bash $EVENT" >> {log}
  if [[ $EVENT == *'"SHUTDOWN"'* ]]; then exit 0; fi
done
"""


def function(tmp_path: Path, handler: str = "return 'ok'") -> Path:
    (tmp_path / "app.py").write_text(f"def handler(event, context):\n    {handler}\n")
    return write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")


def python_extension(folder: Path, log: Path) -> Path:
    return write_executable(folder / "py-extension", PY_EXTENSION.format(python=sys.executable, log=str(log)))


def reports(lines: list[str]) -> list[dict[str, str]]:
    return [dict(part.split(": ", 1) for part in line.split("\t")[1:]) | {"line": line}
            for line in lines if line.startswith("REPORT")]


def test_an_extension_registers_gets_each_invoke_and_the_shutdown(tmp_path: Path) -> None:
    log = tmp_path / "extension.log"
    python_extension(tmp_path / "extensions", log)
    lines: list[str] = []
    with orchestrated(function(tmp_path)) as emulator:
        emulator.extensions_dir = str(tmp_path / "extensions")
        emulator.log = lines.append
        ids = [emulator.invoke(b"{}").request_id for _ in range(3)]
    assert log.read_text().splitlines() == ["registered test_function", *(f"INVOKE {i}" for i in ids),
                                            "SHUTDOWN spindown"]
    assert len(reports(lines)) == 3


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("bash") is None, reason="needs bash and curl")
def test_a_bash_extension_shipped_as_a_layer_runs_beside_the_function(tmp_path: Path) -> None:
    """AWS's bash sample, zipped as a layer (extensions/NAME), given with --layer."""
    log = tmp_path / "bash.log"
    layer = tmp_path / "extension-layer.zip"
    with zipfile.ZipFile(layer, "w") as zf:
        info = zipfile.ZipInfo("extensions/bash-extension")
        info.external_attr = 0o755 << 16
        zf.writestr(info, BASH_EXTENSION.format(log=str(log)))
    function(tmp_path)
    done = subprocess.run([*OPENRUNTIME, "invoke", "--pipeline", "pipeline.yml", "--layer", str(layer)],
                          cwd=tmp_path, capture_output=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == b'"ok"', done.stderr.decode()[-2000:]
    events = [json.loads(line.split(" ", 1)[1]) for line in log.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["INVOKE", "SHUTDOWN"]
    assert events[0]["invokedFunctionArn"].endswith(":function:test_function") and events[0]["requestId"]


def test_an_extension_that_crashes_at_init_fails_the_invocation_as_lambda_does(tmp_path: Path) -> None:
    python_extension(tmp_path / "extensions", tmp_path / "extension.log")
    with orchestrated(function(tmp_path), env={"CRASH_AT_INIT": "1"}) as emulator:
        emulator.extensions_dir = str(tmp_path / "extensions")
        result = emulator.invoke(b"{}")
    error = json.loads(result.body)
    assert result.function_error and error["errorType"] == "Extension.Crash"
    assert "py-extension" in error["errorMessage"]


def test_reports_duration_includes_the_extensions_share(tmp_path: Path) -> None:
    """The phase ends when the runtime and the extension have both called /next again: an
    extension that works 0.4 s after each INVOKE is in REPORT's Duration (a lower bound)."""
    python_extension(tmp_path / "extensions", tmp_path / "extension.log")
    lines: list[str] = []
    with orchestrated(function(tmp_path), env={"WORK_S": "0.4"}) as emulator:
        emulator.extensions_dir = str(tmp_path / "extensions")
        emulator.log = lines.append
        emulator.invoke(b"{}")
        emulator.invoke(b"{}")
    durations = [float(report["Duration"].split()[0]) for report in reports(lines)]
    assert len(durations) == 2 and all(d >= 400 for d in durations), lines


def test_an_extension_that_never_calls_next_again_holds_the_next_invocation(tmp_path: Path) -> None:
    """Lambda waits for every extension before the next event: one that never comes back
    overruns the invocation's time, which is reported as a timeout, and the environment is
    reset before the next invocation runs."""
    python_extension(tmp_path / "extensions", tmp_path / "extension.log")
    lines: list[str] = []
    with orchestrated(function(tmp_path), timeout_s=1, env={"HANG_AFTER_INVOKE": "1"}) as emulator:
        emulator.extensions_dir = str(tmp_path / "extensions")
        emulator.log = lines.append
        first = emulator.invoke(b"{}")
        second = emulator.invoke(b"{}")
    assert first.body == b'"ok"' and second.body == b'"ok"'  # the answer itself is not held
    first_report = reports(lines)[0]
    assert first_report["line"].endswith("Status: timeout") and float(first_report["Duration"].split()[0]) >= 1000
    assert "Init Duration" in reports(lines)[1]  # a fresh environment served the second


TELEMETRY_EXTENSION = """\
#!{python}
import http.server, json, os, socket, sys, threading, urllib.request
api, out = os.environ["AWS_LAMBDA_RUNTIME_API"], {out!r}

class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with open(out, "a") as f:
            for record in batch:
                f.write(json.dumps(record) + "\\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass

print("telemetry-probe starting", file=sys.stderr, flush=True)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
""" + EXTENSION_REGISTER + """\
subscription = {{"schemaVersion": "2022-12-13", "types": ["platform", "function", "extension"],
                "buffering": {{"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}},
                "destination": {{"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{{server.server_port}}/t"}}}}
request = urllib.request.Request(f"http://{{api}}/2022-07-01/telemetry", data=json.dumps(subscription).encode(),
                                 method="PUT", headers={{"Lambda-Extension-Identifier": identifier}})
urllib.request.urlopen(request).read()
""" + EXTENSION_UNTIL_SHUTDOWN


def test_a_telemetry_subscriber_gets_platform_records_and_the_handlers_log_lines(tmp_path: Path) -> None:
    out = tmp_path / "telemetry.jsonl"
    write_executable(tmp_path / "extensions" / "telemetry-probe",
                     TELEMETRY_EXTENSION.format(python=sys.executable, out=str(out)))
    pipeline = function(tmp_path, "print('hello from the handler', event['n']); return event['n']")
    with orchestrated(pipeline) as emulator:
        emulator.extensions_dir = str(tmp_path / "extensions")
        ids = [emulator.invoke(json.dumps({"n": n}).encode()).request_id for n in range(2)]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = [r["type"] for r in records]
    assert kinds[0] == "platform.initStart" and "platform.telemetrySubscription" in kinds
    assert "platform.initRuntimeDone" in kinds and "platform.initReport" in kinds
    for request_id in ids:
        mine = [r["type"] for r in records if isinstance(r["record"], dict) and r["record"].get("requestId") == request_id]
        assert mine == ["platform.start", "platform.runtimeDone", "platform.report"], (request_id, mine)
    logs = [r["record"] for r in records if r["type"] == "function"]
    assert any("hello from the handler 0" in line for line in logs)
    assert any("hello from the handler 1" in line for line in logs)
    assert any(r["type"] == "extension" and "telemetry-probe starting" in r["record"] for r in records)
    report = next(r["record"] for r in records if r["type"] == "platform.report")
    assert report["status"] == "success" and report["metrics"]["durationMs"] >= 0


def test_a_subscription_outside_the_limits_is_refused_by_name(tmp_path: Path) -> None:
    """Registered during init (registration closes when the runtime is ready), the
    extension's subscription outside Lambda's limits is refused, each problem named."""
    from tests.e2e.test_extension_api_edges import sandbox, subscribe

    id_file = tmp_path / "id"
    with sandbox(tmp_path, env={"BOOT_ID_FILE": str(id_file)}) as emulator:
        emulator.invoke(b"{}")  # the sandbox is up, and its runtime registered an extension
        bad = {"schemaVersion": "2021-01-01", "types": ["platform"], "buffering": {"maxItems": 5},
               "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:1/x"}}
        status, error = subscribe(emulator.runtime_api, id_file.read_text(), bad)
    assert status == 400 and "schemaVersion '2021-01-01'" in error["errorMessage"]
    assert "buffering.maxItems 5 is outside 1000–10000" in error["errorMessage"]
