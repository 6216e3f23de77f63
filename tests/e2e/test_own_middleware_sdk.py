"""A middleware of your own, in a project folder of its own (no SDK beside it), written as
middlewares/README.md shows: the orchestrator hands it the SDK (PYTHONPATH, NODE_PATH,
OPENRUNTIME_SDK), in both modes, through the real orchestrator."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_executable

PYTHON = f"""#!{sys.executable}
from openruntime_middleware import before, run

@before
def mark(event, ctx):
    return {{**event, "python": ctx.event_bytes}}

run()
"""
NODE = """#!/usr/bin/env node
const mw = require('openruntime-middleware');
mw.before((event, ctx) => ({ ...event, node: ctx.eventBytes }));
mw.run();
"""
BASH = """#!/usr/bin/env bash
source "$OPENRUNTIME_SDK/bash/openruntime-middleware.sh"
before() { or_json_add_field bash true; }
or_run "$@"
"""


def test_own_middlewares_import_the_sdk_as_the_readme_writes_it(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    for name, text in (("py", PYTHON), ("pyp", PYTHON.replace('"python"', '"persistent"')), ("js", NODE),
                       ("sh", BASH)):
        write_executable(tmp_path / "middlewares" / name / name, text)
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event\n")
    (tmp_path / "pipeline.yml").write_text(
        "runtime: {name: python, handler: app.handler, task_root: .}\n"
        "middlewares:\n"
        "  - {name: py, hooks: [before]}\n"
        "  - {name: pyp, hooks: [before], mode: persistent}\n"
        "  - {name: js, hooks: [before], mode: persistent}\n"
        "  - {name: sh, hooks: [before]}\n")
    (tmp_path / "event.json").write_text('{"n": 1}')
    done = subprocess.run([sys.executable, "-m", "openruntime", "invoke", "--pipeline", "pipeline.yml",
                           "--event", "event.json"], cwd=tmp_path, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert json.loads(done.stdout) == {"n": 1, "python": 8, "persistent": 8, "node": 8, "bash": True}


def test_the_sdk_of_the_layers_comes_before_this_installations(tmp_path: Path) -> None:
    from openruntime.locate import sdk_dir

    lib = tmp_path / "opt" / "middlewares" / "lib"
    (lib / "python").mkdir(parents=True)
    (lib / "python" / "openruntime_middleware.py").write_text("")
    assert sdk_dir({"OPENRUNTIME_OPT": str(tmp_path / "opt")}) == str(lib)
    installed = sdk_dir({"OPENRUNTIME_OPT": str(tmp_path / "nothing-here")})
    assert installed is not None and Path(installed, "python", "openruntime_middleware.py").is_file()
