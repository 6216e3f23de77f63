"""Deterministic zip writing: same entries in, same bytes out.

Every entry gets a fixed timestamp, an explicit Unix mode and a fixed compression level,
and entries are written sorted by name with their parent directories made explicit.
`ZipFile.writestr()` alone would store mode 0o600, which Lambda cannot read (reference 0.9).
"""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from openruntime.layers.errors import LayerError

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 9
FILE_MODE = 0o644
EXEC_MODE = 0o755
DIR_MODE = 0o755
UNIX_SYSTEM = 3
_MSDOS_DIRECTORY = 0x10


@dataclass(frozen=True)
class ZipEntry:
    """One regular file of a layer: its archive name and where its bytes come from."""

    name: str
    source: Path | None = None
    data: bytes | None = None
    executable: bool = False

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.source is None:
            raise LayerError(f"zip entry {self.name!r} has neither data nor a source file")
        return self.source.read_bytes()

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.source is not None
        return self.source.stat().st_size


@dataclass(frozen=True)
class ZipStats:
    """A zip that was written: where, how many entries, and its sizes."""

    path: Path
    entries: int
    zipped_bytes: int
    unzipped_bytes: int


def check_name(name: str) -> str:
    """Archive names are relative, '/'-separated, without '.', '..' or empty parts."""
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
        raise LayerError(f"invalid archive name {name!r}")
    return name


def _parents(name: str) -> list[str]:
    parts = name.split("/")[:-1]
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def _file_info(entry: ZipEntry) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(entry.name, date_time=FIXED_DATE_TIME)
    info.create_system = UNIX_SYSTEM
    info.compress_type = zipfile.ZIP_DEFLATED
    mode = EXEC_MODE if entry.executable else FILE_MODE
    info.external_attr = (stat.S_IFREG | mode) << 16
    return info


def _dir_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
    info.create_system = UNIX_SYSTEM
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = ((stat.S_IFDIR | DIR_MODE) << 16) | _MSDOS_DIRECTORY
    return info


def write_zip(entries: Iterable[ZipEntry], out: Path) -> ZipStats:
    """Write `entries` to `out` deterministically (atomically: a partial zip never remains)."""
    by_name: dict[str, ZipEntry] = {}
    for entry in entries:
        check_name(entry.name)
        if entry.name in by_name:
            raise LayerError(f"{out.name}: two files would be stored as {entry.name!r}")
        by_name[entry.name] = entry
    dirs = {d for name in by_name for d in _parents(name)}
    clash = sorted(d[:-1] for d in dirs if d[:-1] in by_name)
    if clash:
        raise LayerError(f"{out.name}: {clash[0]!r} is both a file and a directory")

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    unzipped = 0
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            for name in sorted(dirs | set(by_name)):
                if name.endswith("/"):
                    zf.writestr(_dir_info(name), b"")
                    continue
                entry = by_name[name]
                data = entry.read()
                unzipped += len(data)
                zf.writestr(_file_info(entry), data, compresslevel=COMPRESS_LEVEL)
        os.chmod(tmp, 0o644)  # mkstemp creates 0o600; a built artifact is world-readable
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ZipStats(out, len(dirs) + len(by_name), out.stat().st_size, unzipped)
