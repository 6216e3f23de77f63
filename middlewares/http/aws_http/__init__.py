"""API Gateway v1/v2, ALB and Function URL events ⇄ one normalized HTTP request/response."""

from .detect import SOURCES, http_source
from .errors import InvalidRequestError, InvalidResponseError
from .failure import CLIENT_ERROR_TYPES, error_response
from .hooks import HookOutput, after, before, error
from .request import normalize

__all__ = [
    "CLIENT_ERROR_TYPES", "SOURCES", "HookOutput", "InvalidRequestError", "InvalidResponseError",
    "after", "before", "error", "error_response", "http_source", "normalize",
]
