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
