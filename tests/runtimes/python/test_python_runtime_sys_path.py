"""sys.path as the managed Python runtime builds it: task root, then the layers' dirs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from openruntime_python_runtime import main as runtime_main

SITE_PACKAGES = f"/opt/python/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"


@pytest.fixture
def saved_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


def test_task_root_first_then_layer_dirs(saved_sys_path: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_isdir = os.path.isdir
    monkeypatch.setattr(os.path, "isdir", lambda p: p in (SITE_PACKAGES, "/opt/python") or real_isdir(p))
    sys.path[:0] = ["", runtime_main.RUNTIME_ROOT, "/opt/python"]
    runtime_main.setup_sys_path(str(tmp_path))
    assert sys.path[:3] == [str(tmp_path), SITE_PACKAGES, "/opt/python"]
    assert sys.path.count("/opt/python") == 1
    assert "" not in sys.path
    assert runtime_main.RUNTIME_ROOT not in sys.path


def test_layer_dirs_only_when_present(saved_sys_path: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_isdir = os.path.isdir
    monkeypatch.setattr(os.path, "isdir", lambda p: False if p.startswith("/opt/python") else real_isdir(p))
    runtime_main.setup_sys_path(str(tmp_path))
    assert sys.path[0] == str(tmp_path)
    assert not any(p.startswith("/opt/python") for p in sys.path)


def test_pth_files_in_the_task_root_are_processed(saved_sys_path: None, tmp_path: Path) -> None:
    extra = tmp_path / "vendor"
    extra.mkdir()
    (tmp_path / "vendored.pth").write_text("vendor\n")
    runtime_main.setup_sys_path(str(tmp_path))
    assert sys.path[0] == str(tmp_path)
    assert str(extra) in sys.path
