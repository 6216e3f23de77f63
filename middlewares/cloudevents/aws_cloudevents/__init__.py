"""AWS Lambda events → CloudEvents 1.0 (structured JSON), one module per source family."""

from .convert import (
    BATCH_CONTENT_TYPE,
    EVENT_CONTENT_TYPE,
    Conversion,
    convert,
    convert_event,
)
from .detect import detect
from .errors import InvalidEventError
from .options import Options, OptionsError

__all__ = [
    "BATCH_CONTENT_TYPE", "EVENT_CONTENT_TYPE", "Conversion", "InvalidEventError", "Options",
    "OptionsError", "convert", "convert_event", "detect",
]
