"""Errors that name the field at fault, for both directions."""

from __future__ import annotations


class InvalidRequestError(ValueError):
    """An HTTP-shaped event that breaks its source's shape."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        where = f"field '{field}' " if field else ""
        super().__init__(f"invalid {source} event: {where}{problem}")


class InvalidResponseError(ValueError):
    """A handler response that cannot become the source's response."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        where = f"field '{field}' " if field else ""
        super().__init__(f"invalid handler response: {where}{problem}")
