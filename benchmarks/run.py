#!/usr/bin/env python3
"""`python3 benchmarks/run.py [--quick] [--json]`: the same as `openruntime bench`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import main  # type: ignore[import-not-found]  # found through the path above

if __name__ == "__main__":
    raise SystemExit(main())
