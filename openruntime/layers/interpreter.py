"""The interpreter layer: a relocatable CPython for functions whose runtime has no Python.

The orchestrator and the Python middlewares need a Python >= 3.11. Managed python3.x
runtimes have one; Node.js, Java and provided.al2023 do not. `openruntime layer build
--interpreter 3.12 [--arch x86_64|arm64]` packs python-build-standalone's "install_only"
CPython (top folder `python/` holding `bin/python3.12`, `lib/python3.12/…` and, for shared
builds, `lib/libpython3.12.so.1.0`) into `openruntime-interpreter.zip`:

    python/bin/python3.12    the interpreter: /opt/python/bin/python3.12, where the bootstrap's
                             and the wrapper's discovery look first (judged by its name)
    python/bin/python3       sh script: exec python3.12 beside it
    python/lib/python3.12/   the standard library, trimmed; bytecode kept as unchecked-hash .pyc
    python/lib/lib*.so*      only the libraries the interpreter and its extension modules need
    bin/python3              sh script: exec /opt/python/bin/python3.12. /opt/bin is on
                             Lambda's PATH, so `#!/usr/bin/env python3` middlewares find it

Scripts rather than symlinks: not every tool that re-zips or copies a layer keeps a zip
symlink (and how Lambda treats them was not checked here); the `sh` hop costs about a
millisecond.

The archive is `--interpreter-archive` (a .tar.gz, a .tar.zst with `zstandard` installed,
or an unpacked folder) or is downloaded: pbs-installer (imported only then) names the
build and its SHA-256, and the file is kept in the user's cache. The archive must hold the
requested version, and its ELF files must be built for the target's machine.

Trimmed (nothing the orchestrator or a middleware imports): other executables, include/,
share/, pkg-config and Tcl/Tk files, the stdlib's test suites (`test/`, `*/tests/`,
`idle_test/`), idlelib, tkinter, turtle, turtledemo, ensurepip, lib2to3, pydoc_data, the
static library and Makefile in config-3.X-*/, the test extension modules, site-packages'
content (pip), and bytecode other than the plain `NAME.cpython-3X.pyc`.

Bytecode: /opt is read-only, so without .pyc every cold start compiles the stdlib modules
it imports. The archive's .pyc are timestamp-checked, and a layer does not keep
timestamps; they are rewritten as unchecked-hash .pyc (PEP 552), which the interpreter
uses without looking at the source's date.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import sys
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

import _imp

from openruntime.layers.archive import resolve_link
from openruntime.layers.cache import cache_dir
from openruntime.layers.elf import GLIBC, ElfInfo, read_elf
from openruntime.layers.errors import LayerError
from openruntime.layers.limits import human_size
from openruntime.layers.target import Target
from openruntime.layers.zipbuild import ZipEntry

INTERPRETER_ZIP = "openruntime-interpreter.zip"
PREFIX = "python/"  # the CPython tree's place in the layer: /opt/python
NO_PBS = ("downloading the interpreter needs pbs-installer (pip install 'openruntime[interpreter]'), or build offline "
          "with --interpreter-archive FILE (a python-build-standalone install_only .tar.gz or folder)")

# Standard-library top-level names no orchestrator or middleware imports: GUIs, the test
# suite, the pip bootstrapper, 2to3, the help() topics.
_STDLIB_DROPPED = frozenset({
    "test", "idlelib", "tkinter", "turtle.py", "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "__phello__",
})
_TEST_FOLDERS = frozenset({"test", "tests", "idle_test"})
# Extension modules of the test suite, the examples and Tkinter.
_DYNLOAD_DROPPED = ("_test", "_ctypes_test", "_xxtestfuzz", "xxlimited", "xxsubtype", "_tkinter")
_VERSION = re.compile(r"3\.\d+")
_PY_VERSION = re.compile(rb'#define\s+PY_VERSION\s+"([^"]+)"')


@dataclass
class InterpreterLayer:
    """What goes into openruntime-interpreter.zip, and what the build should say about it."""

    version: str  # "3.12"
    full_version: str | None  # "3.12.7", when the archive or the download says
    machine: str  # "x86_64" or "aarch64"
    origin: str  # the archive, or the URL it was downloaded from
    entries: list[ZipEntry]
    kept_bytes: int
    dropped_files: int
    dropped_bytes: int
    bytecode_files: int
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# -- reading an archive -----------------------------------------------------------------------


@dataclass
class _Node:
    """One file of the CPython tree, by its path below the archive's top folder."""

    mode: int = 0o644
    data: bytes | None = None  # a tar member's content
    path: Path | None = None  # a file in a folder archive
    link: str | None = None  # a symlink or hard link to another path of the tree

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        return self.path.stat().st_size if self.path is not None else 0


@dataclass
class _Tree:
    nodes: dict[str, _Node] = field(default_factory=dict)  # what may go into the layer
    seen: set[str] = field(default_factory=set)  # every file path, trimmed ones too
    total_files: int = 0
    total_bytes: int = 0
    full_version: str | None = None  # from include/python3.X/patchlevel.h


def trimmed(rel: str, version: str) -> bool:
    """Whether `rel` (a path below the archive's `python/` folder) is left out for certain.

    `bin/*` and the libraries at `lib/` are chosen later: only `bin/python3.X` and what it
    (and the kept extension modules) load go in.
    """
    parts = rel.split("/")
    if parts[0] == "bin":
        return len(parts) != 2
    if parts[0] != "lib" or len(parts) < 2:
        return True  # include/, share/, anything else
    if len(parts) == 2:
        return ".so" not in parts[1]  # libpython3.X.so.1.0 maybe; libpython3.X.a, pkgconfig never
    if parts[1] != f"python{version}":
        return True  # pkgconfig/, tcl8.6/, tk8.6/, another version's standard library
    std = parts[2:]
    first = std[0]
    if first in _STDLIB_DROPPED or first.startswith("config-"):
        return True
    if first == "site-packages":
        return std[1:] != ["README.txt"]
    if any(p in _TEST_FOLDERS for p in std[:-1]):
        return True
    name = std[-1]
    if first == "lib-dynload" and len(std) == 2:
        return name.startswith(_DYNLOAD_DROPPED)
    if len(std) >= 2 and std[-2] == "__pycache__":
        # Only the plain bytecode of this version (not .opt-1/.opt-2, not another cache tag).
        return not name.endswith(f".cpython-{version.replace('.', '')}.pyc")
    return False


def _link_target(rel: str, target: str) -> str | None:
    """A relative symlink target as a path of the tree; None when it leaves the tree."""
    if target.startswith("/"):
        return None
    try:
        return resolve_link(Path(rel), rel, target)  # lexically, as a layer's links are checked
    except LayerError:
        return None


def _version_from_patchlevel(data: bytes) -> str | None:
    match = _PY_VERSION.search(data)
    return match.group(1).decode("ascii", "replace") if match else None


def _open_tar(archive: Path) -> tuple[tarfile.TarFile, IO[bytes] | None]:
    """The archive as a streamed tar: gzip, bzip2, xz, or zstd through `zstandard`."""
    if archive.name.endswith((".zst", ".zstd")):
        if sys.version_info >= (3, 14):
            return tarfile.open(archive, "r|zst"), None
        try:
            zstandard: Any = importlib.import_module("zstandard")
        except ImportError:
            raise LayerError(f"{archive}: a .tar.zst needs zstandard (pip install zstandard); "
                             "python-build-standalone's install_only .tar.gz needs nothing") from None
        raw = archive.open("rb")
        try:
            return tarfile.open(fileobj=zstandard.ZstdDecompressor().stream_reader(raw), mode="r|"), raw
        except BaseException:
            raw.close()
            raise
    return tarfile.open(archive, "r|*"), None


def _read_tar(archive: Path, version: str) -> _Tree:
    tree = _Tree()
    try:
        tar, raw = _open_tar(archive)
    except (OSError, tarfile.TarError) as exc:
        raise LayerError(f"{archive}: not a readable tar archive ({exc})") from None
    top: str | None = None
    try:
        with tar:
            for member in tar:
                parts = [p for p in member.name.split("/") if p not in ("", ".")]
                if not parts or member.isdir():
                    continue
                if ".." in parts or member.name.startswith("/"):
                    raise LayerError(f"{archive}: refusing entry {member.name!r}: it leaves the archive's folder")
                if top is None:
                    top = parts[0]
                if parts[0] != top or len(parts) < 2:
                    raise LayerError(f"{archive}: expected one top folder (python/), found {parts[0]!r} "
                                     f"beside {top!r}")
                rel = "/".join(parts[1:])
                tree.seen.add(rel)
                if member.isfile():
                    tree.total_files += 1
                    tree.total_bytes += member.size
                if rel == f"include/python{version}/patchlevel.h" and member.isfile():
                    tree.full_version = _version_from_patchlevel(_member_bytes(tar, member))
                if trimmed(rel, version):
                    continue
                mode = member.mode & 0o777
                if member.issym():
                    tree.nodes[rel] = _Node(mode, link=_link_target(rel, member.linkname))
                elif member.islnk():
                    linked = [p for p in member.linkname.split("/") if p not in ("", ".")]
                    tree.nodes[rel] = _Node(mode, link="/".join(linked[1:]) if linked[:1] == [top] else None)
                elif member.isfile():
                    tree.nodes[rel] = _Node(mode, data=_member_bytes(tar, member))
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise LayerError(f"{archive}: cannot read the archive ({exc})") from None
    finally:
        if raw is not None:
            raw.close()
    return tree


def _member_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    f = tar.extractfile(member)
    assert f is not None
    with f:
        return f.read()


def _read_folder(folder: Path, version: str) -> _Tree:
    """An unpacked install: the folder holding bin/ and lib/, or the one holding python/."""
    root = folder / "python" if (folder / "python" / "bin").is_dir() else folder
    tree = _Tree()
    patchlevel = root / "include" / f"python{version}" / "patchlevel.h"
    if patchlevel.is_file():
        tree.full_version = _version_from_patchlevel(patchlevel.read_bytes())
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
        for name in filenames:
            path = here / name
            rel = path.relative_to(root).as_posix()
            tree.seen.add(rel)
            if not path.is_symlink():
                tree.total_files += 1
                tree.total_bytes += path.stat().st_size
            if trimmed(rel, version):
                continue
            if path.is_symlink():
                target = _link_target(rel, os.readlink(path))
                if target is not None:
                    tree.nodes[rel] = _Node(link=target)
                    continue
                if not path.is_file():
                    continue  # dangling
            tree.nodes[rel] = _Node(path.stat().st_mode & 0o777, path=path)
    return tree


def _resolve(tree: _Tree, rel: str) -> _Node | None:
    """The file `rel` stands for, through symlinks and hard links; None when dangling."""
    node = tree.nodes.get(rel)
    for _ in range(40):
        if node is None or node.link is None:
            return node
        node = tree.nodes.get(node.link)
    return None


# -- choosing and checking --------------------------------------------------------------------


def _versions_in(seen: set[str]) -> list[str]:
    found = {n[len("bin/python"):] for n in seen if n.startswith("bin/python3.")}
    found |= {n.split("/")[1][len("python"):] for n in seen if re.fullmatch(r"lib/python3\.\d+/os\.py", n)}
    return sorted(v for v in found if _VERSION.fullmatch(v))


def _check_elf(rel: str, data: bytes, target: Target, origin: str) -> ElfInfo | None:
    info = read_elf(data)
    if info is not None and (info.machine != target.machine or info.bits != 64):
        raise LayerError(
            f"{origin}: {rel} is built for {info.machine} ({info.bits}-bit), not {target.machine} "
            f"(--arch {target.arch}): use the {target.machine}-unknown-linux-gnu build")
    return info


def _unchecked_pyc(pyc: bytes, source: bytes) -> bytes | None:
    """The .pyc as an unchecked-hash .pyc (PEP 552); None when it is not a .pyc at all.

    The hash is the source's, keyed with the .pyc's own magic number as CPython does; it
    is not compared at import (unchecked), only with --check-hash-based-pycs always.
    """
    if len(pyc) < 16 or pyc[2:4] != b"\r\n":
        return None
    magic = pyc[:4]
    return magic + (1).to_bytes(4, "little") + _imp.source_hash(int.from_bytes(magic, "little"), source) + pyc[16:]


def _scripts(version: str) -> list[ZipEntry]:
    python = (f"#!/bin/sh\n# python3 of the openruntime interpreter layer: the CPython {version} beside it.\n"
              f'exec "${{0%/*}}/python{version}" "$@"\n')
    on_path = (f"#!/bin/sh\n# /opt/bin/python3 (on Lambda's PATH) of the openruntime interpreter layer: "
               f"/opt/python/bin/python{version}.\n"
               f'exec "${{0%/*}}/../python/bin/python{version}" "$@"\n')
    return [ZipEntry(f"{PREFIX}bin/python3", data=python.encode(), executable=True),
            ZipEntry("bin/python3", data=on_path.encode(), executable=True)]


def _select(tree: _Tree, version: str, target: Target, origin: str, layer: InterpreterLayer) -> None:
    """Fill `layer.entries` from the tree: checks, libraries by DT_NEEDED, bytecode."""
    binary = f"bin/python{version}"
    found = _versions_in(tree.seen)
    if binary not in tree.seen or f"lib/python{version}/os.py" not in tree.seen:
        if found and version not in found:
            raise LayerError(f"{origin}: holds CPython {', '.join(found)}, not {version} (--interpreter {version})")
        raise LayerError(f"{origin}: not a CPython install_only tree: no bin/python{version} with "
                         f"lib/python{version}/os.py below its top folder")
    node = _resolve(tree, binary)
    if node is None:
        raise LayerError(f"{origin}: {binary} is a link to nothing in the archive")
    data = node.read()
    info = _check_elf(binary, data, target, origin)
    if info is None:
        raise LayerError(f"{origin}: {binary} is not an ELF executable (a Linux build is needed)")
    chosen: dict[str, _Node] = {binary: node}
    elf: dict[str, ElfInfo] = {binary: info}
    for rel in sorted(tree.nodes):
        if rel.startswith("lib/python") and rel.endswith(".so"):
            module = _resolve(tree, rel)
            if module is None:
                continue
            module_info = _check_elf(rel, module.read(), target, origin)
            if module_info is not None:
                elf[rel] = module_info
            chosen[rel] = module
        elif rel.startswith(f"lib/python{version}/") and not rel.endswith(".pyc"):
            resolved = _resolve(tree, rel)
            if resolved is not None:
                chosen[rel] = resolved
    # The libraries at lib/ that something kept loads (libpython3.X.so.1.0), by their
    # NEEDED name: a symlink such as libpython3.X.so is stored as what it points to.
    pending = [n for i in elf.values() for n in i.needed]
    while pending:
        rel = f"lib/{pending.pop()}"
        if rel in chosen:
            continue
        lib = _resolve(tree, rel)
        if lib is None:
            continue  # a system library
        chosen[rel] = lib
        lib_info = _check_elf(rel, lib.read(), target, origin)
        if lib_info is not None:
            pending.extend(lib_info.needed)
    system: dict[str, list[str]] = {}
    for rel, i in sorted(elf.items()):
        for n in i.needed:
            if n not in GLIBC and f"lib/{n}" not in chosen:
                system.setdefault(n, []).append(rel.rsplit("/", 1)[-1])
    if system:
        layer.notes.append(
            "interpreter layer: loaded from the system, not from the layer (Lambda's image must have them, "
            "or the modules that need them fail to import): "
            + "; ".join(f"{n} (by {', '.join(users[:2])}{', …' if len(users) > 2 else ''})"
                        for n, users in sorted(system.items())))
    in_layer = [n for n in info.needed if f"lib/{n}" in chosen]
    if in_layer and not any(p.replace("${ORIGIN}", "$ORIGIN").startswith("$ORIGIN") for p in info.runpath):
        layer.warnings.append(
            f"{origin}: {binary} loads {', '.join(in_layer)} through RUNPATH "
            f"{':'.join(info.runpath) or '(none)'}, not from beside it ($ORIGIN/../lib): it is not "
            "relocatable and will not start from /opt (python-build-standalone builds are)")
    # Bytecode, rewritten to unchecked-hash: the layer cannot keep the timestamps it checks.
    for rel in sorted(tree.nodes):
        if not (rel.startswith(f"lib/python{version}/") and rel.endswith(".pyc")):
            continue
        folder, file = rel.rsplit("/", 1)
        source_rel = f"{folder.removesuffix('/__pycache__')}/{file.split('.')[0]}.py"
        pyc, source = _resolve(tree, rel), chosen.get(source_rel)
        if pyc is None or source is None:
            continue  # bytecode of a module that is not in the layer
        rewritten = _unchecked_pyc(pyc.read(), source.read())
        if rewritten is not None:
            chosen[rel] = _Node(0o644, data=rewritten)
            layer.bytecode_files += 1
    dynload = f"lib/python{version}/lib-dynload/"
    if not any(rel.startswith(dynload) for rel in chosen):
        # sys.exec_prefix is found by this folder: without it every start warns.
        chosen[f"{dynload}.keep"] = _Node(0o644, data=b"")
    for rel, node in sorted(chosen.items()):
        entry = ZipEntry(PREFIX + rel, data=node.data, source=node.path, executable=bool(node.mode & 0o111))
        layer.entries.append(entry)
        layer.kept_bytes += entry.size
    layer.entries.extend(_scripts(version))
    layer.dropped_files = tree.total_files - len(chosen)
    layer.dropped_bytes = max(tree.total_bytes - layer.kept_bytes, 0)


# -- downloading ------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _progress(text: str, end: bool = False) -> None:
    """On a terminal, one line that rewrites itself as the download goes (elsewhere the
    line said before it starts is all: a line per megabyte would flood a log)."""
    if sys.stderr.isatty():
        sys.stderr.write("\n" if end else f"\r{text}")
        sys.stderr.flush()


def download_interpreter(version: str, target: Target, cache: Path | None = None) -> tuple[Path, str, str]:
    """python-build-standalone's install_only CPython `version` for Linux on the target's
    machine: (the archive in the cache, its URL, its full version).

    pbs-installer knows every build and its SHA-256; the download itself is plain urllib
    (pbs-installer's own needs its optional HTTP extra), checked against that SHA-256.
    """
    try:
        pbs: Any = importlib.import_module("pbs_installer")
    except ImportError:
        raise LayerError(NO_PBS) from None
    try:
        found, (url, sha256) = pbs.get_download_link(version, arch=target.machine, platform="linux",
                                                     build_dir=False)
    except ValueError as exc:
        raise LayerError(f"pbs-installer knows no CPython {version} build for Linux {target.machine} ({exc}); "
                         "upgrade it (pip install -U pbs-installer) or use --interpreter-archive FILE") from None
    full = ".".join(str(getattr(found, part)) for part in ("major", "minor", "micro"))
    name = unquote(str(url).rsplit("/", 1)[-1])
    if "install_only" not in name:
        raise LayerError(f"pbs-installer offers {name} for CPython {full}, not an install_only build: "
                         "download one and pass it with --interpreter-archive FILE")
    folder = cache if cache is not None else cache_dir("interpreters")
    path = folder / name
    if path.is_file() and (not sha256 or _sha256(path) == sha256):
        return path, str(url), full
    part = path.with_name(f".{name}.{os.getpid()}.part")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        sys.stderr.write(f"layer build: downloading CPython {full} from {url} (once: cached in {folder})\n")
        with urllib.request.urlopen(str(url), timeout=60) as response, part.open("wb") as out:  # noqa: S310
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
                done += len(chunk)
                _progress(f"layer build: downloading CPython {full}: {done / 1e6:.0f}"
                          + (f" of {total / 1e6:.0f} MB" if total else " MB"))
            _progress("", end=True)
        if sha256 and _sha256(part) != sha256:
            raise LayerError(f"downloading {url} failed: its SHA-256 is not {sha256}")
        os.replace(part, path)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise LayerError(f"downloading CPython {full} from {url} failed ({' '.join(str(reason).split())}); "
                         "build offline with --interpreter-archive FILE") from None
    finally:
        part.unlink(missing_ok=True)
    return path, str(url), full


# -- the layer --------------------------------------------------------------------------------


def interpreter_layer(
    version: str, target: Target, archive: Path | None = None, *, cache: Path | None = None
) -> InterpreterLayer:
    """The interpreter layer's entries: CPython `version` for `target.arch`, from `archive`
    (a tarball or an unpacked folder) or downloaded with pbs-installer's index."""
    if not _VERSION.fullmatch(version):
        raise LayerError(f"--interpreter {version!r}: expected a version like 3.12")
    full: str | None = None
    if archive is None:
        archive, origin, full = download_interpreter(version, target, cache)
    else:
        origin = str(archive)
        if not archive.exists():
            raise LayerError(f"{archive}: no such file or folder")
    tree = _read_folder(archive, version) if archive.is_dir() else _read_tar(archive, version)
    layer = InterpreterLayer(version, full or tree.full_version, target.machine, origin, [], 0, 0, 0, 0)
    _select(tree, version, target, origin, layer)
    label = f"CPython {layer.full_version or version}"
    layer.notes.append(
        f"interpreter layer: {label} for {target.machine} from {origin}; kept {len(layer.entries)} files "
        f"({human_size(layer.kept_bytes)}), trimmed {layer.dropped_files} ({human_size(layer.dropped_bytes)}); "
        + (f"{layer.bytecode_files} stdlib .pyc kept as unchecked-hash" if layer.bytecode_files else
           "the archive has no stdlib bytecode: every cold start compiles the stdlib modules it imports "
           "(+120-180 ms to the orchestrator's, measured in docs/layers.md)"))
    if version != target.python:
        layer.warnings.append(
            f"the interpreter layer is Python {version} but the other layers are built for {target.python} "
            f"(--python): their bytecode and compiled dependencies are not used by {version}; "
            f"build them with --python {version}")
    return layer
