"""/opt/bootstrap starts the runtime before any Python runs (the layer's `prestart` file);
the runtime waits for the orchestrator's plan before running anything of the function.

Built layers, extracted as /opt, the extracted bootstrap under the emulator, as
test_layer_e2e.py does. The handler says which port it polls: /opt/bootstrap gives a
prestarted runtime 20000 + its own pid % 10000 (its pid is the orchestrator's, the
runtime's parent), the orchestrator's own start an ephemeral port.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

import pytest
from layerzips import HOST

from openruntime.layers import build_layers, extract_stack

emulator = pytest.importorskip("openruntime.emulator.sandbox")

HANDLER = '''\
import os
import signal

with open(os.environ["IMPORTS"], "a") as f:  # the function's init: once per runtime that runs it
    f.write(__name__ + "\\n")

# Per invocation or per sandbox, whoever starts the runtime.
VOLATILE = {"AWS_LAMBDA_RUNTIME_API", "_X_AMZN_TRACE_ID", "AWS_LAMBDA_LOG_STREAM_NAME", "OPENRUNTIME_NO_PRESTART"}


def handler(event, context):
    if event.get("kill0"):
        os.killpg(os.getpgrp(), signal.SIGTERM)  # `kill 0`: the runtime's own group
    return {"who": __name__, "pid": os.getpid(), "port": int(os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)[1]),
            "orchestrator": os.getppid(), "cwd": os.getcwd(), "session_leader": os.getsid(0) == os.getpid(),
            "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
            "sigint": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
            "env": {k: v for k, v in os.environ.items() if k not in VOLATILE},
            "middleware_env": event.get("middleware_env")}
'''

PIPELINE = """\
runtime:
  name: python
  handler: app.handler
"""

# What a middleware gets: the orchestrator's environment, less what is per call.
ENV_MIDDLEWARE = f"""\
#!{sys.executable}
import json, os, sys
event = json.load(sys.stdin)
per_call = ("OPENRUNTIME_HOOK", "OPENRUNTIME_REQUEST_ID", "OPENRUNTIME_DEADLINE_MS", "OPENRUNTIME_STAGES",
            "OPENRUNTIME_EVENT_BYTES", "OPENRUNTIME_STATE_FILE", "_X_AMZN_TRACE_ID", "OPENRUNTIME_NO_PRESTART",
            "AWS_LAMBDA_LOG_STREAM_NAME")
event["middleware_env"] = {{k: v for k, v in os.environ.items() if k not in per_call}}
print(json.dumps(event))
"""


def build(tmp_path: Path, pipeline: str, runtime: str = "python") -> Path:
    """The layers for `pipeline`, extracted: the opt root."""
    from openruntime.layers.build import default_source_root

    source = default_source_root()
    if not (source / "runtimes" / runtime / "bootstrap").is_file():
        pytest.skip(f"the {runtime} runtime is not in this checkout")
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pipeline.yml").write_text(pipeline)
    report = build_layers(tmp_path / "dist", pipeline=tmp_path / "pipeline.yml", source_root=source,
                          runtimes=[runtime], target=HOST)
    return extract_stack([a.path for a in report.layers], tmp_path / "opt")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prestart")
    env_middleware = folder / "env-middleware"
    env_middleware.write_text(ENV_MIDDLEWARE)
    env_middleware.chmod(0o755)
    return build(folder, PIPELINE + f"middlewares:\n  - {{name: env, command: [{env_middleware}], hooks: [before]}}\n")


@pytest.fixture
def stack(built: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the stack (a test may change it) and a task root: (opt root, task root)."""
    import shutil

    root = tmp_path / "opt"
    shutil.copytree(built, root, symlinks=True)
    task_root = tmp_path / "task"
    task_root.mkdir()
    (task_root / "app.py").write_text(HANDLER)
    (task_root / "other.py").write_text(HANDLER)
    return root, task_root


def invoke(root: Path, task_root: Path, events: list[dict], env: dict[str, str] | None = None,  # type: ignore[type-arg]
           log: Path | None = None) -> list[object]:
    # A sandbox's environment, not the test runner's (a PYTHONPATH there would keep
    # /opt/bootstrap from starting anything first).
    base = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    with emulator.Emulator(command=[str(root / "bootstrap")], cwd=task_root, timeout_s=20, inherit_env=False,
                           env={**base, "OPENRUNTIME_PYTHON": sys.executable, "IMPORTS": str(task_root / "imports"),
                                **(env or {})},
                           child_stderr=log.open("wb") if log else None) as emu:
        return [emu.invoke(json.dumps(event).encode()) for event in events]


def answers(root: Path, task_root: Path, env: dict[str, str] | None = None,
            log: Path | None = None) -> list[dict]:  # type: ignore[type-arg]
    results = invoke(root, task_root, [{"n": 1}, {"n": 2}], env, log)
    for result in results:
        assert result.status == 200 and result.function_error is None, result.body  # type: ignore[attr-defined]
    return [json.loads(r.body) for r in results]  # type: ignore[attr-defined]


def prestarted(answer: dict) -> bool:  # type: ignore[type-arg]
    return answer["port"] == 20000 + answer["orchestrator"] % 10000  # type: ignore[no-any-return]


def imports(task_root: Path) -> list[str]:
    return (task_root / "imports").read_text().split()


@pytest.mark.slow
def test_the_runtime_bootstrap_started_is_the_runtime_the_orchestrator_would_start(
        stack: tuple[Path, Path]) -> None:
    root, task_root = stack
    first, second = answers(root, task_root)
    assert prestarted(first), first["port"]
    assert first["pid"] == second["pid"]  # taken over, not started again
    assert imports(task_root) == ["app"]
    own, _ = answers(root, task_root, {"OPENRUNTIME_NO_PRESTART": "1"})
    assert not prestarted(own)
    # The same folder, environment (to the variable), session of its own, descriptors and
    # SIGINT handling; and what the middlewares see of the orchestrator's environment is
    # not changed by it (Lambda's _HANDLER and LAMBDA_TASK_ROOT, nothing of the script's).
    for key in ("cwd", "env", "session_leader", "fds", "sigint", "middleware_env"):
        assert first[key] == own[key], key
    assert first["session_leader"] and first["sigint"]
    assert not any(name.startswith("OPENRUNTIME_PRESTART") for name in {**first["env"], **first["middleware_env"]})


@pytest.mark.slow
def test_kill_0_in_the_function_ends_the_runtime_not_the_orchestrator(stack: tuple[Path, Path]) -> None:
    """The runtime has a session of its own before the function runs."""
    root, task_root = stack
    before, killed, after = invoke(root, task_root, [{"n": 1}, {"kill0": True}, {"n": 2}])
    assert prestarted(json.loads(before.body))  # type: ignore[attr-defined]
    assert json.loads(killed.body)["errorType"] == "Runtime.ExitError", killed.body  # type: ignore[attr-defined]
    # The same orchestrator answers next, with a new runtime: the sandbox was not lost.
    first, last = json.loads(before.body), json.loads(after.body)  # type: ignore[attr-defined]
    assert last["orchestrator"] == first["orchestrator"] and last["pid"] != first["pid"]


@pytest.mark.slow
def test_a_pipeline_in_the_function_code_wins_and_nothing_is_started_first(tmp_path: Path) -> None:
    """The layer's pipeline sets an absolute task root; the function ships its own
    pipeline.yml (in $LAMBDA_TASK_ROOT), which the orchestrator reads instead: /opt/bootstrap,
    which cannot read YAML, starts nothing, and the function's handler answers."""
    code = tmp_path / "task"
    (code / "src").mkdir(parents=True)
    (code / "app.py").write_text(HANDLER)
    (code / "other.py").write_text(HANDLER)
    (code / "src" / "app.py").write_text(HANDLER)
    root = build(tmp_path / "build", PIPELINE + f"  task_root: {code / 'src'}\n")
    (code / "pipeline.yml").write_text("runtime: {name: python, handler: other.handler, task_root: .}\n")
    first, _ = answers(root, code)
    assert first["who"] == "other" and not prestarted(first)



@pytest.mark.slow
def test_a_runtime_started_for_another_handler_is_killed_before_the_function_runs(stack: tuple[Path, Path]) -> None:
    """The prestart file says other.handler, the compiled pipeline app.handler: the runtime
    started first is killed while it waits, before it imports anything of the function."""
    root, task_root = stack
    prestart = root / "prestart"
    prestart.chmod(0o644)
    prestart.write_text(prestart.read_text().replace("app.handler", "other.handler"))
    first, second = answers(root, task_root)
    assert first["who"] == second["who"] == "app" and not prestarted(first)
    assert imports(task_root) == ["app"]  # other.py never ran


@pytest.mark.slow
def test_with_a_pythonpath_nothing_is_started_first(stack: tuple[Path, Path]) -> None:
    """PYTHONPATH acts as an interpreter starts, and the orchestrator plans it otherwise
    (without the layer's own packages): /opt/bootstrap leaves the runtime to it."""
    root, task_root = stack
    first, _ = answers(root, task_root, {"PYTHONPATH": f"{root / 'python'}:"})
    assert not prestarted(first) and imports(task_root) == ["app"]
    assert str(root / "python") not in first["env"].get("PYTHONPATH", "")


@pytest.mark.slow
def test_a_plan_that_sets_what_acts_at_start_is_not_sent_and_the_runtime_started_anew(
        stack: tuple[Path, Path]) -> None:
    """The compiled pipeline gives the runtime TZ (the C library reads it as a process
    starts): the runtime started without it is killed while it waits, and the orchestrator
    starts its own with it; the function's init runs once."""
    root, task_root = stack
    compiled = root / "pipeline.json"
    compiled.chmod(0o644)
    document = json.loads(compiled.read_text())
    document["runtime"]["env"] = {"TZ": "Asia/Tokyo"}
    compiled.write_text(json.dumps(document))
    first, _ = answers(root, task_root)
    assert not prestarted(first) and first["env"]["TZ"] == "Asia/Tokyo"
    assert imports(task_root) == ["app"]


def _wrap_runtime(root: Path, tmp_path: Path, first_start: str) -> Path:
    """runtimes/python/bootstrap behind a script that runs `first_start` (sh) on its first
    start only; the file it counts starts in."""
    bootstrap = root / "runtimes" / "python" / "bootstrap"
    os.rename(bootstrap, bootstrap.with_name("real-bootstrap"))
    starts = tmp_path / "starts"
    bootstrap.write_text(f"#!/bin/sh\necho start >> {starts}\n"
                         f"if [ \"$(wc -l < {starts})\" -eq 1 ]; then {first_start}; fi\n"
                         f"exec \"${{0%/*}}/real-bootstrap\" \"$@\"\n")
    bootstrap.chmod(0o755)
    return starts


@pytest.mark.slow
def test_a_runtime_that_refuses_the_plan_is_started_again_once(stack: tuple[Path, Path], tmp_path: Path) -> None:
    """As prestart.py does when it cannot become the plan: it says so (GO.refused) and
    leaves before any of the function runs; the orchestrator starts its own."""
    root, task_root = stack
    starts = _wrap_runtime(root, tmp_path, 'while [ ! -e "$OPENRUNTIME_PRESTART_GO" ]; do sleep 0.01; done; '
                                           ': > "$OPENRUNTIME_PRESTART_GO.refused"; exit 3')
    log = tmp_path / "log"
    first, second = answers(root, task_root, log=log)
    assert first["pid"] == second["pid"] and starts.read_text().count("start") == 2
    assert imports(task_root) == ["app"] and "ExitError" not in log.read_text()
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob(f"openruntime-prestart-{first['orchestrator']}*"))


@pytest.mark.slow
def test_a_function_whose_init_ends_the_process_is_not_run_twice(stack: tuple[Path, Path]) -> None:
    """An exit during the function's own init (a crash, sys.exit at import) is its init
    failing: reported as Lambda reports it, not retried."""
    root, task_root = stack
    (task_root / "app.py").write_text(HANDLER + "\nos._exit(7)\n")
    failed = invoke(root, task_root, [{"n": 1}])[0]
    assert json.loads(failed.body)["errorType"] == "Runtime.ExitError", failed.body  # type: ignore[attr-defined]
    assert imports(task_root) == ["app"]


def test_the_layer_carries_what_bootstrap_needs_for_the_python_runtime_only(tmp_path: Path) -> None:
    """`task_root: .` (as `openruntime init` writes it) compiles to the function's code; the
    bundled python runtime gets a prestart file, node (no setsid()) and a command do not."""
    from openruntime.layers.build import BuildReport, build_orchestrator_layer

    def layer(pipeline: str) -> tuple[dict, str | None, BuildReport]:  # type: ignore[type-arg]
        (tmp_path / "pipeline.yml").write_text(pipeline)
        report = BuildReport()
        artifact = build_orchestrator_layer(tmp_path / f"dist{len(list(tmp_path.iterdir()))}", report, HOST,
                                            tmp_path / "pipeline.yml")
        with zipfile.ZipFile(artifact.path) as zf:
            prestart = zf.read("prestart").decode() if "prestart" in zf.namelist() else None
            return json.loads(zf.read("pipeline.json")), prestart, report

    compiled, prestart, report = layer(PIPELINE + "  task_root: .\n")
    assert compiled["runtime"]["task_root"] is None
    assert prestart is not None and "prestart_runtime='python'" in prestart and "prestart_handler='app.handler'" in prestart
    assert any("task_root (.) is the pipeline's folder" in note for note in report.notes)
    assert not any("task_root" in warning for warning in report.warnings)
    compiled, _, report = layer(PIPELINE + "  task_root: src\n")  # cannot be mapped: kept, said
    assert compiled["runtime"]["task_root"] == "src"
    assert any("task_root (src) is kept" in warning for warning in report.warnings)
    assert layer("runtime: {name: node, handler: index.handler}\n")[1] is None
    assert layer("runtime: {command: [./my-runtime], handler: app.handler}\n")[1] is None


def test_bootstrap_ignores_a_prestart_claim_from_the_environment(stack: tuple[Path, Path]) -> None:
    """OPENRUNTIME_PRESTARTED set in the function's configuration names no runtime of ours:
    the script clears it before anything reads it."""
    root, _ = stack
    text = (root / "bootstrap").read_text()
    unset_at = text.index("unset OPENRUNTIME_PRESTARTED ")
    assert unset_at < text.index("exec \"$PY\"")
    assert os.access(root / "bootstrap", os.X_OK)
