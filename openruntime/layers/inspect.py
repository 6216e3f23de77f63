"""Simulate a function's layer stack the way Lambda builds /opt, and report what goes wrong.

Layers are extracted into /opt in the order given; folders merge, and a path present in
several layers ends up with the last layer's copy. The report lists every overwritten
path with the layers that had it (last one wins), entry points without run bits, and the
5-layer and 250 MB unzipped limits.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from openruntime.layers.archive import OPT, Layer, Member, read_layer
from openruntime.layers.errors import LayerError
from openruntime.layers.limits import MAX_LAYERS, MAX_UNZIPPED_BYTES, human_size

Level = Literal["error", "warning"]
# Files under middlewares/ that are documentation or data, not middleware executables.
_NOT_MIDDLEWARE_SUFFIXES = (".md", ".txt", ".rst", ".json", ".yml", ".yaml", ".toml", ".lock")
_NOT_MIDDLEWARE_NAMES = ("lib", "README", "LICENSE", "NOTICE", "package.json")
_MAX_LINK_HOPS = 40


@dataclass(frozen=True)
class Finding:
    """One thing `layer inspect` found about a stack (an error, a warning or a note)."""

    level: Level
    code: str
    message: str
    path: str | None = None
    layer: str | None = None


@dataclass(frozen=True)
class Overwrite:
    """A path that several layers of a stack hold: the last one wins, as on Lambda."""

    path: str
    layers: list[str]  # every layer that has the path, in extraction order

    @property
    def winner(self) -> str:
        return self.layers[-1]


@dataclass(frozen=True)
class LayerSummary:
    """One layer of an inspected stack: its position, name and size."""

    position: int
    label: str
    path: str
    entries: int
    unzipped_bytes: int


@dataclass
class StackReport:
    """`layer inspect`'s answer: the layers, what they overwrite, and the findings."""

    layers: list[LayerSummary] = field(default_factory=list)
    overwrites: list[Overwrite] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unzipped_bytes: int = 0

    @property
    def ok(self) -> bool:
        return not any(f.level == "error" for f in self.findings)

    def to_json(self) -> str:
        data = asdict(self)
        for o in data["overwrites"]:
            o["winner"] = o["layers"][-1]
        data["ok"] = self.ok
        data["limits"] = {"max_layers": MAX_LAYERS, "max_unzipped_bytes": MAX_UNZIPPED_BYTES}
        return json.dumps(data, indent=2)


@dataclass
class _Slot:
    member: Member
    layer: str
    history: list[str]


def _entry_points(view: dict[str, _Slot]) -> list[str]:
    """Paths that Lambda or the orchestrator executes, present in the merged view."""
    names = ["bootstrap", "openruntime-wrapper"]
    for path in view:
        parts = path.split("/")
        extension = parts[0] == "extensions" and len(parts) == 2  # Lambda starts every one
        runtime = parts[0] == "runtimes" and len(parts) == 3 and parts[2] == "bootstrap"
        if extension or runtime:
            names.append(path)
        elif parts[0] == "middlewares" and len(parts) in (2, 3):
            mw = parts[1]
            if mw.startswith(".") or mw in _NOT_MIDDLEWARE_NAMES or mw.endswith(_NOT_MIDDLEWARE_SUFFIXES):
                continue
            if len(parts) == 2 or parts[2] == mw:  # middlewares/<name> or middlewares/<name>/<name>
                names.append(path)
    return sorted(n for n in set(names) if n in view)


def _resolve(view: dict[str, _Slot], start: str) -> Member | None:
    """Follow symlinks through the merged view; None when a chain leaves /opt or loops."""
    parts: list[str] = []
    pending = start.split("/")
    hops = 0
    while pending:
        p = pending.pop(0)
        if p in ("", "."):
            continue
        if p == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(p)
        slot = view.get("/".join(parts))
        if slot is not None and slot.member.kind == "symlink":
            hops += 1
            if hops > _MAX_LINK_HOPS:
                return None
            # Follow the raw target from the link's real folder: `..` after a link must
            # climb from where the link points, not from where it sits.
            target = slot.member.link_target or ""
            parts.pop()
            if target.startswith("/"):
                parts, target = [], target[len(OPT):]
            pending = target.split("/") + pending
    slot = view.get("/".join(parts))
    return slot.member if slot else None


def _implied_dir(name: str) -> Member:
    return Member(name, "dir", None, 0, None, None, zipfile.ZipInfo(name + "/"))


def _merge(layers: Sequence[Layer], report: StackReport) -> dict[str, _Slot]:
    view: dict[str, _Slot] = {}
    reported: set[tuple[str, str]] = set()
    for layer in layers:
        for m in layer.members:
            parts = m.name.split("/")
            for i in range(1, len(parts)):  # parents are directories even without an entry
                parent = "/".join(parts[:i])
                slot = view.get(parent)
                if slot is None:
                    view[parent] = _Slot(_implied_dir(parent), layer.label, [layer.label])
                elif slot.member.kind == "file" and (parent, layer.label) not in reported:
                    reported.add((parent, layer.label))
                    report.findings.append(Finding(
                        "error", "type-conflict",
                        f"{parent} is a file in {slot.layer} but a directory in {layer.label}",
                        parent, layer.label))
                elif slot.member.kind == "dir" and slot.history[-1] != layer.label:
                    slot.history.append(layer.label)
            old = view.get(m.name)
            if old is None:
                view[m.name] = _Slot(m, layer.label, [layer.label])
            elif m.kind == "dir" and old.member.kind == "dir":
                if old.history[-1] != layer.label:
                    old.history.append(layer.label)  # folders merge: nothing is overwritten
            elif (m.kind == "dir") != (old.member.kind == "dir"):
                report.findings.append(Finding(
                    "error", "type-conflict",
                    f"{m.name} is a {old.member.kind} in {old.layer} but a {m.kind} in {layer.label}",
                    m.name, layer.label))
                view[m.name] = _Slot(m, layer.label, [*old.history, layer.label])
            else:
                view[m.name] = _Slot(m, layer.label, [*old.history, layer.label])
    return view


def _check_modes(view: dict[str, _Slot], report: StackReport) -> None:
    for path in _entry_points(view):
        slot = view[path]
        member = _resolve(view, path) if slot.member.kind == "symlink" else slot.member
        if member is None:
            report.findings.append(Finding(
                "error", "broken-symlink", f"{path}: symlink does not resolve inside /opt",
                path, slot.layer))
        elif member.kind == "dir":
            continue  # middlewares/<name>/ is a directory; its executable is checked by name
        elif not member.executable:
            mode = "no Unix mode stored" if member.mode is None else f"mode {member.mode:04o}"
            report.findings.append(Finding(
                "error", "not-executable",
                f"{path}: not executable by Lambda's sandbox user ({mode}; needs 0755)",
                path, slot.layer))
    for path, slot in sorted(view.items()):
        m = slot.member
        if m.kind == "file" and not m.world_readable:
            report.findings.append(Finding(
                "warning", "not-readable",
                f"{path}: mode {m.mode or 0:04o} is not world-readable; Lambda runs as a non-root user",
                path, slot.layer))
        if m.kind == "symlink" and _resolve(view, path) is None:
            report.findings.append(Finding(
                "warning", "dangling-symlink",
                f"{path} -> {m.link_target}: target missing, looping or outside /opt in this stack",
                path, slot.layer))


def inspect_stack(zips: Sequence[Path]) -> StackReport:
    """Simulate extracting `zips` into /opt in order. Hostile zips raise HostileZipError."""
    if not zips:
        raise LayerError("no layer zips given")
    layers = [read_layer(Path(z)) for z in zips]
    report = StackReport()
    for i, layer in enumerate(layers, 1):
        report.layers.append(LayerSummary(i, layer.label, str(layer.path), len(layer.members),
                                          layer.unzipped_bytes))
    report.unzipped_bytes = sum(layer.unzipped_bytes for layer in layers)
    labels = [layer.label for layer in layers]
    if len(set(labels)) != len(labels):
        report.findings.append(Finding(
            "warning", "same-name",
            "two layers have the same file name; the report tells them apart by position"))
    if len(layers) > MAX_LAYERS:
        report.findings.append(Finding(
            "error", "too-many-layers",
            f"{len(layers)} layers: Lambda allows at most {MAX_LAYERS} per function"))
    if report.unzipped_bytes > MAX_UNZIPPED_BYTES:
        report.findings.append(Finding(
            "error", "too-large",
            f"layers unzip to {human_size(report.unzipped_bytes)} ({report.unzipped_bytes} bytes): "
            f"Lambda allows {human_size(MAX_UNZIPPED_BYTES)} for function code and all layers together"))
    view = _merge(layers, report)
    report.overwrites = [
        Overwrite(path, slot.history)
        for path, slot in sorted(view.items())
        if slot.member.kind != "dir" and len(slot.history) > 1
    ]
    _check_modes(view, report)
    if "bootstrap" not in view:
        report.findings.append(Finding(
            "warning", "no-bootstrap",
            "no layer has a root bootstrap: provided.* runtimes then need one in the function code "
            "(a managed runtime with AWS_LAMBDA_EXEC_WRAPPER does not)"))
    return report


def format_report(report: StackReport) -> str:
    """Human-readable report."""
    lines = ["layer stack (extracted into /opt in this order; later layers win):"]
    width = max(len(s.label) for s in report.layers)
    for s in report.layers:
        size = human_size(s.unzipped_bytes)
        lines.append(f"  {s.position}. {s.label:<{width}}  {s.entries:>6} entries  {size:>9}")
    lines.append(
        f"unzipped total: {human_size(report.unzipped_bytes)} of {human_size(MAX_UNZIPPED_BYTES)} "
        f"(function code counts too); {len(report.layers)} of {MAX_LAYERS} layers")
    if report.overwrites:
        lines.append("")
        lines.append(f"overwritten paths ({len(report.overwrites)}):")
        for o in report.overwrites:
            chain = " -> ".join(o.layers)
            lines.append(f"  {o.path}: {chain}  (wins: {o.winner})")
    for level in ("error", "warning"):
        found = [f for f in report.findings if f.level == level]
        if found:
            lines.append("")
            lines.append(f"{level}s ({len(found)}):")
            lines.extend(f"  {f.message}" + (f"  [{f.layer}]" if f.layer else "") for f in found)
    lines.append("")
    lines.append("OK" if report.ok else "FAILED")
    return "\n".join(lines)
