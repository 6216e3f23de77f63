import sys
from pathlib import Path

# The middleware's importable package (aws_cloudevents) lives beside its executable.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "middlewares" / "cloudevents"))
