"""One JSON document through the limits, the parser and a validator: the errors, or none.

Shared by the event, an HTTP body, each batch record's body and the handler's response,
so each gets the same limits and the same kind of error.
"""

from __future__ import annotations

import json
import math
from typing import Any

from limits import limit_problem
from schema_source import Settings
from schema_validator import ValidationError, Validator


class Unreadable(ValueError):
    """The document is not JSON, or is over a limit: one error says so."""

    def __init__(self, error: ValidationError) -> None:
        super().__init__(str(error))
        self.error = error


def _no_constant(name: str) -> Any:
    # Python's json takes NaN and Infinity; JSON has no such numbers.
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    # 1e400 is JSON, but no double holds it: the engine would see it as null.
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def parse(raw: bytes, settings: Settings, record: str | None = None) -> Any:
    """The JSON value of `raw`, or Unreadable (rule 'json' or 'limit') naming the record."""
    problem = limit_problem(raw, settings.max_bytes, settings.max_depth)
    if problem is not None:
        raise Unreadable(ValidationError("$", "limit", problem, record))
    try:
        return json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:  # a raised VALIDATE_MAX_DEPTH beyond what this Python parses
        raise Unreadable(ValidationError("$", "limit", "nests deeper than this Python's JSON parser goes",
                                         record)) from None
    except ValueError as exc:
        raise Unreadable(ValidationError("$", "json", f"is not valid JSON: {exc}", record)) from None


def check_raw(validator: Validator, raw: bytes | None, settings: Settings,
              record: str | None = None) -> list[ValidationError]:
    """Errors of one document given as bytes (None: absent, validated as null)."""
    try:
        value = None if raw is None else parse(raw, settings, record)
    except Unreadable as exc:
        return [exc.error]
    return with_record(validator.errors(value), record)


def with_record(errors: list[ValidationError], record: str | None) -> list[ValidationError]:
    if record is None:
        return errors
    return [ValidationError(e.path, e.rule, e.message, record) for e in errors]
