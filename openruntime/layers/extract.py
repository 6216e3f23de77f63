"""Extract a layer stack into a local opt root, as Lambda does into /opt.

Used by `openruntime invoke --layer …` and `serve --layer …` to run exactly the stack a
function would get. All zips are checked before anything is written; while writing, no
path is ever followed out of the root (a symlink from an earlier layer could point a later
entry elsewhere); modes come from the zip entries, so missing run bits show up locally.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

from openruntime.layers.archive import OPT, Layer, Member, read_layer
from openruntime.layers.errors import LayerError
from openruntime.layers.limits import MAX_LAYERS, MAX_UNZIPPED_BYTES, human_size


def _inside(root: Path, path: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _parent_dir(root: Path, layer: Layer, m: Member) -> Path:
    """Real directory that will hold `m`, creating it; never leaves `root`."""
    cur = root
    for part in m.name.split("/")[:-1]:
        nxt = cur / part
        if nxt.is_symlink():
            nxt = nxt.resolve()
            if not _inside(root, nxt):
                raise LayerError(f"{layer.path}: entry {m.name!r} would be written outside the opt "
                                 f"root through the symlink {cur / part}")
        if not nxt.exists():
            nxt.mkdir(mode=0o755)
        elif not nxt.is_dir():
            raise LayerError(f"{layer.path}: entry {m.name!r} needs {part!r} to be a directory, "
                             "but an earlier layer made it a file")
        cur = nxt
    return cur


def _clear(target: Path, layer: Layer, m: Member) -> None:
    """Remove what an earlier layer put at `target` (later layers win), never a directory."""
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        raise LayerError(f"{layer.path}: entry {m.name!r} is a {m.kind}, but an earlier layer "
                         "made it a directory")


def _link_text(root: Path, link: Path, m: Member) -> str:
    """Target for the local symlink: /opt/... targets become relative to stay in the root."""
    assert m.link_target is not None and m.link_resolved is not None
    if not m.link_target.startswith(OPT):
        return m.link_target
    return os.path.relpath(root / m.link_resolved, link.parent)


def _extract_layer(root: Path, layer: Layer, dir_modes: dict[Path, int]) -> None:
    with zipfile.ZipFile(layer.path) as zf:
        for m in layer.members:
            parent = _parent_dir(root, layer, m)
            target = parent / m.name.rsplit("/", 1)[-1]
            if m.kind == "dir":
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    target.unlink()
                target.mkdir(mode=0o755, exist_ok=True)
                dir_modes[target] = m.mode if m.mode is not None else 0o755
            elif m.kind == "symlink":
                _clear(target, layer, m)
                os.symlink(_link_text(root, target, m), target)
            else:
                _clear(target, layer, m)
                with zf.open(m.info) as src, open(target, "xb") as dst:
                    shutil.copyfileobj(src, dst, 1024 * 1024)
                os.chmod(target, (m.mode if m.mode is not None else 0o644) & 0o777)


def _check_links(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink() and not _inside(root, path.resolve()):
                raise LayerError(f"{path.relative_to(root)}: symlink chain leads outside the opt root")


def extract_stack(zips: Sequence[Path], dest: Path, *, enforce_limits: bool = True) -> Path:
    """Extract `zips` in order into `dest` (created if needed) and return its resolved path.

    Later layers overwrite earlier files, like Lambda. Hostile entries raise before
    anything is written. With `enforce_limits`, stacks Lambda would refuse (more than 5
    layers, more than 250 MB unzipped) are refused too.
    """
    layers = [read_layer(Path(z)) for z in zips]
    if enforce_limits:
        if len(layers) > MAX_LAYERS:
            raise LayerError(f"{len(layers)} layers: Lambda allows at most {MAX_LAYERS} per function")
        total = sum(layer.unzipped_bytes for layer in layers)
        if total > MAX_UNZIPPED_BYTES:
            raise LayerError(f"layers unzip to {human_size(total)}: Lambda allows "
                             f"{human_size(MAX_UNZIPPED_BYTES)} for function code and all layers")
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    dir_modes: dict[Path, int] = {}
    for layer in layers:
        _extract_layer(root, layer, dir_modes)
    _check_links(root)
    # Directory modes last, so a read-only directory does not block later layers; the
    # owner keeps write access so the temp root can be removed.
    for path, mode in sorted(dir_modes.items(), reverse=True):
        os.chmod(path, (mode & 0o777) | 0o700)
    return root
