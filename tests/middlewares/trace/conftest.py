import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIDDLEWARES = HERE.parents[2] / "middlewares"
# The middleware's package (otel_spans) lives beside its executable, with the SDK and the
# shared modules in lib/python; the process harness in tests/middlewares/sdk;
# aws_fixtures in tests/middlewares.
sys.path[:0] = [str(MIDDLEWARES / "trace"), str(MIDDLEWARES / "lib" / "python"), str(HERE.parents[0] / "sdk"),
                str(HERE.parent)]
