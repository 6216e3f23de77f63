"""End to end: built layers, extracted as /opt, the extracted bootstrap under the emulator.

Nothing comes from the checkout at run time: the orchestrator and its dependencies come
from the layer's python/, the pipeline from the compiled pipeline.json, the middlewares
and the runtime from their layers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from layerzips import HOST, REPO

from openruntime.layers import build_layers, extract_stack

emulator = pytest.importorskip("openruntime.emulator.sandbox")

HANDLER = '''\
import os


def handler(event, context):
    return {"seen": event, "pythonpath": os.environ.get("PYTHONPATH")}
'''

PIPELINE = """\
runtime:
  name: python
  handler: app.handler
middlewares:
  - name: envelope
    command: ./middlewares/envelope/envelope
    hooks: [before, after]
  - name: stamp
    hooks: [before, after]
"""


def _interpreter_without_deps() -> str:
    """A Python >= 3.11 that lacks httpx proves the layer carries its own dependencies."""
    candidate = shutil.which("python3.11", path="/usr/bin") or ""
    if candidate:
        probe = subprocess.run([candidate, "-c", "import httpx"], capture_output=True)
        if probe.returncode != 0:
            return candidate
    return sys.executable


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The layers built with a compiled pipeline and extracted: (opt root, task root)."""
    from openruntime.layers.build import default_source_root

    source = default_source_root()
    needed = [source / "middlewares" / "envelope" / "envelope", source / "middlewares" / "stamp" / "stamp",
              source / "runtimes" / "python" / "bootstrap"]
    if not all(p.is_file() for p in needed):
        pytest.skip("the example middlewares or the python runtime are not in this checkout")
    tmp = tmp_path_factory.mktemp("e2e")
    pipeline = tmp / "pipeline.yml"
    pipeline.write_text(PIPELINE)
    report = build_layers(tmp / "dist", pipeline=pipeline, source_root=source, runtimes=["python"], target=HOST)
    zips = [a.path for a in report.layers]
    assert [z.name for z in zips] == ["openruntime-layer.zip", "openruntime-middlewares.zip",
                                      "openruntime-runtime-python.zip"]
    root = extract_stack(zips, tmp / "opt")
    task_root = tmp / "task"
    task_root.mkdir()
    (task_root / "app.py").write_text(HANDLER)
    return root, task_root


def check_flow(body: dict, name: str) -> dict:  # type: ignore[type-arg]
    """Onion order: envelope.before → stamp.before → handler → stamp.after → envelope.after."""
    assert body["meta"]["wrappedBy"] == "envelope (python)"
    data = body["data"]
    assert data["stamp_after"]["hook"] == "after"
    seen = data["seen"]
    assert seen["name"] == name
    assert seen["stamp_before"]["by"] == "stamp (bash)"
    assert "requestId" in seen["context"]
    return data  # type: ignore[no-any-return]


def run_stack(command: list[str], task_root: Path, env: dict[str, str]) -> list[dict]:  # type: ignore[type-arg]
    with emulator.Emulator(command=command, cwd=task_root, env=env, timeout_s=10) as emu:
        results = [emu.invoke(b'{"name": "layers"}'), emu.invoke(b'{"name": "again"}')]
    for r in results:
        assert r.status == 200, r.body
        assert r.function_error is None, r.body
    return [json.loads(r.body) for r in results]


@pytest.mark.slow
def test_extracted_bootstrap_runs_the_compiled_pipeline(stack: tuple[Path, Path]) -> None:
    root, task_root = stack
    env = {"OPENRUNTIME_PYTHON": _interpreter_without_deps()}
    first, second = run_stack([str(root / "bootstrap")], task_root, env)
    check_flow(first, "layers")
    check_flow(second, "again")


@pytest.mark.slow
def test_extracted_wrapper_runs_a_managed_runtime_command_line(stack: tuple[Path, Path]) -> None:
    """As on python3.12 with AWS_LAMBDA_EXEC_WRAPPER: the runtime command line is the argv."""
    pytest.importorskip("awslambdaric")
    root, task_root = stack
    managed = [sys.executable, "-m", "awslambdaric", "app.handler"]  # stands in for /var/runtime/bootstrap
    first, _ = run_stack([str(root / "openruntime-wrapper"), *managed], task_root, {})
    check_flow(first, "layers")


@pytest.mark.slow
def test_sub_runtime_does_not_inherit_the_orchestrator_package_path(stack: tuple[Path, Path]) -> None:
    root, task_root = stack
    first, _ = run_stack([str(root / "bootstrap")], task_root, {"OPENRUNTIME_PYTHON": sys.executable})
    assert str(root / "python") not in (first["data"]["pythonpath"] or "")


@pytest.mark.slow
@pytest.mark.parametrize(("folder", "module", "file"), [
    ("runtimes/python", "openruntime_python_runtime.main", "openruntime_python_runtime/__pycache__/main"),
    ("middlewares/lib/python", "openruntime_middleware", "__pycache__/openruntime_middleware"),
    ("middlewares/cloudevents", "aws_cloudevents.convert", "aws_cloudevents/__pycache__/convert"),
])
def test_runtime_and_middleware_modules_load_the_layers_bytecode(
    stack: tuple[Path, Path], folder: str, module: str, file: str
) -> None:
    """/opt is read-only on Lambda: without shipped bytecode, every cold start compiles these."""
    root, _ = stack
    done = subprocess.run(
        [sys.executable, "-v", "-c", f"import sys; sys.path.insert(0, {str(root / folder)!r}); import {module}"],
        capture_output=True, text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    cached = root / folder / f"{file}.{sys.implementation.cache_tag}.pyc"
    assert f"code object from '{cached}'" in done.stderr


@pytest.mark.slow
def test_deploy_example_as_the_sam_template_runs_it(tmp_path: Path) -> None:
    """deploy/: generic layers, pipeline.yml in the function code, python3.12 + exec wrapper."""
    pytest.importorskip("awslambdaric")
    from openruntime.layers.build import default_source_root

    source = default_source_root()
    function = REPO / "deploy" / "function"
    report = build_layers(tmp_path / "dist", source_root=source, runtimes=[], target=HOST)
    root = extract_stack([a.path for a in report.layers], tmp_path / "opt")
    assert not (root / "pipeline.json").exists()
    managed = [sys.executable, "-m", "awslambdaric", "app.handler"]  # stands in for /var/runtime/bootstrap
    with emulator.Emulator(command=[str(root / "openruntime-wrapper"), *managed], cwd=function,
                           timeout_s=10) as emu:
        result = emu.invoke(b'{"name": "deploy"}')
    assert result.status == 200 and result.function_error is None, result.body
    body = json.loads(result.body)
    assert body["meta"]["wrappedBy"] == "envelope (python)"
    assert body["data"]["event"]["name"] == "deploy"
    assert body["data"]["event"]["stamp_before"]["hook"] == "before"


@pytest.mark.slow
def test_invoke_with_layer_stack_from_the_command_line(stack: tuple[Path, Path], tmp_path: Path) -> None:
    """`openruntime invoke --layer A --layer B --layer C` runs exactly that stack."""
    root, task_root = stack
    dist = root.parent / "dist"
    zips = [dist / "openruntime-layer.zip", dist / "openruntime-middlewares.zip", dist / "openruntime-runtime-python.zip"]
    event = tmp_path / "event.json"
    event.write_text('{"name": "cli"}')
    done = subprocess.run(
        [sys.executable, "-m", "openruntime", "invoke", *[a for z in zips for a in ("--layer", str(z))],
         "--handler", "app.handler", "--event", str(event)],
        cwd=task_root, capture_output=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    check_flow(json.loads(done.stdout), "cli")


@pytest.mark.slow
def test_invoke_with_a_layer_stack_runs_it_on_this_interpreter_not_whatever_is_on_path(
        stack: tuple[Path, Path], tmp_path: Path) -> None:
    """Without an interpreter layer, /opt/bootstrap would ask python3.14 … on PATH for their
    version; where those are pyenv shims for versions not installed, that is ~0.2 s each of
    every local cold start. `invoke --layer` gives it this interpreter, as Lambda gives
    /var/lang/bin/python3.x."""
    root, task_root = stack
    dist = root.parent / "dist"
    zips = [dist / "openruntime-layer.zip", dist / "openruntime-middlewares.zip", dist / "openruntime-runtime-python.zip"]
    shims = tmp_path / "shims"
    shims.mkdir()
    asked = tmp_path / "asked"
    for version in ("3.14", "3.13", "3.12", "3.11"):
        shim = shims / f"python{version}"
        shim.write_text(f"#!/bin/sh\necho {version} >> {asked}\nexit 127\n")
        shim.chmod(0o755)
    event = tmp_path / "event.json"
    event.write_text('{"name": "cli"}')
    env = {k: v for k, v in os.environ.items() if k != "OPENRUNTIME_PYTHON"}
    env["PATH"] = f"{shims}:{env.get('PATH', '')}"
    done = subprocess.run(
        [sys.executable, "-m", "openruntime", "invoke", *[a for z in zips for a in ("--layer", str(z))],
         "--handler", "app.handler", "--event", str(event)],
        cwd=task_root, capture_output=True, timeout=60, env=env,
    )
    assert done.returncode == 0, done.stderr.decode()
    check_flow(json.loads(done.stdout), "cli")
    assert not asked.exists(), asked.read_text()


@pytest.mark.slow
def test_validate_runs_on_the_engine_the_middlewares_layer_ships(stack: tuple[Path, Path]) -> None:
    """jsonschema-rs is compiled: the layer carries the target's wheel under lib/site-packages.
    `python -S` leaves this machine's site-packages out, so only the layer's copy can load."""
    root, _ = stack
    assert list((root / "middlewares" / "lib" / "site-packages" / "jsonschema_rs").glob("*.so"))
    done = subprocess.run(
        [sys.executable, "-S", str(root / "middlewares" / "validate" / "validate"), "before"],
        input=b'{"id": "x"}', capture_output=True,
        env={"PATH": os.environ.get("PATH", ""), "VALIDATE_SCHEMA_JSON": '{"properties": {"id": {"type": "integer"}}}'},
    )
    assert done.returncode == 4, done.stderr[-2000:]
    assert json.loads(done.stdout)["errors"] == [{"path": "$.id", "rule": "type", "message": "must be integer, got string"}]
