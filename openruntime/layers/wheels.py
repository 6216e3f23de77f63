"""Fetch a distribution's wheel built for the target Lambda, the way `sam build` does.

A compiled dependency installed here was built for this machine's Python and
architecture; on Lambda it would not load. `pip download --platform … --python-version …
--only-binary=:all:` fetches the manylinux wheel for the target instead, and its files go
into the layer as the wheel has them. Downloaded wheels are kept in a cache
(`$XDG_CACHE_HOME/openruntime/wheels`), so a rebuild works offline.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from openruntime.layers.cache import cache_dir
from openruntime.layers.errors import LayerError
from openruntime.layers.target import Target
from openruntime.layers.zipbuild import ZipEntry

# A wheel's own bookkeeping that an installer would rewrite; the rest of .dist-info stays
# (METADATA, licences: importlib.metadata on Lambda reads them).
_SKIPPED = ("RECORD", "INSTALLER", "REQUESTED")
_FETCH_TIMEOUT_S = 180


def _cached(folder: Path, project: str, version: str, target: Target) -> Path | None:
    """A wheel in `folder` for this project, version and target, if one was fetched before."""
    stem = project.replace("-", "_").lower() + "-" + version + "-"
    abi = target.cache_tag.replace("cpython-", "cp")
    for wheel in sorted(folder.glob("*.whl")):
        name = wheel.name.lower()
        if name.startswith(stem) and (f"-{abi}-" in name or "-abi3-" in name) and target.machine in name:
            return wheel
    return None


def fetch_wheel(project: str, version: str, target: Target) -> Path:
    """The target's wheel of `project==version`, from the cache or from the package index."""
    folder = cache_dir("wheels") / f"{target.python}-{target.arch}"
    wheel = _cached(folder, project, version, target) if folder.is_dir() else None
    if wheel is not None:
        return wheel
    folder.mkdir(parents=True, exist_ok=True)
    abi = target.cache_tag.replace("cpython-", "cp")
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--implementation", "cp", "--python-version", target.python, "--abi", abi, "--abi", "abi3",
               *(a for p in target.platforms() for a in ("--platform", p)),
               "--dest", str(folder), f"{project}=={version}"]
    sys.stderr.write(f"layer build: fetching {project}=={version} for {target} (once: cached in {folder})\n")
    sys.stderr.flush()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_FETCH_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise LayerError(f"pip download {project}=={version} for {target}: no answer in {_FETCH_TIMEOUT_S} s") from None
    wheel = _cached(folder, project, version, target)
    if done.returncode != 0 or wheel is None:
        why = (done.stderr.strip().splitlines() or ["no wheel for that platform"])[-1]
        raise LayerError(f"pip download {project}=={version} for {target} failed: {why}")
    return wheel


def wheel_entries(wheel: Path, prefix: str) -> list[ZipEntry]:
    """The wheel's files as layer entries under `prefix/`, with their run bits."""
    entries = []
    try:
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                parts = info.filename.split("/")
                if info.is_dir() or "__pycache__" in parts:
                    continue
                if parts[0].endswith(".dist-info") and parts[-1] in _SKIPPED:
                    continue
                name = info.filename
                if parts[0].endswith(".data"):  # importable only under purelib/platlib
                    if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                        continue
                    name = "/".join(parts[2:])
                executable = bool((info.external_attr >> 16) & 0o111)
                entries.append(ZipEntry(f"{prefix}/{name}", data=zf.read(info), executable=executable))
    except (OSError, zipfile.BadZipFile) as exc:
        raise LayerError(f"{wheel}: not a readable wheel ({exc})") from None
    return entries
