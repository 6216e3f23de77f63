"""Fixtures for the layer tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from layerzips import Raw, craft_zip


@pytest.fixture
def make_zip(tmp_path: Path) -> Callable[..., Path]:
    """make_zip("a.zip", file(...), exe(...), …) → path of a crafted zip in tmp_path."""

    def make(name: str, *entries: Raw) -> Path:
        return craft_zip(tmp_path / name, list(entries))

    return make
