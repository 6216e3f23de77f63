"""API Gateway v1/v2, ALB and Function URL events ⇄ one normalized HTTP request/response.

Which events are HTTP requests (`http_source`) and the field reads come from the shared
`aws_events` module in middlewares/lib/python, which the executable puts on sys.path
beside the SDK.
"""

import os
import sys
from importlib.util import find_spec

if find_spec("aws_events") is None:  # used as a plain library: find the shared module too
    sys.path.append(os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "lib", "python"))

from aws_events import HTTP_SOURCES as SOURCES  # noqa: E402
from aws_events import http_source  # noqa: E402

from .errors import InvalidRequestError, InvalidResponseError  # noqa: E402
from .failure import CLIENT_ERROR_TYPES, error_response  # noqa: E402
from .hooks import HookOutput, after, before, error  # noqa: E402
from .request import normalize  # noqa: E402
from .settings import ConfigError, Settings, settings_from  # noqa: E402

__all__ = [
    "CLIENT_ERROR_TYPES", "SOURCES", "ConfigError", "HookOutput", "InvalidRequestError", "InvalidResponseError",
    "Settings", "after", "before", "error", "error_response", "http_source", "normalize", "settings_from",
]
