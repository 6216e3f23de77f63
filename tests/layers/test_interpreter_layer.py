"""The interpreter layer (`layer build --interpreter X.Y`): a relocatable CPython at
/opt/python/bin/python3.X and /opt/bin/python3, for functions whose runtime has no Python.

python-build-standalone cannot be downloaded here, so the archive is made from the host's
interpreter in the same "install_only" layout (`host_cpython_archive`), with the clutter
such an archive has for the layer to trim. Run this file as a script to write one:
`python3 tests/layers/test_interpreter_layer.py /tmp/host-cpython.tar.gz`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import platform
import shutil
import stat
import struct
import subprocess
import sys
import sysconfig
import tarfile
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from openruntime.cli.layer import main as layer_cli
from openruntime.layers import LayerError, build_layers, extract_stack, inspect_stack
from openruntime.layers import interpreter as interp
from openruntime.layers.elf import ElfInfo, read_elf
from openruntime.layers.target import Target
from tests.conftest import SAM

V = f"{sys.version_info.major}.{sys.version_info.minor}"
TAG = sys.implementation.cache_tag
ARCH = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine())
OTHER_ARCH = "arm64" if ARCH == "x86_64" else "x86_64"
EM = {"x86_64": 62, "aarch64": 183}

pytestmark = pytest.mark.skipif(ARCH is None or sys.platform != "linux" or TAG is None,
                                reason="needs CPython on Linux x86_64 or aarch64")


# -- the archive -------------------------------------------------------------------------------

# The big parts of the stdlib that the layer drops anyway are left out of the test archive
# (they would only slow it down) and stood in for by a file or two each, below.
_LEFT_OUT = {"test", "idlelib", "site-packages", "dist-packages"}


def host_cpython_archive(dest: Path) -> Path:
    """The host's CPython as a python-build-standalone install_only .tar.gz: the resolved
    executable at python/bin/python3.X, its stdlib (with lib-dynload) at
    python/lib/python3.X/, libpython beside it when the executable links one, plus the
    clutter of such an archive (other executables, include/, share/, pkgconfig, the static
    library, a test suite, pip) for the layer to trim."""
    exe = Path(os.path.realpath(sys.executable))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    top = f"python/lib/python{V}"

    def stdlib_filter(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = info.name.split("/")
        if len(parts) > 3 and (parts[3] in _LEFT_OUT or parts[3].startswith("config-")):
            return None
        return info

    def add_text(tar: tarfile.TarFile, name: str, text: str, mode: int = 0o644) -> None:
        data = text.encode()
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), mode
        tar.addfile(info, io.BytesIO(data))

    def add_link(tar: tarfile.TarFile, name: str, target: str) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
        tar.addfile(info)

    with tarfile.open(dest, "w:gz", compresslevel=1) as tar:
        tar.add(exe, f"python/bin/python{V}")
        add_link(tar, "python/bin/python3", f"python{V}")
        add_text(tar, f"python/bin/pip{V}", "#!/bin/sh\n", 0o755)
        add_text(tar, "python/bin/idle3", "#!/bin/sh\n", 0o755)
        soname = sysconfig.get_config_var("INSTSONAME")
        libdir = Path(sysconfig.get_config_var("LIBDIR") or "/nonexistent")
        if sysconfig.get_config_var("Py_ENABLE_SHARED") and soname and (libdir / soname).is_file():
            tar.add(libdir / soname, f"python/lib/{soname}")
            add_link(tar, f"python/lib/libpython{V}.so", soname)
        add_text(tar, "python/lib/pkgconfig/python3.pc", "Name: Python\n")
        add_text(tar, f"python/include/python{V}/patchlevel.h",
                 f'#define PY_VERSION "{platform.python_version()}"\n')
        add_text(tar, f"python/share/man/man1/python{V}.1", ".TH PYTHON\n")
        tar.add(stdlib, top, filter=stdlib_filter)
        config = f"{top}/config-{V}-{platform.machine()}-linux-gnu"
        add_text(tar, f"{config}/libpython{V}.a", "!<arch>\n")
        add_text(tar, f"{config}/Makefile", "all:\n")
        add_text(tar, f"{top}/test/__init__.py", "")
        add_text(tar, f"{top}/test/test_os.py", "import os\n")
        add_text(tar, f"{top}/idlelib/__init__.py", "")
        add_text(tar, f"{top}/site-packages/README.txt", "site-packages\n")
        add_text(tar, f"{top}/site-packages/pip/__init__.py", "")
    return dest


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return host_cpython_archive(tmp_path_factory.mktemp("cpython") / "cpython-host-install_only.tar.gz")


@pytest.fixture(scope="module")
def unpacked(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive unpacked (the folder holding python/), as `--interpreter-archive DIR` takes it."""
    folder = tmp_path_factory.mktemp("unpacked")
    trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
    with tarfile.open(archive) as tar:
        tar.extractall(folder, **trusted)  # type: ignore[arg-type]  # our own archive, symlinks as they are
    return folder


def clean_env(**extra: str) -> dict[str, str]:
    """No PYTHONHOME, PYTHONPATH or other PYTHON* setting: the interpreter finds its own prefix."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}, **extra}


def run_python(python: Path, code: str, **env: str) -> str:
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=clean_env(**env),
                          timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_the_host_made_cpython_runs_from_its_own_folder(unpacked: Path) -> None:
    """CPython finds its prefix from lib/python3.X/os.py beside bin/: no PYTHONHOME needed."""
    out = run_python(unpacked / "python" / "bin" / f"python{V}",
                     "import json, os, sys; print(json.dumps([sys.prefix, os.__file__]))")
    prefix, os_file = json.loads(out)
    assert prefix == str(unpacked / "python")
    assert os_file == str(unpacked / "python" / "lib" / f"python{V}" / "os.py")


# -- the layer -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dist(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every layer a Node.js function needs, with the interpreter layer from the archive."""
    from openruntime.layers.build import default_source_root

    source = default_source_root()
    if not (source / "runtimes" / "node" / "bootstrap").is_file():
        pytest.skip("the node runtime is not in this checkout")
    out = tmp_path_factory.mktemp("dist")
    report = build_layers(out, source_root=source, runtimes=["node"], target=Target(V, ARCH or "x86_64"),
                          interpreter=V, interpreter_archive=archive)
    assert [a.path.name for a in report.layers] == [
        "openruntime-interpreter.zip", "openruntime-layer.zip", "openruntime-middlewares.zip",
        "openruntime-runtime-node.zip"]
    assert report.layers[0].kind == "interpreter"
    assert any("interpreter layer: CPython " + platform.python_version() in n for n in report.notes), report.notes
    return out


def zip_modes(path: Path) -> dict[str, int]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: i.external_attr >> 16 for i in zf.infolist()}


@pytest.mark.slow
def test_layout_trimming_and_modes(dist: Path) -> None:
    modes = zip_modes(dist / interp.INTERPRETER_ZIP)
    files = {n for n in modes if not n.endswith("/")}
    std = f"python/lib/python{V}/"
    for name in (f"python/bin/python{V}", "python/bin/python3", "bin/python3"):
        assert modes[name] == stat.S_IFREG | 0o755, name
    assert {n for n in files if n.startswith(("bin/", "python/bin/"))} == {
        f"python/bin/python{V}", "python/bin/python3", "bin/python3"}
    assert f"{std}os.py" in files and f"{std}json/__init__.py" in files
    assert any(n.startswith(f"{std}lib-dynload/") for n in files)
    assert modes[f"{std}os.py"] == stat.S_IFREG | 0o644
    gone = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "turtle.py"}
    trimmed = [n for n in files if n.startswith(("python/include/", "python/share/", "python/lib/pkgconfig/"))
               or (n.startswith(std) and n[len(std):].split("/")[0] in gone)
               or n.startswith(f"{std}config-") or "/tests/" in n or "/idle_test/" in n
               or n.endswith((".a", ".opt-1.pyc", ".opt-2.pyc")) or "/_testcapi" in n or "/_tkinter" in n]
    assert not trimmed, trimmed[:10]
    assert [n for n in files if n.startswith(f"{std}site-packages/")] == [f"{std}site-packages/README.txt"]
    libs = {n for n in files if n.startswith("python/lib/") and n.count("/") == 2}
    soname = sysconfig.get_config_var("INSTSONAME")
    assert libs == ({f"python/lib/{soname}"} if sysconfig.get_config_var("Py_ENABLE_SHARED") else set())


@pytest.mark.slow
def test_stdlib_bytecode_is_kept_as_unchecked_hash_pyc(dist: Path) -> None:
    with zipfile.ZipFile(dist / interp.INTERPRETER_ZIP) as zf:
        pyc = zf.read(f"python/lib/python{V}/__pycache__/os.{TAG}.pyc")
        names = zf.namelist()
    assert pyc[4:8] == b"\x01\0\0\0"  # hash-based, check_source off (PEP 552)
    assert pyc[:4] == importlib.util.MAGIC_NUMBER
    pycs = [n for n in names if n.endswith(".pyc")]
    assert len(pycs) > 300 and all(n.endswith(f".{TAG}.pyc") for n in pycs)


@pytest.mark.slow
def test_extracted_read_only_layer_runs_and_uses_its_bytecode(dist: Path, tmp_path: Path) -> None:
    """As in /opt: extracted (file dates are not the archive's), read-only; `/opt/bin/python3`
    (the sh script) and /opt/python/bin/python3 start the layer's CPython, which loads the
    shipped .pyc instead of compiling."""
    root = extract_stack([dist / interp.INTERPRETER_ZIP], tmp_path / "opt")
    subprocess.run(["chmod", "-R", "a-w", str(root)], check=True)
    try:
        for python in (root / "bin" / "python3", root / "python" / "bin" / "python3"):
            out = run_python(python, "import json, sys; print(json.dumps([sys.executable, sys.prefix]))")
            assert json.loads(out) == [str(root / "python" / "bin" / f"python{V}"), str(root / "python")]
        done = subprocess.run([str(root / "bin" / "python3"), "-v", "-c", "import json, email.message"],
                              capture_output=True, text=True, env=clean_env(), timeout=60)
        assert done.returncode == 0, done.stderr[-3000:]
        cached = root / "python" / "lib" / f"python{V}" / "json" / "__pycache__" / f"__init__.{TAG}.pyc"
        assert f"# code object from '{cached}'" in done.stderr
        compiled = [line for line in done.stderr.splitlines()  # "code object from <x.py>": compiled now
                    if line.startswith("# code object from") and str(root) in line and not line.endswith(".pyc'")]
        assert not compiled, compiled[:5]
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(root)], check=True)


@pytest.mark.slow
def test_same_bytes_from_the_tarball_and_from_the_unpacked_folder(dist: Path, unpacked: Path, tmp_path: Path) -> None:
    """Deterministic: a second build, from the unpacked folder, gives the same zip."""
    report = build_layers(tmp_path, source_root=tmp_path, runtimes=[], target=Target(V, ARCH or "x86_64"),
                          interpreter=V, interpreter_archive=unpacked)
    again = next(a.path for a in report.layers if a.kind == "interpreter")
    first = dist / interp.INTERPRETER_ZIP
    assert hashlib.sha256(again.read_bytes()).hexdigest() == hashlib.sha256(first.read_bytes()).hexdigest()


@pytest.mark.slow
def test_the_other_architecture_is_refused(archive: Path) -> None:
    with pytest.raises(LayerError, match=rf"bin/python{V} is built for {platform.machine()} .*--arch {OTHER_ARCH}"):
        interp.interpreter_layer(V, Target(V, OTHER_ARCH), archive)


# -- checks on small crafted archives ------------------------------------------------------------


def fake_elf(machine: int = 62, needed: tuple[str, ...] = (), runpath: str | None = None) -> bytes:
    """A minimal ELF64 little-endian file: header, PT_LOAD, PT_DYNAMIC with NEEDED and RUNPATH."""
    strtab, offsets = b"\0", []
    for name in (*needed, *([runpath] if runpath else [])):
        offsets.append(len(strtab))
        strtab += name.encode() + b"\0"
    base, phnum = 0x400000, 2
    dynamic_at = 64 + 56 * phnum
    tags = [(1, off) for off in offsets[:len(needed)]] + ([(29, offsets[-1])] if runpath else [])
    dynamic_size = 16 * (len(tags) + 2)
    strtab_at = dynamic_at + dynamic_size
    dynamic = b"".join(struct.pack("<qQ", t, v) for t, v in [(5, base + strtab_at), *tags, (0, 0)])
    size = strtab_at + len(strtab)
    header = struct.pack("<4sBBBB8xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 2, machine, 1, base, 64, 0, 0,
                         64, 56, phnum, 64, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    dyn = struct.pack("<IIQQQQQQ", 2, 6, dynamic_at, base + dynamic_at, base + dynamic_at, dynamic_size,
                      dynamic_size, 8)
    return header + load + dyn + dynamic + strtab


def fake_install(folder: Path, version: str, elf: bytes) -> Path:
    """A folder in install_only layout: python/bin/pythonX.Y and python/lib/pythonX.Y/os.py."""
    (folder / "python" / "bin").mkdir(parents=True)
    (folder / "python" / "bin" / f"python{version}").write_bytes(elf)
    (folder / "python" / "bin" / f"python{version}").chmod(0o755)
    std = folder / "python" / "lib" / f"python{version}"
    (std / "lib-dynload").mkdir(parents=True)
    (std / "os.py").write_text("# os\n")
    return folder


def test_read_elf_finds_machine_needed_and_runpath() -> None:
    info = read_elf(fake_elf(183, ("libpython3.12.so.1.0", "libc.so.6"), "$ORIGIN/../lib"))
    assert info == ElfInfo("aarch64", 64, ("libpython3.12.so.1.0", "libc.so.6"), ("$ORIGIN/../lib",))
    assert read_elf(b"#!/bin/sh\n" + b"\0" * 80) is None
    host = read_elf(Path(os.path.realpath(sys.executable)).read_bytes())
    assert host is not None and host.machine == platform.machine()


def test_a_version_other_than_the_requested_one_is_refused(tmp_path: Path) -> None:
    folder = fake_install(tmp_path, "3.13", fake_elf())
    with pytest.raises(LayerError, match=r"holds CPython 3\.13, not 3\.12 \(--interpreter 3\.12\)"):
        interp.interpreter_layer("3.12", Target("3.12", "x86_64"), folder)


def test_a_binary_for_another_machine_is_refused(tmp_path: Path) -> None:
    folder = fake_install(tmp_path, "3.12", fake_elf(EM["aarch64"]))
    with pytest.raises(LayerError, match=r"bin/python3\.12 is built for aarch64 \(64-bit\), not x86_64 \(--arch x86_64\)"):
        interp.interpreter_layer("3.12", Target("3.12", "x86_64"), folder)
    assert interp.interpreter_layer("3.12", Target("3.12", "arm64"), folder).machine == "aarch64"


def test_not_an_install_only_tree_or_not_elf(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(LayerError, match="not a CPython install_only tree"):
        interp.interpreter_layer("3.12", Target(), tmp_path / "empty")
    folder = fake_install(tmp_path / "script", "3.12", b"#!/bin/sh\nexec python3 \"$@\"\n" + b" " * 64)
    with pytest.raises(LayerError, match="not an ELF executable"):
        interp.interpreter_layer("3.12", Target(), folder)
    with pytest.raises(LayerError, match="no such file"):
        interp.interpreter_layer("3.12", Target(), tmp_path / "missing.tar.gz")
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(LayerError, match="not a readable tar archive|cannot read the archive"):
        interp.interpreter_layer("3.12", Target(), tmp_path / "junk.tar.gz")


def test_libraries_by_needed_and_a_non_relocatable_runpath_is_reported(tmp_path: Path) -> None:
    """lib/ keeps what the interpreter loads (a symlink stored as its target's bytes); an
    absolute RUNPATH would not find it in /opt, and the build says so."""
    folder = fake_install(tmp_path, "3.12", fake_elf(needed=("libpython3.12.so.1.0", "libc.so.6"),
                                                      runpath="/usr/local/python/lib"))
    lib = folder / "python" / "lib"
    (lib / "libpython3.12.so.1.0").write_bytes(fake_elf(needed=("libm.so.6",)))
    (lib / "libpython3.12.so").symlink_to("libpython3.12.so.1.0")
    (lib / "libpython3.so").write_bytes(fake_elf())
    (lib / "libtcl8.6.so").write_bytes(fake_elf())
    layer = interp.interpreter_layer("3.12", Target(), folder)
    names = {e.name for e in layer.entries}
    assert {n for n in names if n.count("/") == 2 and n.startswith("python/lib/")} == {
        "python/lib/libpython3.12.so.1.0"}
    assert "python/lib/python3.12/lib-dynload/.keep" in names  # sys.exec_prefix's landmark
    assert any("RUNPATH /usr/local/python/lib" in w and "not relocatable" in w for w in layer.warnings)
    (folder / "python" / "bin" / "python3.12").write_bytes(
        fake_elf(needed=("libpython3.12.so.1.0",), runpath="$ORIGIN/../lib"))
    assert not interp.interpreter_layer("3.12", Target(), folder).warnings


def test_a_version_other_than_the_functions_python_is_a_warning(tmp_path: Path) -> None:
    folder = fake_install(tmp_path, "3.13", fake_elf())
    layer = interp.interpreter_layer("3.13", Target("3.12", "x86_64"), folder)
    assert any("--python 3.13" in w for w in layer.warnings)


def test_scripts_exec_the_interpreter_beside_them(tmp_path: Path) -> None:
    folder = fake_install(tmp_path, "3.12", fake_elf())
    scripts = {e.name: e.read().decode() for e in interp.interpreter_layer("3.12", Target(), folder).entries
               if e.name in ("bin/python3", "python/bin/python3")}
    assert scripts["bin/python3"].startswith("#!/bin/sh\n")
    assert scripts["bin/python3"].endswith('exec "${0%/*}/../python/bin/python3.12" "$@"\n')
    assert scripts["python/bin/python3"].endswith('exec "${0%/*}/python3.12" "$@"\n')


def test_zst_archive_without_zstandard_says_what_to_install(tmp_path: Path) -> None:
    if sys.version_info >= (3, 14):
        pytest.skip("Python 3.14 reads zstd itself")
    if importlib.util.find_spec("zstandard") is not None:
        pytest.skip("zstandard is installed")
    path = tmp_path / "cpython.tar.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd")
    with pytest.raises(LayerError, match=r"pip install zstandard"):
        interp.interpreter_layer("3.12", Target(), path)


# -- downloading: pbs-installer stands in as a fake module, the URL is a file:// one ---------------


def tiny_tarball(path: Path) -> Path:
    folder = fake_install(path.parent / "tiny", "3.12", fake_elf())
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder / "python", "python")
    return path


@pytest.fixture
def fake_pbs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[types.SimpleNamespace]:
    """pbs_installer.get_download_link → a local install_only tarball and its SHA-256."""
    tarball = tiny_tarball(tmp_path / "cpython-3.12.9+20250101-x86_64-unknown-linux-gnu-install_only.tar.gz")
    state = types.SimpleNamespace(url=tarball.as_uri(), sha256=hashlib.sha256(tarball.read_bytes()).hexdigest(),
                                  calls=[])

    def get_download_link(request: str, arch: str, platform: str, build_dir: bool) -> tuple[object, tuple[str, str]]:
        state.calls.append((request, arch, platform, build_dir))
        return types.SimpleNamespace(major=3, minor=12, micro=9), (state.url, state.sha256)

    module = types.ModuleType("pbs_installer")
    module.get_download_link = get_download_link  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pbs_installer", module)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield state


def test_download_through_pbs_installer_checked_and_cached(fake_pbs: types.SimpleNamespace, tmp_path: Path) -> None:
    layer = interp.interpreter_layer("3.12", Target("3.12", "x86_64"))
    assert fake_pbs.calls == [("3.12", "x86_64", "linux", False)]
    assert layer.full_version == "3.12.9" and layer.origin == fake_pbs.url
    assert "python/bin/python3.12" in {e.name for e in layer.entries}
    cached = tmp_path / "cache" / "openruntime" / "interpreters" / unquote(fake_pbs.url.rsplit("/", 1)[-1])
    assert cached.is_file()
    fake_pbs.url = (tmp_path / "elsewhere" / cached.name).as_uri()  # in the cache, checksum right: no fetch
    assert interp.interpreter_layer("3.12", Target()).full_version == "3.12.9"


def test_a_bad_checksum_or_a_failed_download_is_one_clear_line(fake_pbs: types.SimpleNamespace, tmp_path: Path) -> None:
    fake_pbs.sha256 = "0" * 64
    with pytest.raises(LayerError) as bad:
        interp.interpreter_layer("3.12", Target())
    assert "SHA-256" in str(bad.value) and "\n" not in str(bad.value)
    assert not list((tmp_path / "cache" / "openruntime" / "interpreters").iterdir())  # no partial file left
    fake_pbs.url = (tmp_path / "cpython-3.12.9-x86_64-unknown-linux-gnu-install_only.tar.gz").as_uri()
    with pytest.raises(LayerError) as failed:
        interp.interpreter_layer("3.12", Target())
    message = str(failed.value)
    assert message.startswith("downloading CPython 3.12.9 from file://") and "--interpreter-archive" in message
    assert "\n" not in message


def test_without_pbs_installer_the_error_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pbs_installer", None)  # import fails
    with pytest.raises(LayerError, match=r"pip install 'openruntime\[interpreter\]'.*--interpreter-archive"):
        interp.interpreter_layer("3.12", Target())


def test_cli_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert layer_cli(["layer", "build", "--out", str(tmp_path), "--interpreter-archive", "x.tar.gz"]) == 1
    assert "--interpreter-archive needs --interpreter" in capsys.readouterr().err
    folder = fake_install(tmp_path / "py", "3.13", fake_elf())
    code = layer_cli(["layer", "build", "--out", str(tmp_path / "out"), "--source", str(tmp_path), "--runtime",
                      "none", "--interpreter", "3.12", "--interpreter-archive", str(folder), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and "holds CPython 3.13, not 3.12" in result["error"]


# -- a Node.js function on the layer stack -------------------------------------------------------

HANDLER = """\
exports.handler = async (event, context) => ({ handledBy: `node ${process.version}`, event });
"""
# Reports which interpreter runs it (a `#!/usr/bin/env python3` middleware, as the built-in
# ones are) and which runs the orchestrator, its parent.
PROBE = """\
#!/usr/bin/env python3
import json, os, sys
payload = json.load(sys.stdin)
payload["probe"] = {"executable": sys.executable, "prefix": sys.prefix, "exe": os.readlink("/proc/self/exe"),
                    "orchestrator": os.readlink(f"/proc/{os.getppid()}/exe"), "opt": os.environ["OPENRUNTIME_OPT"]}
json.dump(payload, sys.stdout)
"""
PIPELINE = """\
runtime:
  name: node
  handler: index.handler
  task_root: .
middlewares:
  - name: envelope
    hooks: [before, after]
  - name: probe
    command: ./probe
    hooks: [before]
"""


@pytest.fixture
def function(tmp_path: Path) -> Path:
    """A Node.js function with its pipeline, and `tools/`: the only commands on PATH (no Python)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    folder = tmp_path / "function"
    folder.mkdir()
    (folder / "index.js").write_text(HANDLER)
    (folder / "probe").write_text(PROBE)
    (folder / "probe").chmod(0o755)
    (folder / "pipeline.yml").write_text(PIPELINE)
    (folder / "event.json").write_text('{"name": "node"}')
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("sh", "env", "dirname", "readlink", "node"):
        found = shutil.which(tool)
        assert found is not None, tool
        (tools / tool).symlink_to(found)
    return folder


def check_node_answer(body: dict, opt: str) -> None:  # type: ignore[type-arg]
    """Handled by node, wrapped by the built-in Python middleware, and every Python was the layer's."""
    layer_python = os.path.realpath(f"{opt}/python/bin/python{V}")
    assert body["meta"]["wrappedBy"] == "envelope (python)"
    event = body["data"]["event"]
    assert body["data"]["handledBy"].startswith("node v") and event["name"] == "node"
    probe = event["probe"]
    assert probe["opt"] == opt
    assert probe["orchestrator"] == layer_python  # /proc/<pid>/exe of the orchestrator
    assert probe["exe"] == layer_python and probe["executable"] == f"{opt}/python/bin/python{V}"
    assert probe["prefix"] == f"{opt}/python"


@pytest.mark.slow
def test_node_function_through_invoke_with_the_layer_stack(dist: Path, function: Path) -> None:
    """`openruntime invoke --layer …` with no Python on PATH: /opt/bootstrap can only find the
    layer's, and the middlewares' `#!/usr/bin/env python3` finds the stack's bin/python3,
    which invoke puts last on the function's PATH as Lambda puts /opt/bin."""
    zips = [dist / name for name in ("openruntime-interpreter.zip", "openruntime-layer.zip",
                                     "openruntime-middlewares.zip", "openruntime-runtime-node.zip")]
    assert inspect_stack(zips).ok
    env = {**clean_env(), "PATH": str(function.parent / "tools")}
    done = subprocess.run(
        [os.path.realpath(sys.executable), "-m", "openruntime", "invoke",
         *[a for z in zips for a in ("--layer", str(z))], "--pipeline", "pipeline.yml", "--event", "event.json"],
        cwd=function, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    body = json.loads(done.stdout)
    check_node_answer(body, body["data"]["event"]["probe"]["opt"])


@pytest.mark.slow
def test_node_function_with_lambdas_path_order(dist: Path, function: Path, tmp_path: Path) -> None:
    """The same stack as Lambda runs it: /opt/bin last on PATH, and nothing else has a Python,
    so the middlewares' `#!/usr/bin/env python3` finds the layer's bin/python3 script."""
    from openruntime.emulator.sandbox import Emulator, FunctionSettings

    zips = [dist / name for name in ("openruntime-interpreter.zip", "openruntime-layer.zip",
                                     "openruntime-middlewares.zip", "openruntime-runtime-node.zip")]
    root = extract_stack(zips, tmp_path / "opt")
    env = {"PATH": f"{function.parent / 'tools'}:{root / 'bin'}", "OPENRUNTIME_OPT": str(root),
           "OPENRUNTIME_PIPELINE": str(function / "pipeline.yml")}
    with Emulator(command=[str(root / "bootstrap")], cwd=function, env=env, inherit_env=False,
                  function=FunctionSettings(handler="index.handler", timeout_s=60)) as emu:
        result = emu.invoke(b'{"name": "node"}')
    assert result.status == 200 and result.function_error is None, result.body
    check_node_answer(json.loads(result.body), str(root))



# -- deploy/sam-node: the example function, as each of its two Lambda functions runs it ------------

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "sam-node"


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["nodejs22.x", "provided.al2023"])
def test_deploy_example_on_the_layer_stack(dist: Path, function: Path, tmp_path: Path, variant: str) -> None:
    """nodejs22.x: the managed runtime runs /opt/openruntime-wrapper with its command line
    (`node index.cjs` of runtimes/node stands in for /var/runtime/index.mjs); provided.al2023:
    /opt/bootstrap with the node runtime layer, node standing in for the Node.js layer's
    /opt/bin/node. No Python on PATH but the layer's /opt/bin, last, as on Lambda."""
    from openruntime.emulator.sandbox import Emulator, FunctionSettings

    names = ["openruntime-interpreter.zip", "openruntime-layer.zip", "openruntime-middlewares.zip"]
    if variant == "provided.al2023":
        names.append("openruntime-runtime-node.zip")
    root = extract_stack([dist / n for n in names], tmp_path / "opt")
    node = str(function.parent / "tools" / "node")
    env = {"PATH": f"{function.parent / 'tools'}:{root / 'bin'}", "OPENRUNTIME_OPT": str(root)}
    if variant == "nodejs22.x":
        command = [str(root / "openruntime-wrapper"), node, str(DEPLOY.parents[1] / "runtimes" / "node" / "index.cjs")]
    else:
        command, env["OPENRUNTIME_NODE"] = [str(root / "bootstrap")], node
    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr, Emulator(
            command=command, cwd=DEPLOY / "function", env=env, inherit_env=False, child_stderr=stderr,
            function=FunctionSettings(handler="index.handler", timeout_s=60)) as emu:
        result = emu.invoke(b'{"name": "sam-node"}')
    assert result.status == 200 and result.function_error is None, (result.body, log.read_text()[-3000:])
    body = json.loads(result.body)
    assert body["meta"]["wrappedBy"] == "envelope (python)"
    assert body["data"]["message"].startswith("Hello from Node.js") and body["data"]["event"]["name"] == "sam-node"
    assert '"middleware":"log","hook":"before"' in log.read_text()  # the log middleware ran


@pytest.mark.slow
@pytest.mark.skipif(SAM is None, reason="the AWS SAM CLI is not installed (pip install aws-sam-cli, "
                    "or OPENRUNTIME_SAM=/path/to/sam)")
def test_deploy_template_validates_and_builds(dist: Path, tmp_path: Path) -> None:
    """`sam validate --lint` and `sam build` on a copy of deploy/sam-node with the built zips
    where the template expects them (dist/layers beside deploy/)."""
    shutil.copytree(DEPLOY, tmp_path / "deploy" / "sam-node")
    shutil.copytree(dist, tmp_path / "dist" / "layers")
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    assert SAM is not None
    for command in ([SAM, "validate", "--lint", "-t", "template.yaml"],
                    [SAM, "build", "-t", "template.yaml", "--build-dir", str(tmp_path / "build")]):
        done = subprocess.run(command, cwd=tmp_path / "deploy" / "sam-node", capture_output=True, text=True,
                              env=env, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    for function in ("NodeFunction", "NodeProvidedFunction"):
        assert sorted(p.name for p in (tmp_path / "build" / function).iterdir()) == ["index.mjs", "pipeline.yml"]


if __name__ == "__main__":
    print(host_cpython_archive(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("cpython-host.tar.gz")))
