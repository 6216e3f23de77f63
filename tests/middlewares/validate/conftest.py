import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIDDLEWARES = HERE.parents[2] / "middlewares"

# The shared harness lives in tests/middlewares/sdk (no package __init__ in tests/), and
# aws_fixtures, shared by the tests of the middlewares that read AWS events, one level up.
sys.path[:0] = [str(HERE.parent / "sdk"), str(HERE.parent)]

from mw_harness import spawn  # noqa: E402,F401  (fixture)

# The validator's modules, for unit tests next to the end-to-end ones, and the shared
# aws_events they import from lib/python, as the executable does.
sys.path[:0] = [str(MIDDLEWARES / "validate"), str(MIDDLEWARES / "lib" / "python")]
