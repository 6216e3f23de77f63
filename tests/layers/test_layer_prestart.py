"""/opt/bootstrap starts the runtime before any Python runs (the layer's `prestart` file),
and the orchestrator takes it over only when it is what the pipeline plans.

Built layers, extracted as /opt, the extracted bootstrap under the emulator, as
test_layer_e2e.py does. The handler says which port it polls: /opt/bootstrap gives a
prestarted runtime 20000 + its own pid % 10000 (its pid is the orchestrator's, the
runtime's parent), the orchestrator's own start an ephemeral port.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from layerzips import HOST

from openruntime.layers import build_layers, extract_stack

emulator = pytest.importorskip("openruntime.emulator.sandbox")

HANDLER = '''\
import os

# Per invocation or per sandbox, whoever starts the runtime.
VOLATILE = {"AWS_LAMBDA_RUNTIME_API", "_X_AMZN_TRACE_ID", "AWS_LAMBDA_LOG_STREAM_NAME"}


def handler(event, context):
    port = int(os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)[1])
    return {"who": __name__, "pid": os.getpid(), "port": port, "orchestrator": os.getppid(),
            "cwd": os.getcwd(), "env": {k: v for k, v in os.environ.items() if k not in VOLATILE}}
'''

PIPELINE = """\
runtime:
  name: python
  handler: app.handler
"""

NODE_HANDLER = """\
const VOLATILE = new Set(['AWS_LAMBDA_RUNTIME_API', '_X_AMZN_TRACE_ID', 'AWS_LAMBDA_LOG_STREAM_NAME']);
exports.handler = async () => ({
  who: 'index', pid: process.pid, port: Number(process.env.AWS_LAMBDA_RUNTIME_API.split(':').pop()),
  orchestrator: process.ppid, cwd: process.cwd(),
  env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !VOLATILE.has(k))),
});
"""


@pytest.fixture(scope="module")
def layers(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from openruntime.layers.build import default_source_root

    source = default_source_root()
    if not (source / "runtimes" / "python" / "bootstrap").is_file():
        pytest.skip("the python runtime is not in this checkout")
    tmp = tmp_path_factory.mktemp("prestart")
    (tmp / "pipeline.yml").write_text(PIPELINE)
    report = build_layers(tmp / "dist", pipeline=tmp / "pipeline.yml", source_root=source, runtimes=["python"],
                          target=HOST)
    return [a.path for a in report.layers]


@pytest.fixture(scope="module")
def node_layers(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from openruntime.layers.build import default_source_root

    source = default_source_root()
    if not (source / "runtimes" / "node" / "bootstrap").is_file() or shutil.which("node") is None:
        pytest.skip("the node runtime or node itself is not here")
    tmp = tmp_path_factory.mktemp("prestart-node")
    (tmp / "pipeline.yml").write_text("runtime: {name: node, handler: index.handler}\n")
    report = build_layers(tmp / "dist", pipeline=tmp / "pipeline.yml", source_root=source, runtimes=["node"],
                          target=HOST)
    return [a.path for a in report.layers]


@pytest.fixture
def stack(layers: list[Path], tmp_path: Path) -> tuple[Path, Path]:
    """A fresh extraction (a test may change it): (opt root, task root)."""
    root = extract_stack(layers, tmp_path / "opt")
    task_root = tmp_path / "task"
    task_root.mkdir()
    (task_root / "app.py").write_text(HANDLER)
    (task_root / "other.py").write_text(HANDLER)
    return root, task_root


def invoke_twice(root: Path, task_root: Path, env: dict[str, str] | None = None,
                 log: Path | None = None) -> list[dict]:  # type: ignore[type-arg]
    with emulator.Emulator(command=[str(root / "bootstrap")], cwd=task_root, timeout_s=20,
                           env={"OPENRUNTIME_PYTHON": sys.executable, **(env or {})},
                           child_stderr=log.open("wb") if log else None) as emu:
        results = [emu.invoke(b'{"n": 1}'), emu.invoke(b'{"n": 2}')]
    for result in results:
        assert result.status == 200 and result.function_error is None, result.body
    return [json.loads(r.body) for r in results]


def prestarted(answer: dict) -> bool:  # type: ignore[type-arg]
    return answer["port"] == 20000 + answer["orchestrator"] % 10000  # type: ignore[no-any-return]


def test_the_layer_carries_what_bootstrap_needs_to_start_the_runtime(stack: tuple[Path, Path]) -> None:
    root, _ = stack
    text = (root / "prestart").read_text()
    assert "prestart_runtime='python'" in text and "prestart_handler='app.handler'" in text


@pytest.mark.slow
def test_the_runtime_bootstrap_started_serves_every_invocation_as_the_orchestrators_own_would(
        stack: tuple[Path, Path]) -> None:
    root, task_root = stack
    first, second = invoke_twice(root, task_root)
    assert prestarted(first), first["port"]
    assert first["pid"] == second["pid"]  # taken over, not started again
    # Against the orchestrator starting it (OPENRUNTIME_NO_PRESTART): the same folder and
    # the same environment, to the variable.
    own, _ = invoke_twice(root, task_root, {"OPENRUNTIME_NO_PRESTART": "1"})
    assert not prestarted(own)
    assert first["cwd"] == own["cwd"] == str(task_root)
    own["env"].pop("OPENRUNTIME_NO_PRESTART")
    assert first["env"] == own["env"]
    assert not any(name.startswith("OPENRUNTIME_PRESTART") for name in first["env"])
    assert str(root / "python") not in first["env"].get("PYTHONPATH", "")


@pytest.mark.slow
def test_a_runtime_the_pipeline_does_not_plan_is_replaced(stack: tuple[Path, Path]) -> None:
    """A pipeline.yml in the task root wins over the layer's pipeline.json: /opt/bootstrap,
    which cannot read it, starts nothing, and the planned runtime answers. (A runtime that
    is started and then found not to be the plan is killed: tests/unit/test_prestarted_runtime.py.)"""
    root, task_root = stack
    (task_root / "pipeline.yml").write_text(PIPELINE.replace("app.handler", "other.handler"))
    first, second = invoke_twice(root, task_root)
    assert first["who"] == second["who"] == "other"
    assert not prestarted(first)


@pytest.mark.slow
def test_a_runtime_that_dies_before_asking_anything_is_started_again(stack: tuple[Path, Path], tmp_path: Path) -> None:
    """As when it found no proxy listening yet: not an init failure, a second start."""
    root, task_root = stack
    bootstrap = root / "runtimes" / "python" / "bootstrap"
    os.rename(bootstrap, bootstrap.with_name("real-bootstrap"))
    starts = tmp_path / "starts"
    bootstrap.write_text(f"#!/bin/sh\necho start >> {starts}\n"
                         f"[ \"$(wc -l < {starts})\" -gt 1 ] || exit 3\n"
                         f"exec \"${{0%/*}}/real-bootstrap\" \"$@\"\n")
    bootstrap.chmod(0o755)
    log = tmp_path / "log"
    first, second = invoke_twice(root, task_root, log=log)
    assert first["pid"] == second["pid"]  # the second start, on the port the first was given
    assert starts.read_text().count("start") == 2
    assert "ExitError" not in log.read_text()


@pytest.mark.slow
def test_the_bundled_node_runtime_is_started_first_too(node_layers: list[Path], tmp_path: Path) -> None:
    root = extract_stack(node_layers, tmp_path / "opt")
    task_root = tmp_path / "task"
    task_root.mkdir()
    (task_root / "index.js").write_text(NODE_HANDLER)
    first, second = invoke_twice(root, task_root)
    assert prestarted(first) and first["pid"] == second["pid"]
    own, _ = invoke_twice(root, task_root, {"OPENRUNTIME_NO_PRESTART": "1"})
    assert not prestarted(own)
    own["env"].pop("OPENRUNTIME_NO_PRESTART")
    assert (first["cwd"], first["env"]) == (own["cwd"], own["env"])


def test_task_root_dot_is_the_function_code_in_the_compiled_pipeline(tmp_path: Path) -> None:
    """`openruntime init` writes `task_root: .` (the pipeline's folder, for local runs);
    compiled into /opt it would mean /opt. It is left out, so the runtime runs in
    $LAMBDA_TASK_ROOT, and the runtime can be started first."""
    from openruntime.layers.build import BuildReport, build_orchestrator_layer

    (tmp_path / "pipeline.yml").write_text(PIPELINE + "  task_root: .\n")
    report = BuildReport()
    artifact = build_orchestrator_layer(tmp_path / "dist", report, HOST, tmp_path / "pipeline.yml")
    with zipfile.ZipFile(artifact.path) as zf:
        compiled = json.loads(zf.read("pipeline.json"))
        assert "prestart" in zf.namelist()
    assert compiled["runtime"]["task_root"] is None
    assert any("task_root (.) is the pipeline's folder" in note for note in report.notes)
    assert not any("task_root" in warning for warning in report.warnings)
    # Any other relative folder cannot be mapped: kept, with a warning, and no prestart.
    (tmp_path / "pipeline.yml").write_text(PIPELINE + "  task_root: src\n")
    report = BuildReport()
    artifact = build_orchestrator_layer(tmp_path / "dist2", report, HOST, tmp_path / "pipeline.yml")
    with zipfile.ZipFile(artifact.path) as zf:
        assert json.loads(zf.read("pipeline.json"))["runtime"]["task_root"] == "src"
        assert "prestart" not in zf.namelist()
    assert any("task_root (src) is kept" in warning for warning in report.warnings)
