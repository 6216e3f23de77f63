"""Read a layer zip into checked members, refusing archives that could escape /opt.

Shared by `inspect` (simulation) and `extract` (real files), so both refuse the same
things: `..` parts, absolute or drive-letter names, backslashes, symlinks whose target
leaves the opt root, special files, encrypted entries and duplicate entries.
"""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from openruntime.layers.errors import LayerError

OPT = "/opt"
Kind = Literal["file", "dir", "symlink"]
_DRIVE = re.compile(r"^[A-Za-z]:")


class HostileZipError(LayerError):
    """The archive contains an entry that Lambda or a local extraction must not unpack."""

    def __init__(self, zip_path: Path, entry: str, why: str) -> None:
        super().__init__(f"{zip_path}: refusing entry {entry!r}: {why}")
        self.zip_path = zip_path
        self.entry = entry
        self.why = why


@dataclass(frozen=True)
class Member:
    """One entry of a layer zip, as extraction will treat it."""

    name: str  # normalised, relative to the opt root, no trailing slash
    kind: Kind
    mode: int | None  # permission bits from the Unix attributes; None when none are stored
    size: int  # declared uncompressed size
    link_target: str | None  # for symlinks: the target as stored
    link_resolved: str | None  # for symlinks: the target relative to the opt root
    info: zipfile.ZipInfo

    @property
    def executable(self) -> bool:
        """Executable by Lambda's non-root sandbox user (the 'other' x bit)."""
        return self.mode is not None and bool(self.mode & 0o001)

    @property
    def world_readable(self) -> bool:
        return self.mode is None or bool(self.mode & 0o004)


@dataclass(frozen=True)
class Layer:
    """A layer zip that was read and checked: its path and members."""

    path: Path
    members: tuple[Member, ...]

    @property
    def label(self) -> str:
        return self.path.name

    @property
    def unzipped_bytes(self) -> int:
        return sum(m.size for m in self.members)


def normalise(zip_path: Path, raw: str) -> str:
    """Entry name relative to the opt root, or HostileZipError."""
    if "\x00" in raw:
        raise HostileZipError(zip_path, raw, "NUL byte in the name")
    if "\\" in raw:
        raise HostileZipError(zip_path, raw, "backslash in the name (Windows path?)")
    if raw.startswith("/") or _DRIVE.match(raw):
        raise HostileZipError(zip_path, raw, "absolute path")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise HostileZipError(zip_path, raw, "'..' in the path (zip slip)")
    if not parts:
        raise HostileZipError(zip_path, raw, "empty name")
    return "/".join(parts)


def resolve_link(zip_path: Path, name: str, target: str) -> str:
    """Lexically resolve a symlink target to a path relative to the opt root.

    An absolute target is accepted only inside /opt; a relative one only if it does not
    climb above the opt root. Chains through other symlinks are checked where the whole
    stack is known (inspect's merged view, extract's real files).
    """
    if not target or "\x00" in target:
        raise HostileZipError(zip_path, name, "empty symlink target")
    if target.startswith("/"):
        if target != OPT and not target.startswith(OPT + "/"):
            raise HostileZipError(zip_path, name, f"symlink points outside {OPT}: {target}")
        parts: list[str] = []
        pending = target[len(OPT):].split("/")
    else:
        parts = name.split("/")[:-1]
        pending = target.split("/")
    for p in pending:
        if p in ("", "."):
            continue
        if p == "..":
            if not parts:
                raise HostileZipError(zip_path, name, f"symlink points outside {OPT}: {target}")
            parts.pop()
        else:
            parts.append(p)
    return "/".join(parts)


def _kind(zip_path: Path, info: zipfile.ZipInfo) -> tuple[Kind, int | None]:
    unix = info.external_attr >> 16 if info.create_system == 3 else 0
    if unix == 0:  # no Unix attributes: the name alone tells a directory
        return ("dir" if info.filename.endswith("/") else "file"), None
    fmt = stat.S_IFMT(unix)
    perms = stat.S_IMODE(unix)
    if fmt == stat.S_IFLNK:
        return "symlink", perms
    if fmt == stat.S_IFDIR or info.filename.endswith("/"):
        return "dir", perms
    if fmt in (stat.S_IFREG, 0):
        return "file", perms
    raise HostileZipError(zip_path, info.filename, f"special file (mode {oct(unix)})")


def read_layer(path: Path) -> Layer:
    """Read and check every entry of a layer zip; the first problem raises."""
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise LayerError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise LayerError(f"{path}: not a readable zip file ({exc})") from None
    members: list[Member] = []
    seen: dict[str, Kind] = {}
    with zf:
        for info in zf.infolist():
            name = normalise(path, info.filename)
            if info.flag_bits & 0x1:
                raise HostileZipError(path, info.filename, "encrypted entry")
            kind, mode = _kind(path, info)
            if name in seen:
                raise HostileZipError(path, info.filename, "duplicate entry")
            seen[name] = kind
            target = resolved = None
            if kind == "symlink":
                target = zf.read(info).decode("utf-8", "surrogateescape")
                resolved = resolve_link(path, name, target)
            members.append(Member(name, kind, mode, info.file_size, target, resolved, info))
    for m in members:  # a file that is also used as a directory: unpacking is undefined
        parts = m.name.split("/")
        for i in range(1, len(parts)):
            if seen.get("/".join(parts[:i]), "dir") == "file":
                raise HostileZipError(path, m.info.filename, f"{'/'.join(parts[:i])!r} is a file")
    return Layer(path, tuple(members))
