import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIDDLEWARES = HERE.parents[2] / "middlewares"
# The middleware's importable package (aws_batch) lives beside its executable and imports
# the shared aws_events from lib/python, as the executable does; aws_fixtures, shared by
# the tests of the middlewares that read AWS events, is in tests/middlewares.
sys.path[:0] = [str(MIDDLEWARES / "batch"), str(MIDDLEWARES / "lib" / "python"), str(HERE.parent)]
