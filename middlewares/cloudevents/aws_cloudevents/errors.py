"""The one error type the converters raise: it always names the offending field."""

from __future__ import annotations


class InvalidEventError(ValueError):
    """An event that looks like a known AWS source but breaks that source's shape."""

    def __init__(self, kind: str, field: str, problem: str) -> None:
        self.kind = kind
        self.field = field
        self.problem = problem
        where = f"field '{field}' " if field else ""
        super().__init__(f"invalid {kind} event: {where}{problem}")
