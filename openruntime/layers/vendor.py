"""Copy openruntime and what it needs on Lambda into the orchestrator layer.

The orchestrator layer carries them under `python/` (→ `/opt/python`), so the layer works
on `provided.al2023` and under a managed runtime without a pip step. Pure-Python files come
from each installed distribution's RECORD (importlib.metadata), so only what pip installed
is copied. A distribution with compiled extension modules was built for this machine, not
for Lambda's architecture and Python version: it comes as the target's manylinux wheel
instead (wheels.py), or, offline, without its compiled part. PyYAML's libyaml binding is
the exception, left out on purpose (NOT_IMPORTED says why).
"""

from __future__ import annotations

import importlib.metadata as md
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from openruntime.layers.collect import tree_entries
from openruntime.layers.errors import LayerError
from openruntime.layers.target import Target
from openruntime.layers.wheels import fetch_wheel, wheel_entries
from openruntime.layers.zipbuild import ZipEntry

# What the orchestrator imports on Lambda: PyYAML, for a pipeline.yml in the function's code
# (a compiled pipeline.json needs nothing). The CLI's own tools (the emulator's clients,
# the layer builder) are not the layer's business.
LAYER_REQUIREMENTS: tuple[str, ...] = ("pyyaml>=6",)
# Compiled parts of a dependency that the orchestrator never imports, and why: they are
# left out rather than fetched for the target.
NOT_IMPORTED: dict[str, str] = {
    "pyyaml": "the orchestrator parses with the pure-Python SafeLoader: libyaml's composer recurses "
              "on the C stack, so a deeply nested pipeline file would crash the process instead of "
              "failing with file:line, and `import yaml` costs the same with or without it",
}
# Parts of the package that only the tools use (emulator, layer builder, scaffolds, the
# wheel's bundled runtimes and middlewares, which have layers of their own). The CLI
# skips a command whose module is missing.
TOOL_ONLY: tuple[str, ...] = (
    "_bundled", "layers", "init_templates", "events", "emulator", "cli/bench.py", "cli/layer.py", "cli/init.py",
    "cli/events.py",
)
# Lambda's Python runtimes we support: a conditional dependency needed by any of them is
# vendored, whatever Python runs the build.
TARGET_PYTHONS: tuple[str, ...] = ("3.11", "3.12", "3.13", "3.14")
_COMPILED = re.compile(r"\.(so|pyd|dylib|dll)(\.[0-9.]+)?$")  # foo.cpython-311-x86_64-linux-gnu.so, libx.so.1
# Install bookkeeping that differs per machine (direct_url.json holds a local path).
_SKIPPED_METADATA = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


@dataclass
class VendorResult:
    """What vendoring the orchestrator's dependencies into its layer gave, and what it left out."""

    entries: list[ZipEntry] = field(default_factory=list)
    distributions: list[str] = field(default_factory=list)  # "name==version", sorted
    compiled_skipped: dict[str, list[str]] = field(default_factory=dict)
    not_imported: dict[str, list[str]] = field(default_factory=dict)  # compiled, left out by design
    fetch_errors: dict[str, str] = field(default_factory=dict)  # why the target's wheel was not had
    target_wheels: dict[str, str] = field(default_factory=dict)  # distribution -> wheel file used
    missing: list[str] = field(default_factory=list)


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _needed(requirement: str) -> str | None:
    """Project name of a requirement that applies on Lambda, or None (extras, old Pythons)."""
    try:  # installed with cloudevents (via deprecation); only the build needs it
        from packaging.requirements import Requirement
    except ImportError:
        raise LayerError("building a layer needs the 'packaging' distribution") from None

    req = Requirement(requirement)
    if req.marker is not None:
        envs = [
            {"python_version": v, "python_full_version": f"{v}.0", "sys_platform": "linux",
             "platform_system": "Linux", "os_name": "posix",
             "platform_python_implementation": "CPython", "implementation_name": "cpython",
             "extra": ""}
            for v in TARGET_PYTHONS
        ]
        if not any(req.marker.evaluate(env) for env in envs):
            return None
    return req.name


def resolve(requirements: Iterable[str]) -> tuple[list[md.Distribution], list[str]]:
    """Installed distributions in the dependency closure of `requirements`, and missing names."""
    queue = [n for r in requirements if (n := _needed(r))]
    seen: dict[str, md.Distribution] = {}
    missing: list[str] = []
    while queue:
        name = canonical(queue.pop())
        if name in seen or name in missing or name == "openruntime":
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            missing.append(name)
            continue
        seen[name] = dist
        queue.extend(n for r in dist.requires or () if (n := _needed(r)))
    return [seen[k] for k in sorted(seen)], sorted(missing)


def _is_editable(dist: md.Distribution) -> bool:
    try:
        info = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return False
    return bool(isinstance(info, dict) and info.get("dir_info", {}).get("editable"))


def dist_entries(dist: md.Distribution, prefix: str) -> tuple[list[ZipEntry], list[str]]:
    """Entries for one distribution's installed files, and the compiled files skipped."""
    name = dist.metadata["Name"]
    if dist.files is None:
        raise LayerError(f"{name}: installed without a RECORD file; cannot tell its files")
    if _is_editable(dist):
        raise LayerError(f"{name}: installed in editable mode; install it normally to vendor it")
    entries: list[ZipEntry] = []
    compiled: list[str] = []
    for rel in dist.files:
        parts = rel.parts
        if not parts or parts[0] == ".." or "__pycache__" in parts:
            continue  # scripts in bin/, byte-code caches
        text = rel.as_posix()
        if len(parts) == 1 and not text.endswith(".py"):
            continue  # a wheel's stray top-level README/CHANGELOG would clash in /opt/python
        if text.endswith((".pyc", ".pyo", ".pth")) or (
            parts[0].endswith(".dist-info") and parts[-1] in _SKIPPED_METADATA
        ):
            continue
        if _COMPILED.search(parts[-1]):
            compiled.append(text)
            continue
        src = Path(str(dist.locate_file(rel)))
        if not src.is_file():
            continue  # listed in RECORD but removed since; nothing to copy
        entries.append(ZipEntry(f"{prefix}/{text}", source=src))
    return entries, compiled


def package_entries(prefix: str) -> list[ZipEntry]:
    """The openruntime package itself, from its source tree (works for editable installs),
    less what only the tools use."""
    import openruntime

    package = Path(openruntime.__file__).resolve().parent
    entries = tree_entries(package, f"{prefix}/openruntime")
    files = {f"{prefix}/openruntime/{name}" for name in TOOL_ONLY}
    folders = tuple(f"{name}/" for name in files)
    return [e for e in entries if e.name not in files and not e.name.startswith(folders)]


def vendor(
    prefix: str = "python", requirements: Sequence[str] | None = None, target: Target | None = None
) -> VendorResult:
    """openruntime plus the closure of its requirements, as entries under `prefix/`.

    A pure-Python distribution is copied as installed here. One with compiled files comes
    as `target`'s wheel (fetched, or from the cache); without a target, or when the wheel
    cannot be had, its compiled files are left out and the result says which and why.
    """
    result = vendor_distributions(prefix, LAYER_REQUIREMENTS if requirements is None else requirements, target)
    result.entries[:0] = package_entries(prefix)
    return result


def vendor_distributions(prefix: str, requirements: Sequence[str], target: Target | None = None) -> VendorResult:
    """The closure of `requirements` (installed here) as entries under `prefix/`, without
    openruntime itself: compiled distributions as `target`'s wheels, as `vendor` says."""
    result = VendorResult()
    dists, result.missing = resolve(requirements)
    for dist in dists:
        entries, compiled = dist_entries(dist, prefix)
        name = dist.metadata["Name"]
        result.distributions.append(f"{name}=={dist.version}")
        if compiled and canonical(name) in NOT_IMPORTED:
            result.not_imported[name], compiled = compiled, []
        elif compiled and target is not None:
            try:
                wheel = fetch_wheel(name, dist.version, target)
            except LayerError as exc:
                result.fetch_errors[name] = str(exc)
            else:
                entries, compiled = wheel_entries(wheel, prefix), []
                result.target_wheels[name] = wheel.name
        result.entries.extend(entries)
        if compiled:
            result.compiled_skipped[name] = compiled
    return result
