"""AWS Lambda events → CloudEvents 1.0 (structured JSON), one module per source family.

Detection, field reads and InvalidEventError come from the shared `aws_events` module in
middlewares/lib/python, which the executable puts on sys.path beside the SDK.
"""

import os
import sys
from importlib.util import find_spec

if find_spec("aws_events") is None:  # used as a plain library: find the shared module too
    sys.path.append(os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "lib", "python"))

from aws_events import InvalidEventError, detect  # noqa: E402

from .convert import (  # noqa: E402
    BATCH_CONTENT_TYPE,
    EVENT_CONTENT_TYPE,
    Conversion,
    convert,
    convert_event,
)
from .options import Options, OptionsError  # noqa: E402

__all__ = [
    "BATCH_CONTENT_TYPE", "EVENT_CONTENT_TYPE", "Conversion", "InvalidEventError", "Options",
    "OptionsError", "convert", "convert_event", "detect",
]
