"""API Gateway v1/v2, ALB and Function URL events ⇄ one normalized HTTP request/response."""

from .detect import SOURCES, http_source
from .errors import InvalidRequestError, InvalidResponseError
from .hooks import HookOutput, after, before
from .request import normalize

__all__ = [
    "SOURCES", "HookOutput", "InvalidRequestError", "InvalidResponseError", "after", "before",
    "http_source", "normalize",
]
