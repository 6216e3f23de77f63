import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIDDLEWARES = HERE.parents[2] / "middlewares"
# The middleware's importable package (aws_idempotency) lives beside its executable, and
# the SDK in lib/python, as the executable finds them; aws_fixtures (AWS event samples,
# persistent-mode driver, pipeline files) is in tests/middlewares.
sys.path[:0] = [str(MIDDLEWARES / "idempotency"), str(MIDDLEWARES / "lib" / "python"), str(HERE.parent), str(HERE)]

from idempotency_support import dynamodb, moto_server  # noqa: E402,F401  (fixtures)
