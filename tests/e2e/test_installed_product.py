"""openruntime as a user who never clones gets it: a wheel in a fresh venv, used from an
empty folder outside the checkout. Runtimes and middlewares by name, layers built from the
installed package, the function run on that layer stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
HANDLER = '''\
def handler(event, context):
    return {"greeting": "hello " + event.get("name", "nobody"), "seenByHandler": event,
            "requestId": context.aws_request_id}
'''
# A Python runtime and middlewares in bash (enrich), Node (timing) and Python (log), all by name.
PIPELINE = """\
runtime:
  name: python
  handler: app.handler
middlewares:
  - log
  - enrich
  - timing
"""


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: nothing that points into this checkout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENRUNTIME_", "PYTHON", "AWS_", "_HANDLER", "LAMBDA_"))}
    return {**env, **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with openruntime installed from a freshly built wheel; its bin/ folder."""
    tmp = tmp_path_factory.mktemp("product")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO), "-w", str(tmp / "wheel")],
                           capture_output=True, text=True, cwd=tmp, env=clean_env())
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = (tmp / "wheel").glob("openruntime-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert zf.getinfo("openruntime/_bundled/runtimes/python/bootstrap").external_attr >> 16 & 0o111
    assert "openruntime/_bundled/middlewares/lib/python/openruntime_middleware.py" in names
    assert not [n for n in names if "__pycache__" in n or "node_modules" in n]
    venv.create(tmp / "venv", with_pip=True)
    bindir = tmp / "venv" / "bin"
    done = subprocess.run([str(bindir / "python"), "-m", "pip", "install", "-q", str(wheel)],
                          capture_output=True, text=True, cwd=tmp, env=clean_env())
    assert done.returncode == 0, done.stderr[-3000:]
    where = subprocess.run([str(bindir / "python"), "-c", "import openruntime; print(openruntime.__file__)"],
                           capture_output=True, text=True, cwd=tmp, env=clean_env(), check=True)
    assert Path(where.stdout.strip()).is_relative_to(tmp / "venv"), where.stdout
    return bindir


@pytest.fixture
def function(tmp_path: Path) -> Path:
    folder = tmp_path / "my-function"
    (folder / "events").mkdir(parents=True)
    (folder / "app.py").write_text(HANDLER)
    (folder / "pipeline.yml").write_text(PIPELINE)
    (folder / "events" / "hello.json").write_text('{"name": "wheel"}')
    assert not folder.is_relative_to(REPO)
    return folder


def openruntime(bindir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bindir / "openruntime"), *args], capture_output=True, text=True, cwd=cwd,
                          env=clean_env(PATH=f"{bindir}:{os.environ['PATH']}"), timeout=120)


def assert_pipeline_answer(out: str) -> None:
    answer = json.loads(out)
    assert answer["greeting"] == "hello wheel"
    assert answer["seenByHandler"]["openruntime"]["by"] == "bash"  # enrich ran before the handler
    assert answer["timing"]["measuredBy"] == "timing"  # timing ran after it
    assert answer["requestId"] == answer["timing"]["requestId"]


def test_a_pipeline_with_bundled_runtime_and_middlewares_by_name(installed: Path, function: Path) -> None:
    done = openruntime(installed, "invoke", "--pipeline", "pipeline.yml", "--event", "events/hello.json",
                       cwd=function)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_pipeline_answer(done.stdout)
    log_lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith('{"')]
    assert {(line["middleware"], line["hook"]) for line in log_lines} >= {("log", "before"), ("log", "after")}

    validated = openruntime(installed, "validate", "pipeline.yml", cwd=function)
    assert validated.returncode == 0, validated.stderr
    assert "/_bundled/runtimes/python/bootstrap" in validated.stdout
    assert "/_bundled/middlewares/timing/timing" in validated.stdout


def test_a_middlewares_folder_of_your_own_wins_over_the_built_in(installed: Path, function: Path) -> None:
    own = function / "middlewares" / "timing"
    own.mkdir(parents=True)
    (own / "timing").write_text('#!/bin/sh\nprintf \'{"mine": true}\'\n')
    (own / "timing").chmod(0o755)
    done = openruntime(installed, "invoke", "--pipeline", "pipeline.yml", "--event", "events/hello.json",
                       cwd=function)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == {"mine": True}


def test_layers_built_from_the_installed_package_run_the_function(installed: Path, function: Path) -> None:
    built = openruntime(installed, "layer", "build", "--out", "layers", "--python", HOST_PYTHON, "--json",
                        cwd=function)
    assert built.returncode == 0, built.stderr[-3000:]
    report = json.loads(built.stdout)
    zips = {Path(layer["path"]).name: layer for layer in report["layers"]}
    assert set(zips) >= {"openruntime-layer.zip", "openruntime-middlewares.zip", "openruntime-runtime-python.zip",
                         "openruntime-runtime-node.zip", "openruntime-runtime-shell.zip"}
    assert zips["openruntime-layer.zip"]["unzipped_bytes"] <= 2 * 1024 * 1024
    assert report["warnings"] == [], report["warnings"]
    stack = ["openruntime-layer.zip", "openruntime-middlewares.zip", "openruntime-runtime-python.zip"]
    done = openruntime(installed, "invoke", *(a for z in stack for a in ("--layer", f"layers/{z}")),
                       "--pipeline", "pipeline.yml", "--event", "events/hello.json", cwd=function)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_pipeline_answer(done.stdout)
    # The stack `openruntime init`'s template deploys (the managed runtime runs the handler
    # behind the exec wrapper): no runtime layer, so this installation's stands in.
    wrapper_stack = stack[:2]
    done = openruntime(installed, "invoke", *(a for z in wrapper_stack for a in ("--layer", f"layers/{z}")),
                       "--pipeline", "pipeline.yml", "--event", "events/hello.json", cwd=function)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_pipeline_answer(done.stdout)
    assert "runtime 'python' is not in the --layer stack" in done.stderr
    # The same without --pipeline: the stack's bootstrap reads the task root's pipeline.yml.
    done = openruntime(installed, "invoke", *(a for z in wrapper_stack for a in ("--layer", f"layers/{z}")),
                       "--event", "events/hello.json", cwd=function)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_pipeline_answer(done.stdout)


@pytest.mark.parametrize("runtime", ["python", "node"])
def test_init_scaffolds_a_project_that_runs_from_the_wheel(installed: Path, tmp_path: Path, runtime: str) -> None:
    done = openruntime(installed, "init", "my-function", "--runtime", runtime, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    project = tmp_path / "my-function"
    done = openruntime(installed, "invoke", "--pipeline", "pipeline.yml", "--event", "events/http-api.json",
                       cwd=project)
    assert done.returncode == 0, done.stderr[-3000:]
    response = json.loads(done.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["message"] == "Hello, world!"


def test_the_wheel_carries_the_event_samples_and_their_licences(installed: Path, tmp_path: Path) -> None:
    done = openruntime(installed, "generate-event", "sqs", "receive-message", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Records"][0]["eventSource"] == "aws:sqs"
    where = subprocess.run([str(installed / "python"), "-c", "import openruntime, os; print(os.path.dirname("
                            "openruntime.__file__))"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    events = Path(where.stdout.strip()) / "events"
    assert (events / "SOURCES.md").is_file() and (events / "LICENSES" / "Apache-2.0.txt").is_file()
