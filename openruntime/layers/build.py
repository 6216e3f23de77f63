"""Assemble openruntime's layer zips.

- `openruntime-layer.zip`: `bootstrap` and `openruntime-wrapper` at the root, the
  openruntime package and its pure-Python dependencies under `python/` with their
  bytecode (`__pycache__`, for the Python that builds), and the compiled `pipeline.json`
  when a pipeline is given;
- `openruntime-middlewares.zip`: `middlewares/` (executables and SDK libs), with bytecode
  for their Python modules, and the Python distributions the middlewares declare in their
  `requirements.txt` under `middlewares/lib/site-packages/` (compiled ones from the
  target's wheels);
- `openruntime-runtime-<name>.zip`: one per bundled runtime, `runtimes/<name>/`, with
  bytecode for its Python modules (the Python runtime's).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from openruntime.layers.bytecode import COMPILE_COST, compile_sources, compiler_for
from openruntime.layers.collect import tree_entries
from openruntime.layers.errors import LayerError
from openruntime.layers.limits import (
    MAX_LAYERS,
    MAX_UNZIPPED_BYTES,
    MAX_ZIPPED_DIRECT_UPLOAD_BYTES,
    human_size,
)
from openruntime.layers.target import Target
from openruntime.layers.vendor import NOT_IMPORTED, VendorResult, canonical, vendor, vendor_distributions
from openruntime.layers.zipbuild import ZipEntry, write_zip

TYPE_CHECKING = False
if TYPE_CHECKING:
    from openruntime.config import Pipeline

ORCHESTRATOR_ZIP = "openruntime-layer.zip"
MIDDLEWARES_ZIP = "openruntime-middlewares.zip"
ENTRY_SCRIPTS = ("bootstrap", "openruntime-wrapper")
# Where the middlewares' own Python dependencies go; their executables put it on sys.path.
MIDDLEWARES_SITE = "middlewares/lib/site-packages"
SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "layer_scripts"


def runtime_zip_name(name: str) -> str:
    return f"openruntime-runtime-{name}.zip"


@dataclass(frozen=True)
class LayerArtifact:
    """One layer zip that `layer build` wrote, with its sizes."""

    kind: str  # "orchestrator", "middlewares", "runtime" or "interpreter"
    name: str
    path: Path
    entries: int
    zipped_bytes: int
    unzipped_bytes: int


@dataclass
class BuildReport:
    """What `layer build` made, what it vendored, and what it has to say about it."""

    layers: list[LayerArtifact] = field(default_factory=list)
    distributions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    without_bytecode: list[str] = field(default_factory=list)  # layers whose Python files ship as source


def default_source_root() -> Path:
    """Where the bundled middlewares/ and runtimes/ are: the installed package's own copy
    (wheel), the checkout it runs from (editable), else the current directory."""
    from openruntime.locate import bundle_root

    return bundle_root() or Path.cwd()


def layer_pipeline(path: Path, report: BuildReport) -> Pipeline:
    """The pipeline as the layer carries it: validated now (errors name file, line, field),
    with what meant one thing next to the pipeline file and another in /opt said or fixed."""
    from openruntime.config import load_pipeline
    from openruntime.errors import ConfigError

    try:
        pipeline = load_pipeline(path)
    except ConfigError as exc:
        raise LayerError(str(exc)) from None
    task_root = pipeline.runtime.task_root
    if task_root and os.path.normpath(task_root) == ".":
        # "The pipeline's own folder": the function's code, which on Lambda is
        # $LAMBDA_TASK_ROOT (the default), not the layer's /opt.
        report.notes.append(f"{path}: runtime.task_root ({task_root}) is the pipeline's folder, the function's "
                            "code; pipeline.json leaves it out, so the runtime runs in $LAMBDA_TASK_ROOT")
        pipeline = pipeline.replace(runtime=pipeline.runtime.replace(task_root=None))
    elif task_root and not os.path.isabs(task_root):
        report.warnings.append(f"{path}: runtime.task_root ({task_root}) is kept in pipeline.json; in the layer a "
                               "relative path resolves against /opt, not the function code in /var/task")
    return pipeline


def compile_pipeline(pipeline: Pipeline) -> bytes:
    text = pipeline.to_json()
    return text.encode("utf-8") if text.endswith("\n") else (text + "\n").encode("utf-8")


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


def bytecode_entries(
    entries: Sequence[ZipEntry], report: BuildReport, target: Target, under: str = "python/",
    layer: str = "orchestrator",
) -> list[ZipEntry]:
    """`__pycache__/NAME.TAG.pyc` for every `.py` entry below `under`, compiled by the
    target's Python (bytecode.py says why it matters and how it is made); none, and a note
    saying what that costs, when that Python is not on this machine."""
    sources = [(e.name, e.read()) for e in entries if e.name.startswith(under) and e.name.endswith(".py")]
    if not sources:
        return []
    python = compiler_for(target)
    if python is None:
        report.without_bytecode.append(layer)
        return []
    compiled = compile_sources(sources, python, target)
    report.notes.append(f"{layer} layer: bytecode for {len(compiled)} of {len(sources)} Python files, "
                        f"compiled by Python {target.python} ({target.cache_tag})")
    result = []
    for name, data in compiled:
        folder, file = name.rsplit("/", 1)
        result.append(ZipEntry(f"{folder}/__pycache__/{file[:-3]}.{target.cache_tag}.pyc", data=data))
    return result


def orchestrator_entries(pipeline: Path | None, report: BuildReport, target: Target) -> list[ZipEntry]:
    entries = [ZipEntry(name, source=SCRIPTS_DIR / name, executable=True) for name in ENTRY_SCRIPTS]
    for e in entries:
        if e.source is None or not e.source.is_file():
            raise LayerError(f"layer script missing: {e.source}")
    vendored = vendor("python", target=target)
    entries.extend(vendored.entries)
    report.distributions = vendored.distributions
    report_vendored(vendored, report, target, "the layer")
    entries.extend(bytecode_entries(entries, report, target))
    if pipeline is not None:
        compiled = layer_pipeline(pipeline, report)
        entries.append(ZipEntry("pipeline.json", data=compile_pipeline(compiled)))
        prestart = prestart_script(compiled)
        if prestart is not None:
            entries.append(ZipEntry("prestart", data=prestart))
    return entries


# Bundled runtimes /opt/bootstrap may start before the orchestrator: the ones that wait for
# its plan before running anything of the function (runtimes/python: prestart.py), and can
# take it whole (environment, folder, a session of their own). Node.js has no setsid().
PRESTART_RUNTIMES = ("python",)


def prestart_script(pipeline: Pipeline) -> bytes | None:
    """The `prestart` file for /opt/bootstrap (docs/layers.md, "The runtime first"): the
    runtime and handler of the compiled pipeline, when /opt/bootstrap can start that runtime
    itself, before any Python runs; None when it cannot (not the bundled python runtime)
    and the orchestrator starts it as before."""
    runtime = pipeline.runtime
    if runtime.name not in PRESTART_RUNTIMES or runtime.command:
        return None
    lines = [
        "# Written by `openruntime layer build` from pipeline.json, read by /opt/bootstrap: the",
        "# runtime it starts before Python (docs/layers.md, \"The runtime first\"). It waits for",
        "# the orchestrator's plan, which it gets only if it runs the command the plan says.",
        f"prestart_runtime={_sh_quote(runtime.name)}",
        f"prestart_handler={_sh_quote(runtime.handler or '')}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def report_vendored(vendored: VendorResult, report: BuildReport, target: Target, layer: str) -> None:
    """What vendoring left out or took from the target's wheels, as notes and warnings."""
    for name, files in sorted(vendored.not_imported.items()):
        report.notes.append(f"{name}: left out {', '.join(files)}: {NOT_IMPORTED[canonical(name)]}")
    for name, wheel in sorted(vendored.target_wheels.items()):
        report.notes.append(f"{name} has compiled parts: vendored from {wheel}, built for {target}")
    for name, files in sorted(vendored.compiled_skipped.items()):
        why = vendored.fetch_errors.get(name, "")
        report.warnings.append(
            f"{name} is not pure Python and its wheel for {target} could not be had ({why}): left out "
            f"{', '.join(files)}"
            + " (check that it works without them)")
    if vendored.missing:
        report.warnings.append(f"dependencies not installed here, so not in {layer}: "
                               + ", ".join(vendored.missing))


def middleware_requirements(src: Path) -> list[str]:
    """The Python requirements the middlewares declare, one per line of `NAME/requirements.txt`."""
    requirements: list[str] = []
    for path in sorted(src.glob("*/requirements.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            requirement = line.split("#", 1)[0].strip()
            if requirement and requirement not in requirements:
                requirements.append(requirement)
    return requirements


def build_orchestrator_layer(
    out_dir: Path, report: BuildReport, target: Target, pipeline: Path | None = None
) -> LayerArtifact:
    entries = orchestrator_entries(pipeline, report, target)
    return _write("orchestrator", "openruntime", entries, out_dir / ORCHESTRATOR_ZIP, report)


def build_middlewares_layer(src: Path, out_dir: Path, report: BuildReport, target: Target) -> LayerArtifact:
    entries = tree_entries(src, "middlewares")
    requirements = middleware_requirements(src)
    if requirements:
        vendored = vendor_distributions(MIDDLEWARES_SITE, requirements, target)
        entries.extend(vendored.entries)
        report_vendored(vendored, report, target, "the middlewares layer")
    entries.extend(bytecode_entries(entries, report, target, "middlewares/", "middlewares"))
    return _write("middlewares", "middlewares", entries, out_dir / MIDDLEWARES_ZIP, report)


def build_runtime_layer(src: Path, out_dir: Path, report: BuildReport, target: Target) -> LayerArtifact:
    name = src.name
    if not (src / "bootstrap").is_file():
        raise LayerError(f"{src}: a bundled runtime needs a bootstrap file")
    entries = tree_entries(src, f"runtimes/{name}", force_executable=["bootstrap"])
    entries.extend(bytecode_entries(entries, report, target, f"runtimes/{name}/", f"runtime-{name}"))
    return _write("runtime", name, entries, out_dir / runtime_zip_name(name), report)


def build_interpreter_layer(
    out_dir: Path, report: BuildReport, target: Target, version: str, archive: Path | None = None
) -> LayerArtifact:
    """openruntime-interpreter.zip: a relocatable CPython `version` (see layers/interpreter.py)."""
    from openruntime.layers.interpreter import INTERPRETER_ZIP, interpreter_layer

    layer = interpreter_layer(version, target, archive)
    report.notes.extend(layer.notes)
    report.warnings.extend(layer.warnings)
    return _write("interpreter", f"python{version}", layer.entries, out_dir / INTERPRETER_ZIP, report)


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
    target: Target | None = None,
    interpreter: str | None = None,
    interpreter_archive: Path | None = None,
) -> BuildReport:
    """Build every layer into `out_dir` for `target` (default: Python 3.12 on x86_64).
    `runtimes=None` builds all bundled runtimes. With `interpreter` ("3.12"), also the
    interpreter layer, from `interpreter_archive` or downloaded."""
    root = source_root if source_root is not None else default_source_root()
    target = target if target is not None else Target()
    report = BuildReport()
    if interpreter is not None:  # first: it is first in the stack, and a failed download fails fast
        build_interpreter_layer(out_dir, report, target, interpreter, interpreter_archive)
    build_orchestrator_layer(out_dir, report, target, pipeline)
    if (root / "middlewares").is_dir():
        build_middlewares_layer(root / "middlewares", out_dir, report, target)
    else:
        report.warnings.append(f"{root / 'middlewares'}: not found, no middlewares layer built")
    names = bundled_runtimes(root) if runtimes is None else list(runtimes)
    for name in names:
        src = root / "runtimes" / name
        if not src.is_dir():
            have = ", ".join(bundled_runtimes(root)) or "none"
            raise LayerError(f"{src}: no such bundled runtime (have: {have})")
        build_runtime_layer(src, out_dir, report, target)
    if report.without_bytecode:
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        report.warnings.append(
            f"no bytecode in the {', '.join(report.without_bytecode)} layer(s): Python {target.python} "
            f"(the target) is not on this machine (this is {here}), and another version's bytecode would "
            f"be ignored there. Lambda's /opt is read-only, so every cold start compiles what it imports "
            f"from source: {COMPILE_COST}. Put python{target.python} on PATH and build again, or build with "
            f"--python {here} for a function on Python {here}")
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
