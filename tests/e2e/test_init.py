"""`openruntime init`: the scaffold runs at once, as a user types the commands."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

OPENRUNTIME = [sys.executable, "-m", "openruntime"]
RUNTIMES = ["python", pytest.param("node", marks=pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not installed"))]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OPENRUNTIME, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def init(folder: Path, runtime: str) -> Path:
    done = run("init", str(folder / "fn"), "--runtime", runtime, cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder / "fn"


def invoke(project: Path, event: str) -> tuple[Any, list[dict[str, Any]]]:
    """The response the caller gets, and the `log` middleware's lines."""
    done = run("invoke", "--pipeline", "pipeline.yml", "--event", f"events/{event}", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith('{"ts"')]
    return json.loads(done.stdout), [line for line in lines if line.get("middleware") == "log"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_scaffold_answers_an_http_api_request_in_its_shape(tmp_path: Path, runtime: str) -> None:
    project = init(tmp_path, runtime)
    assert {"pipeline.yml", "template.yaml", "Makefile", "README.md", ".gitignore"} <= {
        p.name for p in project.iterdir()}
    assert (project / ("app.py" if runtime == "python" else "app.mjs")).is_file()

    response, log = invoke(project, "http-api.json")
    # The http middleware turned the handler's {statusCode, body: {...}} into an HTTP API
    # (payload 2.0) response: a JSON string body, its Content-Type, the cookies list.
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["cookies"] == [] and response["isBase64Encoded"] is False
    body = json.loads(response["body"])
    assert body["message"] == "Hello, world!"
    assert (body["method"], body["path"], body["via"]) == ("POST", "/lambda", "apigw-v2")
    # The log middleware wrote the event and the response, the bearer token redacted.
    assert [line["hook"] for line in log] == ["before", "after"]
    assert '"authorization":"[REDACTED]"' in log[0]["preview"] and "Bearer foo" not in log[0]["preview"]
    assert log[1]["requestId"] == body["requestId"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_scaffold_serves_function_urls_and_passes_sqs_through(tmp_path: Path, runtime: str) -> None:
    project = init(tmp_path, runtime)
    response, _ = invoke(project, "function-url.json")
    body = json.loads(response["body"])
    assert (response["statusCode"], body["method"], body["path"], body["via"]) == (200, "GET", "/", "function-url")

    response, log = invoke(project, "sqs.json")
    assert response == {"batchItemFailures": []}  # not HTTP: the event reached the handler as SQS sent it
    assert [line["hook"] for line in log] == ["before", "after"]


def test_a_failing_handler_gives_the_caller_an_http_500(tmp_path: Path) -> None:
    project = init(tmp_path, "python")
    app = project / "app.py"
    app.write_text(app.read_text().replace(
        "def http_request(request, context):\n", "def http_request(request, context):\n    raise ValueError('oops')\n"))
    response, log = invoke(project, "http-api.json")  # the invocation succeeds, as the README says
    assert response["statusCode"] == 500
    assert json.loads(response["body"])["message"] == "Internal Server Error"
    assert [(line["hook"], line["level"]) for line in log] == [("before", "INFO"), ("after", "INFO")]


def test_init_in_the_current_folder_and_refusal_to_overwrite(tmp_path: Path) -> None:
    done = run("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "pipeline.yml").is_file() and (tmp_path / "events" / "sqs.json").is_file()
    (tmp_path / "app.py").write_text("# mine\n")

    again = run("init", "--runtime", "node", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.startswith("openruntime init: ") and "already exists" in again.stderr
    assert "Traceback" not in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert (tmp_path / "app.py").read_text() == "# mine\n"  # nothing written
    assert not (tmp_path / "app.mjs").exists()

    forced = run("init", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "def handler" in (tmp_path / "app.py").read_text()


def test_a_projects_own_gitignore_is_kept(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("secrets/\n")
    done = run("init", "--force", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".gitignore").read_text() == "secrets/\n"


def test_refusal_names_the_existing_file(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "pipeline.yml").write_text("runtime: {name: python}\n")
    done = run("init", "fn", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"openruntime init: {Path('fn') / 'pipeline.yml'} already exists; nothing written (--force overwrites)")
    assert sorted(p.name for p in (tmp_path / "fn").iterdir()) == ["pipeline.yml"]


def test_unknown_runtime_is_an_error(tmp_path: Path) -> None:
    done = run("init", "fn", "--runtime", "cobol", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == "openruntime init: unknown runtime 'cobol' (choose from: python, node)"
    assert not (tmp_path / "fn").exists()
