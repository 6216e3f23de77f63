"""Turn a directory tree into zip entries, skipping build litter."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from pathlib import Path

from openruntime.layers.errors import LayerError
from openruntime.layers.zipbuild import ZipEntry

# Never part of a layer: caches are rebuilt (or unwritable: /opt is read-only) and VCS or
# editor files only add bytes. node_modules is opt-in because it is usually a dev install.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".git",
    ".hg",
    ".svn",
    ".DS_Store",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "*.egg-info",
    "*~",
    "*.swp",
)


def _excluded(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def tree_entries(
    src: Path,
    prefix: str,
    *,
    include_node_modules: bool = False,
    force_executable: Iterable[str] = (),
) -> list[ZipEntry]:
    """Entries for every file under `src`, stored as `prefix/<relative path>`.

    A file is executable in the zip when any x bit is set on disk, or when its relative
    path is in `force_executable` (entry points must run even after a checkout that lost
    the bit). Symlinks to files are stored as the file's content; symlinked directories
    are refused, since following them can loop or leave the tree.
    """
    if not src.is_dir():
        raise LayerError(f"{src}: not a directory")
    patterns = DEFAULT_EXCLUDES if include_node_modules else (*DEFAULT_EXCLUDES, "node_modules")
    forced = set(force_executable)
    prefix = prefix.strip("/")
    entries: list[ZipEntry] = []
    for dirpath, dirnames, filenames in os.walk(src):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not _excluded(d, patterns))
        for d in dirnames:
            if (here / d).is_symlink():
                raise LayerError(f"{here / d}: symlinked directories are not supported in layers")
        for f in sorted(filenames):
            if _excluded(f, patterns):
                continue
            path = here / f
            if not path.exists():
                raise LayerError(f"{path}: broken symlink")
            rel = path.relative_to(src).as_posix()
            executable = rel in forced or bool(path.stat().st_mode & 0o111)
            name = f"{prefix}/{rel}" if prefix else rel
            entries.append(ZipEntry(name, source=path, executable=executable))
    return entries
