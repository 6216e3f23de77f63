"""`sam validate --lint` and `sam build` on deploy/sam/template.yaml and on `init` scaffolds,
after `openruntime layer build`, as docs/deploy.md and the scaffold's README say to run them.

Needs the AWS SAM CLI (`python3 -m pip install aws-sam-cli`, which brings cfn-lint). The
checkout stays clean: the deploy example is copied into a temporary folder, with the
layers where its template expects them (`dist/layers` beside `deploy/`), and every build
goes to a temporary --build-dir.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, SAM

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(SAM is None, reason="the AWS SAM CLI is not installed (python3 -m pip install "
                       "aws-sam-cli, or OPENRUNTIME_SAM=/path/to/sam)"),
]

OPENRUNTIME = [sys.executable, "-m", "openruntime"]
# Built by `openruntime layer build --interpreter 3.12` only, from a download or an archive:
# the layer build below does not make it, so the node scaffold's reference is checked by name.
INTERPRETER_ZIP = "openruntime-interpreter.zip"


def run(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"{done.args}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def layers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`openruntime layer build` with its defaults (Python 3.12, x86_64: the templates')."""
    out = tmp_path_factory.mktemp("dist") / "layers"
    ok(run(*OPENRUNTIME, "layer", "build", "--out", str(out), cwd=out.parent))
    return out


class _CfnLoader(yaml.SafeLoader):
    """Keeps CloudFormation's short tags (!Ref, !Sub …) as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def sam_validate_and_build(template: Path, build_dir: Path) -> dict[str, Any]:
    """Both commands pass; the built template, parsed."""
    assert SAM is not None
    validated = ok(run(SAM, "validate", "--lint", "-t", str(template), cwd=template.parent))
    assert "is a valid SAM Template" in validated.stdout + validated.stderr
    built = ok(run(SAM, "build", "-t", str(template), "--build-dir", str(build_dir), cwd=template.parent))
    assert "Build Succeeded" in built.stdout + built.stderr
    result: dict[str, Any] = yaml.load((build_dir / "template.yaml").read_text(), Loader=_CfnLoader)
    return result


def built_layer_zips(built: dict[str, Any], build_dir: Path) -> list[Path]:
    return [(build_dir / r["Properties"]["ContentUri"]).resolve() for r in built["Resources"].values()
            if r["Type"] == "AWS::Serverless::LayerVersion"]


def built_code(built: dict[str, Any], build_dir: Path, function: str) -> Path:
    return build_dir / built["Resources"][function]["Properties"]["CodeUri"]


def test_the_deploy_example_validates_and_builds(tmp_path: Path, layers: Path) -> None:
    shutil.copytree(REPO / "deploy", tmp_path / "deploy")
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "layers").symlink_to(layers)
    built = sam_validate_and_build(tmp_path / "deploy" / "sam" / "template.yaml", tmp_path / "build")

    zips = built_layer_zips(built, tmp_path / "build")
    assert sorted(z.name for z in zips) == [
        "openruntime-layer.zip", "openruntime-middlewares.zip", "openruntime-runtime-python.zip"]
    assert all(z.is_file() for z in zips), zips  # what `sam deploy` will upload exists
    # Both functions (the provided.al2023 one too, though its condition is false without an
    # interpreter layer) are the handler and its pipeline, nothing else.
    for function in ("HelloFunction", "HelloProvidedFunction"):
        code = built_code(built, tmp_path / "build", function)
        assert sorted(p.name for p in code.iterdir()) == ["app.py", "pipeline.yml"]


@pytest.mark.parametrize("runtime", ["python", "node"])
def test_an_init_scaffold_validates_builds_and_runs_on_the_layer_stack(
    tmp_path: Path, layers: Path, runtime: str
) -> None:
    project = tmp_path / "fn"
    ok(run(*OPENRUNTIME, "init", str(project), "--runtime", runtime, cwd=tmp_path))
    shutil.copytree(layers, project / "layers")  # what `openruntime layer build --out layers` leaves there
    # What a function grows: a schema a middleware reads, a package of its own modules.
    (project / "schemas").mkdir()
    (project / "schemas" / "order.json").write_text('{"type": "object"}')
    (project / "lib").mkdir()
    (project / "lib" / ("helper.py" if runtime == "python" else "helper.mjs")).write_text("")
    built = sam_validate_and_build(project / "template.yaml", tmp_path / "build")

    zips = built_layer_zips(built, tmp_path / "build")
    assert all(z.parent == (project / "layers").resolve() for z in zips), zips
    missing = sorted(z.name for z in zips if not z.is_file())
    assert missing == ([INTERPRETER_ZIP] if runtime == "node" else []), missing
    code = built_code(built, tmp_path / "build", "Function")
    handler = "app.py" if runtime == "python" else "app.mjs"
    # Everything of the function, nothing that only tools use (layers/, events/, template.yaml…).
    assert sorted(p.name for p in code.iterdir()) == sorted([handler, "pipeline.yml", "schemas", "lib"])
    assert (code / "schemas" / "order.json").is_file()

    if runtime == "node" and shutil.which("node") is None:
        return
    # What sam built runs: its pipeline, from the built folder, on openruntime's layers (the
    # bundled runtime's layer standing in for the managed runtime, which only Lambda has).
    done = ok(run(*OPENRUNTIME, "invoke", "--layer", str(layers / "openruntime-layer.zip"),
                  "--layer", str(layers / "openruntime-middlewares.zip"),
                  "--layer", str(layers / f"openruntime-runtime-{runtime}.zip"),
                  "--pipeline", str(code / "pipeline.yml"), "--event", "events/http-api.json", cwd=project))
    response = json.loads(done.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["message"] == "Hello, world!"
