"""Deterministic zips and the layers `openruntime layer build` makes."""

from __future__ import annotations

import hashlib
import stat
import sys
import zipfile
from pathlib import Path

import pytest
from layerzips import HOST, modes

from openruntime.cli.layer import main as layer_cli
from openruntime.layers import LayerError, build_layers, pack_directory
from openruntime.layers import build as build_mod
from openruntime.layers.target import Target
from openruntime.layers.zipbuild import ZipEntry, write_zip

REG_644 = stat.S_IFREG | 0o644
REG_755 = stat.S_IFREG | 0o755
DIR_755 = stat.S_IFDIR | 0o755


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A small project checkout: middlewares/ and runtimes/ with litter to leave out."""
    root = tmp_path / "src"
    mw = root / "middlewares"
    (mw / "stamp").mkdir(parents=True)
    (mw / "stamp" / "stamp").write_text("#!/bin/sh\ncat\n")
    (mw / "stamp" / "stamp").chmod(0o755)
    (mw / "log").write_text("#!/bin/sh\ncat\n")
    (mw / "log").chmod(0o775)
    (mw / "lib" / "python").mkdir(parents=True)
    (mw / "lib" / "python" / "sdk.py").write_text("X = 1\n")
    (mw / "lib" / "python" / "sdk.py").chmod(0o600)  # private on disk, still 0644 in the zip
    (mw / "lib" / "python" / "__pycache__").mkdir()
    (mw / "lib" / "python" / "__pycache__" / "sdk.cpython-311.pyc").write_bytes(b"\0")
    (mw / "lib" / "node" / "node_modules" / "x").mkdir(parents=True)
    (mw / "lib" / "node" / "node_modules" / "x" / "index.js").write_text("")
    (mw / "lib" / "node" / "sdk.js").write_text("module.exports = {}\n")
    (mw / ".git").mkdir()
    (mw / ".git" / "HEAD").write_text("ref\n")
    rt = root / "runtimes" / "shell"
    rt.mkdir(parents=True)
    (rt / "bootstrap").write_text("#!/bin/sh\n")
    (rt / "bootstrap").chmod(0o644)  # lost its run bit: the build restores it
    (rt / "helper.sh").write_text("x\n")
    (root / "runtimes" / "notaruntime").mkdir()
    return root


def test_write_zip_is_deterministic_sorted_and_moded(tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"from a file\n")
    entries = [
        ZipEntry("z/last.txt", data=b"z"),
        ZipEntry("a/run", data=b"#!/bin/sh\n", executable=True),
        ZipEntry("a/b/c.txt", source=src),
    ]
    one = write_zip(entries, tmp_path / "one.zip")
    two = write_zip(list(reversed(entries)), tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    assert one.entries == two.entries == 6
    with zipfile.ZipFile(tmp_path / "one.zip") as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["a/", "a/b/", "a/b/c.txt", "a/run", "z/", "z/last.txt"]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.create_system for i in infos} == {3}
        assert zf.read("a/b/c.txt") == b"from a file\n"
    assert modes(tmp_path / "one.zip") == {
        "a/": DIR_755, "a/b/": DIR_755, "a/b/c.txt": REG_644, "a/run": REG_755,
        "z/": DIR_755, "z/last.txt": REG_644,
    }


@pytest.mark.parametrize("name", ["/abs", "a/../b", "a//b", "a\\b", "", "./a"])
def test_write_zip_refuses_bad_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(LayerError, match="invalid archive name"):
        write_zip([ZipEntry(name, data=b"")], tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def test_write_zip_refuses_duplicates_and_file_dir_clash(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="two files would be stored as 'a'"):
        write_zip([ZipEntry("a", data=b""), ZipEntry("a", data=b"")], tmp_path / "x.zip")
    with pytest.raises(LayerError, match="'a' is both a file and a directory"):
        write_zip([ZipEntry("a", data=b""), ZipEntry("a/b", data=b"")], tmp_path / "x.zip")


def test_build_twice_is_byte_identical(tmp_path: Path, source: Path) -> None:
    first = build_layers(tmp_path / "one", source_root=source, target=HOST)
    second = build_layers(tmp_path / "two", source_root=source, target=HOST)
    names = sorted(a.path.name for a in first.layers)
    assert names == ["openruntime-layer.zip", "openruntime-middlewares.zip",
                     "openruntime-runtime-shell.zip"]
    assert names == sorted(a.path.name for a in second.layers)
    for name in names:
        assert sha(tmp_path / "one" / name) == sha(tmp_path / "two" / name), name


def test_orchestrator_layer_contents_and_modes(tmp_path: Path, source: Path) -> None:
    report = build_layers(tmp_path, source_root=source, target=HOST)
    zpath = tmp_path / "openruntime-layer.zip"
    m = modes(zpath)
    assert m["bootstrap"] == REG_755
    assert m["openruntime-wrapper"] == REG_755
    assert m["python/"] == DIR_755
    assert m["python/openruntime/__init__.py"] == REG_644
    assert m["python/yaml/__init__.py"] == REG_644
    names = list(m)
    assert not [n for n in names if n.endswith((".so", ".pyo"))]
    # Bytecode for every module, for the target's Python, and nothing from a source tree's cache.
    tag = HOST.cache_tag
    sources = [n.rsplit("/", 1) for n in names if n.startswith("python/") and n.endswith(".py")]
    assert {n for n in names if n.endswith(".pyc")} == {f"{d}/__pycache__/{f[:-3]}.{tag}.pyc" for d, f in sources}
    assert m[f"python/openruntime/__pycache__/config.{tag}.pyc"] == REG_644
    with zipfile.ZipFile(zpath) as zf:  # PEP 552 flags: hash-based (1), not checked against the source (0)
        assert zf.read(f"python/openruntime/__pycache__/config.{tag}.pyc")[4:8] == b"\x01\0\0\0"
    assert not [n for n in names if n.endswith(("/RECORD", "/direct_url.json"))]
    assert not [n for n in names if n.count("/") == 1 and n.startswith("python/")
                and not n.endswith((".py", "/"))], "stray top-level files under python/"
    assert "pipeline.json" not in m
    # Scripts are byte-for-byte the ones in the package.
    with zipfile.ZipFile(zpath) as zf:
        assert zf.read("bootstrap") == (build_mod.SCRIPTS_DIR / "bootstrap").read_bytes()
    assert [d.split("==")[0] for d in report.distributions] == ["PyYAML"]
    import yaml

    if yaml.__with_libyaml__:  # the compiled part is left out on purpose, and the report says why
        assert any(n.startswith("PyYAML: left out yaml/_yaml") and "C stack" in n for n in report.notes)


def test_orchestrator_layer_holds_only_what_runs_on_lambda(tmp_path: Path, source: Path) -> None:
    """What the tools and tests use stays out; the whole layer is within its 2 MB budget."""
    build_layers(tmp_path, source_root=source, target=HOST)
    names = list(modes(tmp_path / "openruntime-layer.zip"))
    tops = {n.split("/")[1] for n in names if n.startswith("python/") and n.count("/") >= 2}
    assert tops == {"openruntime", "yaml", "_yaml"} | {t for t in tops if t.lower().startswith("pyyaml-")}
    for tool_only in ("emulator/", "cli/layer.py", "cli/bench.py", "layers/", "_bundled/", "init_templates/"):
        assert not any(n.startswith(f"python/openruntime/{tool_only}") for n in names), tool_only
    for needed in ("orchestrator/bootstrap.py", "orchestrator/loop.py", "orchestrator/proxy.py",
                   "runtime_api/http.py", "cli/main.py", "__main__.py"):
        assert f"python/openruntime/{needed}" in names, needed
    unzipped = sum(zipfile.ZipFile(tmp_path / "openruntime-layer.zip").getinfo(n).file_size for n in names)
    assert unzipped <= 2 * 1024 * 1024


def test_bytecode_only_from_the_targets_python(tmp_path: Path, source: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Building for a Python this machine does not have ships sources only, and says what that costs."""
    other = "3.14" if HOST.python != "3.14" else "3.13"
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-dir"))  # no python3.X on PATH either
    report = build_layers(tmp_path / "out", source_root=source, target=Target(other, "x86_64"))
    assert not [n for n in modes(tmp_path / "out" / "openruntime-layer.zip") if n.endswith(".pyc")]
    [warning] = [w for w in report.warnings if "no bytecode" in w]
    assert f"Python {other} (the target) is not on this machine" in warning
    assert "every cold start compiles what it imports" in warning and "ms" in warning
    assert f"--python {HOST.python}" in warning


def test_a_python_on_path_that_runs_another_version_compiles_nothing(
        tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `python3.X` on PATH counts only if it is 3.X (a pyenv shim may run another one)."""
    other = "3.14" if HOST.python != "3.14" else "3.13"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    liar = bindir / f"python{other}"
    liar.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    liar.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    report = build_layers(tmp_path / "out", source_root=source, target=Target(other, "x86_64"), runtimes=[])
    assert not [n for n in modes(tmp_path / "out" / "openruntime-layer.zip") if n.endswith(".pyc")]
    assert any("no bytecode" in w for w in report.warnings)


def test_middlewares_and_runtime_layers(tmp_path: Path, source: Path) -> None:
    build_layers(tmp_path, source_root=source, target=HOST)
    m = modes(tmp_path / "openruntime-middlewares.zip")
    assert m["middlewares/stamp/stamp"] == REG_755
    assert m["middlewares/log"] == REG_755
    assert m["middlewares/lib/python/sdk.py"] == REG_644
    assert m["middlewares/lib/node/sdk.js"] == REG_644
    assert not [n for n in m if "node_modules" in n or ".git" in n]
    # The middlewares' Python modules get bytecode for a read-only /opt, compiled here: the
    # source tree's stale __pycache__ is not what ships.
    tag = HOST.cache_tag
    assert [n for n in m if n.endswith(".pyc")] == [f"middlewares/lib/python/__pycache__/sdk.{tag}.pyc"]
    with zipfile.ZipFile(tmp_path / "openruntime-middlewares.zip") as zf:
        pyc = zf.read(f"middlewares/lib/python/__pycache__/sdk.{tag}.pyc")
    assert pyc[4:8] == b"\x01\0\0\0" and len(pyc) > 16
    r = modes(tmp_path / "openruntime-runtime-shell.zip")
    assert r == {"runtimes/": DIR_755, "runtimes/shell/": DIR_755,
                 "runtimes/shell/bootstrap": REG_755, "runtimes/shell/helper.sh": REG_644}


def test_pipeline_is_compiled_into_the_layer(tmp_path: Path, source: Path) -> None:
    pipeline = tmp_path / "pipeline.yml"
    pipeline.write_text("runtime:\n  name: python\n  handler: app.handler\n"
                        "middlewares:\n  - name: stamp\n")
    build_layers(tmp_path / "out", source_root=source, pipeline=pipeline, runtimes=["shell"])
    from openruntime.config import load_pipeline

    with zipfile.ZipFile(tmp_path / "out" / "openruntime-layer.zip") as zf:
        data = zf.read("pipeline.json")
        assert zf.getinfo("pipeline.json").external_attr >> 16 == REG_644
    assert data.decode() == load_pipeline(pipeline).to_json()


def test_invalid_pipeline_fails_the_build_naming_file_and_line(tmp_path: Path, source: Path) -> None:
    pipeline = tmp_path / "bad.yml"
    pipeline.write_text("runtime:\n  name: python\nmiddlewares:\n  - name: stamp\n    mode: sideways\n")
    with pytest.raises(LayerError, match=r"bad\.yml:5"):
        build_layers(tmp_path / "out", source_root=source, pipeline=pipeline)


def test_unknown_runtime_is_a_clear_error(tmp_path: Path, source: Path) -> None:
    with pytest.raises(LayerError, match=r"no such bundled runtime \(have: shell\)"):
        build_layers(tmp_path / "out", source_root=source, runtimes=["cobol"])


def test_size_limits(tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_mod, "MAX_ZIPPED_DIRECT_UPLOAD_BYTES", 100)
    report = build_layers(tmp_path / "a", source_root=source, runtimes=[])
    assert any("direct-upload limit; upload it through S3" in w for w in report.warnings)
    monkeypatch.setattr(build_mod, "MAX_UNZIPPED_BYTES", 1000)
    with pytest.raises(LayerError, match=r"openruntime-layer\.zip unzips to .* over Lambda's"):
        build_layers(tmp_path / "b", source_root=source)


def test_pack_directory_for_third_party_layers(tmp_path: Path) -> None:
    src = tmp_path / "layer"
    (src / "middlewares" / "redact").mkdir(parents=True)
    (src / "middlewares" / "redact" / "redact").write_text("#!/bin/sh\ncat\n")
    (src / "middlewares" / "redact" / "redact").chmod(0o700)
    report = pack_directory(src, tmp_path / "redact.zip")
    assert report.layers[0].entries == 3  # two directories and the file
    assert modes(tmp_path / "redact.zip")["middlewares/redact/redact"] == REG_755


def test_cli_build_json(tmp_path: Path, source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    status = layer_cli(["layer", "build", "--source", str(source), "--out", str(tmp_path / "o"),
                        "--runtime", "shell", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0 and out["ok"] is True
    assert [layer["kind"] for layer in out["layers"]] == ["orchestrator", "middlewares", "runtime"]
    status = layer_cli(["layer", "build", "--source", str(source), "--out", str(tmp_path / "o"),
                        "--runtime", "cobol"])
    assert status == 1
    assert "no such bundled runtime" in capsys.readouterr().err


def test_requirement_markers_are_judged_for_lambda_pythons() -> None:
    from openruntime.layers.vendor import _needed

    assert _needed('exceptiongroup>=1; python_version < "3.11"') is None  # never on 3.11+
    assert _needed('typing_extensions; python_version < "3.15"') == "typing_extensions"
    assert _needed('tomli; python_version < "3.12"') == "tomli"  # needed by 3.11 only: kept
    assert _needed("brotli; extra == 'brotli'") is None
    assert _needed('pywin32; sys_platform == "win32"') is None
    assert _needed("httpx>=0.27") == "httpx"
