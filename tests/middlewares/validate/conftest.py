import sys
from pathlib import Path

# The shared harness lives in tests/middlewares/sdk (no package __init__ in tests/).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))

from mw_harness import spawn  # noqa: E402,F401  (fixture)

# The validator's modules, for unit tests next to the end-to-end ones.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "middlewares" / "validate"))
