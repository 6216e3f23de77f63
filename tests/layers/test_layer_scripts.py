"""The layer's shell entry points: `bootstrap` and `openruntime-wrapper`.

Stand-in interpreters record how they were exec'd, so the tests see the exact command
line and environment the orchestrator would start with.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from layerzips import SCRIPTS

RECORDER = r"""#!/bin/sh
{ printf '%s\n' "$0"; for a in "$@"; do printf '%s\n' "$a"; done; } > "$RECORD.argv"
{
  printf 'OPENRUNTIME_OPT=%s\n' "${OPENRUNTIME_OPT-<unset>}"
  printf 'PYTHONPATH=%s\n' "${PYTHONPATH-<unset>}"
  printf 'OPENRUNTIME_LAYER_PYTHONPATH=%s\n' "${OPENRUNTIME_LAYER_PYTHONPATH-<unset>}"
  printf 'OPENRUNTIME_PYTHON=%s\n' "${OPENRUNTIME_PYTHON-<unset>}"
} > "$RECORD.env"
"""
# Only what the scripts need besides builtins; no python3 on it.
SAFE_PATH_TOOLS = ("curl",)


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    """The two scripts in a fresh 'layer' directory (their own dir is the opt root)."""
    root = tmp_path / "layer"
    root.mkdir()
    for name in ("bootstrap", "openruntime-wrapper"):
        shutil.copy2(SCRIPTS / name, root / name)
    return root


@pytest.fixture
def bare_path(tmp_path: Path) -> str:
    """A PATH with curl (if present) and no Python."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in SAFE_PATH_TOOLS:
        found = shutil.which(tool)
        if found:
            (bindir / tool).symlink_to(found)
    return str(bindir)


def recorder(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(RECORDER)
    path.chmod(0o755)
    return path


def run(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Run through the shebang, as Lambda does: this also needs the run bit.
    return subprocess.run([str(script), *args], env=env, capture_output=True, text=True, timeout=20)


def recorded(record: Path) -> tuple[list[str], dict[str, str]]:
    argv = Path(f"{record}.argv").read_text().splitlines()
    env = dict(line.split("=", 1) for line in Path(f"{record}.env").read_text().splitlines() if "=" in line)
    return argv, env


def test_scripts_share_one_python_discovery_block() -> None:
    def block(name: str) -> str:
        text = (SCRIPTS / name).read_text()
        return text[text.index("# --- python discovery"):text.index("# --- end of python discovery ---")]

    assert block("bootstrap") == block("openruntime-wrapper")
    for name in ("bootstrap", "openruntime-wrapper"):
        assert os.access(SCRIPTS / name, os.X_OK), name
        assert (SCRIPTS / name).read_text().startswith("#!/bin/sh\n")
        subprocess.run(["sh", "-n", str(SCRIPTS / name)], check=True)


def test_bootstrap_execs_the_orchestrator(layer: Path, tmp_path: Path, bare_path: str) -> None:
    record = tmp_path / "rec"
    py = recorder(tmp_path / "py" / "interp")
    env = {"PATH": bare_path, "OPENRUNTIME_PYTHON": str(py), "RECORD": str(record),
           "PYTHONPATH": "/keep/me"}
    result = run(layer / "bootstrap", env=env)
    assert result.returncode == 0, result.stderr
    argv, seen = recorded(record)
    assert argv == [str(py), "-m", "openruntime", "bootstrap"]
    real = str(layer.resolve())
    assert seen["OPENRUNTIME_OPT"] == real  # the layer's own folder, not a fixed /opt
    assert seen["PYTHONPATH"] == f"{real}/python:/keep/me"
    assert seen["OPENRUNTIME_LAYER_PYTHONPATH"] == f"{real}/python"
    assert seen["OPENRUNTIME_PYTHON"] == str(py)


def test_with_the_vendored_package_python_starts_without_site_or_working_directory(
    layer: Path, tmp_path: Path, bare_path: str
) -> None:
    # -S: no site-packages (the layer brings every dependency), -P: the task root's modules
    # cannot shadow the orchestrator's, -c: no runpy.
    package = layer / "python" / "openruntime"
    package.mkdir(parents=True)
    (package / "__main__.py").write_text("")
    record = tmp_path / "rec"
    py = recorder(tmp_path / "py" / "interp")
    env = {"PATH": bare_path, "OPENRUNTIME_PYTHON": str(py), "RECORD": str(record)}
    assert run(layer / "bootstrap", env=env).returncode == 0
    argv, _ = recorded(record)
    assert argv == [str(py), "-S", "-P", "-c", "import openruntime.__main__", "bootstrap"]
    assert run(layer / "openruntime-wrapper", "/var/lang/bin/python3.12", "/var/runtime/bootstrap.py",
               env=env).returncode == 0
    argv, _ = recorded(record)
    assert argv == [str(py), "-S", "-P", "-c", "import openruntime.__main__", "bootstrap", "--",
                    "/var/lang/bin/python3.12", "/var/runtime/bootstrap.py"]


def test_bootstrap_keeps_an_explicit_opt_root_and_adds_no_empty_path_entry(
    layer: Path, tmp_path: Path, bare_path: str
) -> None:
    record = tmp_path / "rec"
    py = recorder(tmp_path / "interp")
    env = {"PATH": bare_path, "OPENRUNTIME_PYTHON": str(py), "RECORD": str(record),
           "OPENRUNTIME_OPT": "/somewhere/else"}
    assert run(layer / "bootstrap", env=env).returncode == 0
    _, seen = recorded(record)
    assert seen["OPENRUNTIME_OPT"] == "/somewhere/else"
    assert seen["PYTHONPATH"] == f"{layer.resolve()}/python"  # no trailing ':' (= cwd)


def test_wrapper_passes_the_managed_runtime_command_line(layer: Path, tmp_path: Path, bare_path: str) -> None:
    record = tmp_path / "rec"
    managed = recorder(tmp_path / "var" / "lang" / "bin" / "python3.12")
    env = {"PATH": bare_path, "RECORD": str(record)}
    result = run(layer / "openruntime-wrapper", str(managed), "/var/runtime/bootstrap.py", env=env)
    assert result.returncode == 0, result.stderr
    argv, seen = recorded(record)
    # The managed interpreter itself runs the orchestrator (no extra process to probe it).
    assert argv == [str(managed), "-m", "openruntime", "bootstrap", "--",
                    str(managed), "/var/runtime/bootstrap.py"]
    assert seen["OPENRUNTIME_OPT"] == str(layer.resolve())
    assert seen["PYTHONPATH"] == f"{layer.resolve()}/python"


def test_wrapper_skips_an_old_managed_python_and_finds_one_in_a_layer(
    layer: Path, tmp_path: Path, bare_path: str
) -> None:
    record = tmp_path / "rec"
    old = recorder(tmp_path / "old" / "python3.10")
    shipped = recorder(layer / "python" / "bin" / "python3.13")
    env = {"PATH": bare_path, "RECORD": str(record)}
    result = run(layer / "openruntime-wrapper", str(old), "/var/runtime/bootstrap.py", env=env)
    assert result.returncode == 0, result.stderr
    argv, _ = recorded(record)
    assert argv[0] == str(layer.resolve() / "python" / "bin" / "python3.13")
    assert argv[1:] == ["-m", "openruntime", "bootstrap", "--", str(old), "/var/runtime/bootstrap.py"]
    assert shipped.exists()


def test_explicit_openruntime_python_beats_the_managed_interpreter(
    layer: Path, tmp_path: Path, bare_path: str
) -> None:
    record = tmp_path / "rec"
    managed = recorder(tmp_path / "bin2" / "python3.12")
    chosen = recorder(tmp_path / "chosen" / "mypython")
    env = {"PATH": bare_path, "RECORD": str(record), "OPENRUNTIME_PYTHON": str(chosen)}
    assert run(layer / "openruntime-wrapper", str(managed), "x.py", env=env).returncode == 0
    argv, _ = recorded(record)
    assert argv[0] == str(chosen)


def test_unversioned_python3_on_path_is_probed(layer: Path, tmp_path: Path, bare_path: str) -> None:
    # A real interpreter named python3 on PATH: accepted after asking it its version.
    import sys

    bindir = Path(bare_path)
    (bindir / "python3").symlink_to(sys.executable)
    env = {"PATH": bare_path, "OPENRUNTIME_OPT": str(tmp_path / "noopt")}
    result = run(layer / "bootstrap", "--help", env=env)
    # The real interpreter ran `-m openruntime bootstrap --help` (the package is installed).
    assert result.returncode == 0, result.stderr
    assert "usage: openruntime bootstrap" in result.stdout


class _InitErrorSink(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def runtime_api() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Sink", (_InitErrorSink,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}", received
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl to post the init error")
def test_no_python_posts_an_init_error_and_exits_1(
    layer: Path, tmp_path: Path, bare_path: str, runtime_api: tuple[str, list[dict[str, Any]]]
) -> None:
    if any(Path(p).exists() for p in ("/var/lang/bin", "/opt/python/bin", "/opt/bin/python3")):
        pytest.skip("this machine has a Lambda-style Python the script would find")
    address, received = runtime_api
    env = {"PATH": bare_path, "AWS_LAMBDA_RUNTIME_API": address,
           "OPENRUNTIME_OPT": str(tmp_path / 'opt "quoted" \\ path')}
    result = run(layer / "bootstrap", env=env)
    assert result.returncode == 1
    assert "no Python >= 3.11 found" in result.stderr
    assert len(received) == 1
    post = received[0]
    assert post["path"] == "/2018-06-01/runtime/init/error"
    assert post["headers"]["Lambda-Runtime-Function-Error-Type"] == "Runtime.PythonNotFound"
    body = json.loads(post["body"])  # quotes and backslashes in paths are escaped
    assert body["errorType"] == "Runtime.PythonNotFound"
    assert 'opt "quoted" \\ path' in body["errorMessage"]
    assert "AWS_LAMBDA_EXEC_WRAPPER=/opt/openruntime-wrapper" in body["errorMessage"]


def test_no_python_without_a_runtime_api_just_prints(layer: Path, tmp_path: Path, bare_path: str) -> None:
    if Path("/var/lang/bin").exists():
        pytest.skip("this machine has a Lambda-style Python")
    env = {"PATH": bare_path, "OPENRUNTIME_OPT": str(tmp_path / "empty")}
    result = run(layer / "openruntime-wrapper", "/nonexistent/python3.12", "x", env=env)
    assert result.returncode == 1
    assert "openruntime: no Python >= 3.11 found" in result.stderr


def test_bad_openruntime_python_is_reported(layer: Path, tmp_path: Path, bare_path: str) -> None:
    env = {"PATH": bare_path, "OPENRUNTIME_PYTHON": str(tmp_path / "nope")}
    result = run(layer / "bootstrap", env=env)
    assert result.returncode == 1
    assert f"OPENRUNTIME_PYTHON={tmp_path / 'nope'} is not an executable" in result.stderr


def test_versioned_names_on_path_are_probed_for_shims(layer: Path, tmp_path: Path, bare_path: str) -> None:
    # pyenv/asdf put shims like python3.13 on PATH that fail when that version is not selected.
    import sys

    bindir = Path(bare_path)
    shim = bindir / "python3.13"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    (bindir / "python3.12").symlink_to(sys.executable)  # really 3.11+: accepted after asking
    env = {"PATH": bare_path, "OPENRUNTIME_OPT": str(tmp_path / "noopt")}
    result = run(layer / "bootstrap", "--help", env=env)
    assert result.returncode == 0, result.stderr
    assert "usage: openruntime bootstrap" in result.stdout
