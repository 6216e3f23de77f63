"""Errors that name the field at fault, for both directions (shared base: aws_events)."""

from __future__ import annotations

from aws_events import FieldError, InvalidEventError


class InvalidRequestError(InvalidEventError):
    """An HTTP-shaped event that breaks its source's shape."""

    @property
    def source(self) -> str:
        return self.kind


class InvalidResponseError(FieldError):
    """A handler response that cannot become the source's response."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__("handler response", field, problem)


class FormError(ValueError):
    """A form body the middleware cannot read: answered with `status` (400 malformed,
    413 over a limit, 415 an unknown charset) in the source's shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
