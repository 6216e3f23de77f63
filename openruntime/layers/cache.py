"""Where layer builds keep what they download, so that a rebuild works offline."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(kind: str) -> Path:
    """`$XDG_CACHE_HOME/openruntime/<kind>` (default `~/.cache/openruntime/<kind>`)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "openruntime" / kind
