"""Helpers for the layer tests: hand-crafted zips (including hostile ones)."""

from __future__ import annotations

import stat
import sys
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from openruntime.layers.target import Target

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "openruntime" / "layer_scripts"
# Layers built for the Python running the tests: their bytecode is the one checked here.
HOST = Target(f"{sys.version_info.major}.{sys.version_info.minor}", "x86_64")


@dataclass(frozen=True)
class Raw:
    """One entry written exactly as given: name, bytes, full Unix mode (type + bits)."""

    name: str
    data: bytes = b""
    mode: int = stat.S_IFREG | 0o644
    declared_size: int | None = None  # lie about the size in the central directory
    unix: bool = True


def file(name: str, data: bytes = b"x", mode: int = 0o644) -> Raw:
    return Raw(name, data, stat.S_IFREG | mode)


def exe(name: str, data: bytes = b"#!/bin/sh\necho hi\n") -> Raw:
    return Raw(name, data, stat.S_IFREG | 0o755)


def link(name: str, target: str) -> Raw:
    return Raw(name, target.encode(), stat.S_IFLNK | 0o777)


def craft_zip(path: Path, entries: list[Raw]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point of some tests
        with zipfile.ZipFile(path, "w") as zf:
            for raw in entries:
                info = zipfile.ZipInfo(raw.name, date_time=(2020, 1, 1, 0, 0, 0))
                if raw.unix:
                    info.create_system = 3
                    info.external_attr = raw.mode << 16
                else:
                    info.create_system = 0
                    info.external_attr = 0
                zf.writestr(info, raw.data)
                if raw.declared_size is not None:
                    info.file_size = raw.declared_size  # goes into the central directory
    return path


def modes(zip_path: Path) -> dict[str, int]:
    """Entry name → full Unix mode as stored."""
    with zipfile.ZipFile(zip_path) as zf:
        return {i.filename: i.external_attr >> 16 for i in zf.infolist()}
