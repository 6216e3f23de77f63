"""Assemble openruntime's layer zips.

- `openruntime-layer.zip`: `bootstrap` and `openruntime-wrapper` at the root, the
  openruntime package and its pure-Python dependencies under `python/` with their
  bytecode (`__pycache__`, for the Python that builds), and the compiled `pipeline.json`
  when a pipeline is given;
- `openruntime-middlewares.zip`: `middlewares/` (executables and SDK libs), with bytecode
  for their Python modules;
- `openruntime-runtime-<name>.zip`: one per bundled runtime, `runtimes/<name>/`, with
  bytecode for its Python modules (the Python runtime's).
"""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from openruntime.layers.collect import tree_entries
from openruntime.layers.errors import LayerError
from openruntime.layers.limits import (
    MAX_LAYERS,
    MAX_UNZIPPED_BYTES,
    MAX_ZIPPED_DIRECT_UPLOAD_BYTES,
    human_size,
)
from openruntime.layers.vendor import vendor
from openruntime.layers.zipbuild import ZipEntry, write_zip

ORCHESTRATOR_ZIP = "openruntime-layer.zip"
MIDDLEWARES_ZIP = "openruntime-middlewares.zip"
ENTRY_SCRIPTS = ("bootstrap", "openruntime-wrapper")
SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "layer_scripts"


def runtime_zip_name(name: str) -> str:
    return f"openruntime-runtime-{name}.zip"


@dataclass(frozen=True)
class LayerArtifact:
    kind: str  # "orchestrator", "middlewares" or "runtime"
    name: str
    path: Path
    entries: int
    zipped_bytes: int
    unzipped_bytes: int


@dataclass
class BuildReport:
    layers: list[LayerArtifact] = field(default_factory=list)
    distributions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def default_source_root() -> Path:
    """The project checkout that holds middlewares/ and runtimes/.

    They are not part of the Python package, so a source checkout is needed: the one this
    module lives in, else the current directory.
    """
    repo = Path(__file__).resolve().parents[2]
    if (repo / "middlewares").is_dir() or (repo / "runtimes").is_dir():
        return repo
    return Path.cwd()


def compile_pipeline(path: Path) -> bytes:
    """Validate the pipeline file now (errors name file, line, field) and return its JSON."""
    from openruntime.config import ConfigError, load_pipeline

    try:
        pipeline = load_pipeline(path)
    except ConfigError as exc:
        raise LayerError(str(exc)) from None
    text = pipeline.to_json()
    return text.encode("utf-8") if text.endswith("\n") else (text + "\n").encode("utf-8")


def pipeline_warnings(path: Path) -> list[str]:
    """Settings that meant one thing next to the pipeline file and another in /opt."""
    from openruntime.config import load_pipeline

    runtime = load_pipeline(path).runtime
    if runtime.task_root:
        return [f"{path}: runtime.task_root ({runtime.task_root}) is kept in pipeline.json; "
                "in the layer a relative path resolves against /opt, not the function code in /var/task"]
    return []


def _check_size(artifact: LayerArtifact, report: BuildReport) -> None:
    if artifact.unzipped_bytes > MAX_UNZIPPED_BYTES:
        raise LayerError(
            f"{artifact.path.name} unzips to {human_size(artifact.unzipped_bytes)}: over Lambda's "
            f"{human_size(MAX_UNZIPPED_BYTES)} limit for function code and all layers together")
    if artifact.zipped_bytes > MAX_ZIPPED_DIRECT_UPLOAD_BYTES:
        report.warnings.append(
            f"{artifact.path.name} is {human_size(artifact.zipped_bytes)} zipped: over the "
            f"{human_size(MAX_ZIPPED_DIRECT_UPLOAD_BYTES)} direct-upload limit; upload it through S3")


def _write(kind: str, name: str, entries: list[ZipEntry], out: Path, report: BuildReport) -> LayerArtifact:
    stats = write_zip(entries, out)
    artifact = LayerArtifact(kind, name, stats.path, stats.entries, stats.zipped_bytes,
                             stats.unzipped_bytes)
    _check_size(artifact, report)
    report.layers.append(artifact)
    return artifact


# Run in a fresh interpreter with a fixed hash seed: frozenset constants are marshalled in
# hash order, and marshal's back-references follow reference counts, so only a process in
# the same state for every build gives byte-identical .pyc files (and reproducible zips).
_COMPILER = r"""
import os, pickle, py_compile, sys, tempfile
items = pickle.load(sys.stdin.buffer)
done = []
with tempfile.TemporaryDirectory() as tmp:
    source, compiled = os.path.join(tmp, "m.py"), os.path.join(tmp, "m.pyc")
    for name, data in items:
        with open(source, "wb") as f:
            f.write(data)
        try:
            py_compile.compile(source, cfile=compiled, dfile="/opt/" + name, doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        except py_compile.PyCompileError:
            continue  # not valid for this Python: left to compile (and fail) where it runs
        with open(compiled, "rb") as f:
            done.append((name, f.read()))
pickle.dump((sys.implementation.cache_tag, done), sys.stdout.buffer)
"""
_compiled_cache: dict[bytes, tuple[str | None, list[tuple[str, bytes]]]] = {}


def bytecode_entries(
    entries: Sequence[ZipEntry], report: BuildReport, under: str = "python/", layer: str = "orchestrator"
) -> list[ZipEntry]:
    """`__pycache__/NAME.TAG.pyc` for every `.py` entry below `under`: the orchestrator's
    packages, the Python runtime, the middlewares' Python modules (their SDK, helpers).

    Lambda's /opt is read-only, so without them every cold start compiles what it imports
    (~20 ms for the orchestrator, more for a YAML pipeline's PyYAML). Unchecked-hash .pyc:
    the interpreter uses them without comparing them to the source, which /opt cannot
    change anyway (and the zip's fixed timestamps would defeat a timestamp check). They
    are this interpreter's bytecode (its cache tag, e.g. cpython-312): another Python
    version ignores them and compiles as before.
    """
    sources = [(e.name, e.read()) for e in entries if e.name.startswith(under) and e.name.endswith(".py")]
    if not sources:
        return []
    key = hashlib.sha256(pickle.dumps(sources)).digest()
    if key not in _compiled_cache:
        done = subprocess.run(
            [sys.executable, "-S", "-c", _COMPILER], input=pickle.dumps(sources), capture_output=True,
            env={"PYTHONHASHSEED": "0"}, check=False,
        )
        if done.returncode != 0:
            raise LayerError(f"compiling the layer's Python files failed: {done.stderr.decode(errors='replace')[-2000:]}")
        _compiled_cache[key] = pickle.loads(done.stdout)
    tag, compiled = _compiled_cache[key]
    if tag is None:  # an implementation without bytecode caching
        return []
    report.notes.append(
        f"{layer} layer: bytecode for {len(compiled)} of {len(sources)} Python files, compiled by Python "
        f"{sys.version_info.major}.{sys.version_info.minor} ({tag}): used when the function runs that "
        "version; another one compiles them at each cold start")
    result = []
    for name, data in compiled:
        folder, file = name.rsplit("/", 1)
        result.append(ZipEntry(f"{folder}/__pycache__/{file[:-3]}.{tag}.pyc", data=data))
    return result


def orchestrator_entries(pipeline: Path | None, report: BuildReport) -> list[ZipEntry]:
    entries = [ZipEntry(name, source=SCRIPTS_DIR / name, executable=True) for name in ENTRY_SCRIPTS]
    for e in entries:
        if e.source is None or not e.source.is_file():
            raise LayerError(f"layer script missing: {e.source}")
    vendored = vendor("python")
    entries.extend(vendored.entries)
    report.distributions = vendored.distributions
    for name, files in sorted(vendored.compiled_skipped.items()):
        report.notes.append(
            f"{name} is not pure Python: left out {', '.join(files)}"
            + (" (PyYAML falls back to its pure-Python code)" if name.lower() == "pyyaml" else
               " (check that it works without them)"))
    if vendored.missing:
        report.warnings.append("dependencies not installed here, so not in the layer: "
                               + ", ".join(vendored.missing))
    entries.extend(bytecode_entries(entries, report))
    if pipeline is not None:
        entries.append(ZipEntry("pipeline.json", data=compile_pipeline(pipeline)))
        report.warnings.extend(pipeline_warnings(pipeline))
    return entries


def build_orchestrator_layer(
    out_dir: Path, report: BuildReport, pipeline: Path | None = None
) -> LayerArtifact:
    entries = orchestrator_entries(pipeline, report)
    return _write("orchestrator", "openruntime", entries, out_dir / ORCHESTRATOR_ZIP, report)


def build_middlewares_layer(src: Path, out_dir: Path, report: BuildReport) -> LayerArtifact:
    entries = tree_entries(src, "middlewares")
    entries.extend(bytecode_entries(entries, report, "middlewares/", "middlewares"))
    return _write("middlewares", "middlewares", entries, out_dir / MIDDLEWARES_ZIP, report)


def build_runtime_layer(src: Path, out_dir: Path, report: BuildReport) -> LayerArtifact:
    name = src.name
    if not (src / "bootstrap").is_file():
        raise LayerError(f"{src}: a bundled runtime needs a bootstrap file")
    entries = tree_entries(src, f"runtimes/{name}", force_executable=["bootstrap"])
    entries.extend(bytecode_entries(entries, report, f"runtimes/{name}/", f"runtime-{name}"))
    return _write("runtime", name, entries, out_dir / runtime_zip_name(name), report)


def bundled_runtimes(source_root: Path) -> list[str]:
    base = source_root / "runtimes"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and (p / "bootstrap").is_file())


def build_layers(
    out_dir: Path,
    *,
    pipeline: Path | None = None,
    source_root: Path | None = None,
    runtimes: Sequence[str] | None = None,
) -> BuildReport:
    """Build every layer into `out_dir`. `runtimes=None` builds all bundled runtimes."""
    root = source_root if source_root is not None else default_source_root()
    report = BuildReport()
    build_orchestrator_layer(out_dir, report, pipeline)
    if (root / "middlewares").is_dir():
        build_middlewares_layer(root / "middlewares", out_dir, report)
    else:
        report.warnings.append(f"{root / 'middlewares'}: not found, no middlewares layer built")
    names = bundled_runtimes(root) if runtimes is None else list(runtimes)
    for name in names:
        src = root / "runtimes" / name
        if not src.is_dir():
            have = ", ".join(bundled_runtimes(root)) or "none"
            raise LayerError(f"{src}: no such bundled runtime (have: {have})")
        build_runtime_layer(src, out_dir, report)
    total = sum(a.unzipped_bytes for a in report.layers)
    if total > MAX_UNZIPPED_BYTES:
        report.warnings.append(
            f"all layers together unzip to {human_size(total)}: a function can use them all "
            f"only within {human_size(MAX_UNZIPPED_BYTES)} (and at most {MAX_LAYERS} layers)")
    return report


def pack_directory(src: Path, out: Path, *, include_node_modules: bool = False) -> BuildReport:
    """Zip a directory that mirrors /opt (e.g. a third-party `middlewares/<name>/<name>`)."""
    report = BuildReport()
    entries = tree_entries(src, "", include_node_modules=include_node_modules)
    if not entries:
        raise LayerError(f"{src}: no files to pack")
    _write("custom", out.stem, entries, out, report)
    return report
