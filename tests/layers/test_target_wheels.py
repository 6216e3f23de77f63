"""Compiled dependencies come as the target Lambda's wheels, not this machine's files.

These fetch from the package index (as `pip install` does), into a cache in tmp.
"""

from __future__ import annotations

import importlib.metadata as md
import tomllib
import zipfile
from pathlib import Path

import pytest

from openruntime.layers import vendor as vendor_mod
from openruntime.layers.elf import read_elf
from openruntime.layers.errors import LayerError
from openruntime.layers.target import Target
from openruntime.layers.wheels import fetch_wheel

@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "openruntime" / "wheels"


@pytest.mark.slow
@pytest.mark.parametrize(("python", "arch"), [("3.12", "arm64"), ("3.13", "x86_64")])
def test_a_compiled_dependency_is_vendored_from_the_targets_wheel(
        cache: Path, monkeypatch: pytest.MonkeyPatch, python: str, arch: str) -> None:
    # PyYAML's binding is left out of the orchestrator layer on purpose (NOT_IMPORTED);
    # without that choice it stands for any compiled dependency.
    monkeypatch.setattr(vendor_mod, "NOT_IMPORTED", {})
    result = vendor_mod.vendor("python", ["pyyaml"], Target(python, arch))
    assert result.compiled_skipped == {}, result.fetch_errors
    tag = python.replace(".", "")
    machine = "aarch64" if arch == "arm64" else "x86_64"
    [so] = [e for e in result.entries if e.name.endswith(".so")]
    assert so.name == f"python/yaml/_yaml.cpython-{tag}-{machine}-linux-gnu.so"
    elf = read_elf(so.read())
    assert elf is not None and elf.machine == machine
    assert "python/yaml/__init__.py" in {e.name for e in result.entries}
    assert not [e for e in result.entries if e.name.endswith("/RECORD")]
    [wheel] = result.target_wheels.values()
    assert f"cp{tag}" in wheel and machine in wheel
    assert (cache / f"{python}-{arch}" / wheel).is_file()


@pytest.mark.slow
def test_a_fetched_wheel_is_reused_from_the_cache(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    version = md.version("pyyaml")
    first = fetch_wheel("PyYAML", version, Target("3.12", "x86_64"))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # no index: offline from now on
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    assert fetch_wheel("PyYAML", version, Target("3.12", "x86_64")) == first


def test_no_wheel_for_the_target_is_a_clear_error(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(cache.parent))  # nothing there
    with pytest.raises(LayerError, match=r"pip download PyYAML==0\.0\.1 for Python 3\.12 on arm64 failed: "):
        fetch_wheel("PyYAML", "0.0.1", Target("3.12", "arm64"))


def test_without_the_wheel_the_compiled_part_is_left_out_and_said(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("yaml._yaml", reason="PyYAML installed without its C extension")
    monkeypatch.setattr(vendor_mod, "NOT_IMPORTED", {})
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(cache.parent))
    result = vendor_mod.vendor("python", ["pyyaml"], Target("3.12", "arm64"))
    assert not [e for e in result.entries if e.name.endswith(".so")]
    assert list(result.compiled_skipped) == ["PyYAML"]
    assert "for Python 3.12 on arm64 failed" in result.fetch_errors["PyYAML"]


@pytest.mark.slow
def test_the_middlewares_layer_ships_their_compiled_dependency_from_the_targets_wheel(
        cache: Path, tmp_path: Path) -> None:
    from openruntime.layers.build import BuildReport, build_middlewares_layer

    src = tmp_path / "middlewares"
    (src / "validate").mkdir(parents=True)
    (src / "validate" / "requirements.txt").write_text("# the engine\njsonschema-rs>=0.61\n")
    report = BuildReport()
    artifact = build_middlewares_layer(src, tmp_path / "out", report, Target("3.12", "arm64"))
    with zipfile.ZipFile(artifact.path) as zf:
        names = zf.namelist()
        [so] = [n for n in names if n.endswith(".so")]
        elf = read_elf(zf.read(so))
    assert so == "middlewares/lib/site-packages/jsonschema_rs/jsonschema_rs.abi3.so"
    assert elf is not None and elf.machine == "aarch64"
    assert "middlewares/lib/site-packages/jsonschema_rs/__init__.py" in names
    assert [n for n in report.notes if "vendored from jsonschema_rs-" in n and "aarch64" in n], report.notes
    assert report.warnings == []


def test_what_the_middlewares_declare_is_what_the_package_installs() -> None:
    from openruntime.layers.build import middleware_requirements

    root = Path(__file__).resolve().parents[2]
    declared = middleware_requirements(root / "middlewares")
    assert "jsonschema-rs>=0.61" in declared
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert set(declared) <= set(project["dependencies"])
