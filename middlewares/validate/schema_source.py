"""validate's configuration, from the pipeline entry's env: the schemas and the options.

Schemas: VALIDATE_SCHEMA (a file) or VALIDATE_SCHEMA_JSON for the event,
VALIDATE_RESPONSE_SCHEMA or VALIDATE_RESPONSE_SCHEMA_JSON for the handler's response.
Problems raise SchemaError (the schema) or ConfigError (an option), both naming the variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from limits import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH
from schema_validator import SchemaError, Validator

ENVELOPES: Final = ("http", "records", "none")
MOST_BYTES: Final = 256 * 1024 * 1024
# Deeper than this, the parser and the compiled validator would need more stack than is safe.
MOST_DEPTH: Final = 2000
_CHOICES: Final = {
    "VALIDATE_ENVELOPE": ENVELOPES,
    "VALIDATE_FORMATS": ("annotate", "assert"),
    "VALIDATE_UNKNOWN_KEYWORDS": ("error", "warn"),
}


class ConfigError(ValueError):
    """An option has a value the middleware cannot use."""


@dataclass(frozen=True)
class Settings:
    request: Validator | None  # the event's schema
    response: Validator | None  # the handler response's schema
    envelope: str = "http"  # what is validated: see README.md
    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH


def schema_path(environ: Mapping[str, str], variable: str = "VALIDATE_SCHEMA") -> Path:
    """A relative path is relative to the function code ($LAMBDA_TASK_ROOT)."""
    path = Path(environ[variable])
    if not path.is_absolute():
        path = Path(environ.get("LAMBDA_TASK_ROOT") or os.getcwd()) / path
    return path


def load_schema(environ: Mapping[str, str], file_var: str = "VALIDATE_SCHEMA") -> tuple[Any, str] | None:
    """(schema, the variable it came from), or None when neither variable is set."""
    inline_var = f"{file_var}_JSON"
    inline, file = environ.get(inline_var), environ.get(file_var)
    if inline and file:
        raise SchemaError(f"set {file_var} or {inline_var}, not both")
    if inline:
        try:
            return json.loads(inline), inline_var
        except (ValueError, RecursionError) as exc:
            raise SchemaError(f"{inline_var} is not JSON: {exc}") from None
    if file:
        path = schema_path(environ, file_var)
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise SchemaError(f"cannot read {file_var} {str(path)!r}: {exc.strerror}") from None
        try:
            return json.loads(text), file_var
        except (ValueError, RecursionError) as exc:
            raise SchemaError(f"{file_var} {str(path)!r} is not JSON: {exc}") from None
    return None


def _choice(environ: Mapping[str, str], variable: str) -> str:
    allowed = _CHOICES[variable]
    value = environ.get(variable, "").strip().lower() or allowed[0]
    if value not in allowed:
        raise ConfigError(f"{variable}={environ[variable]!r}: must be one of {', '.join(allowed)}")
    return value


def _positive(environ: Mapping[str, str], variable: str, default: int, most: int) -> int:
    text = environ.get(variable, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= most:
        raise ConfigError(f"{variable}={text!r}: must be a whole number from 1 to {most}")
    return int(text)


def _validator(environ: Mapping[str, str], file_var: str, warn: Callable[[str], None]) -> Validator | None:
    loaded = load_schema(environ, file_var)
    if loaded is None:
        return None
    schema, variable = loaded
    try:
        return Validator(schema, assert_formats=_choice(environ, "VALIDATE_FORMATS") == "assert",
                         unknown=_choice(environ, "VALIDATE_UNKNOWN_KEYWORDS"),
                         warn=lambda problem: warn(f"{variable}: {problem}"))
    except SchemaError as exc:
        raise SchemaError(f"{variable}: {exc}") from None


def load_settings(environ: Mapping[str, str], warn: Callable[[str], None] = print) -> Settings:
    for variable in _CHOICES:  # a bad option is named even when the schema is fine
        _choice(environ, variable)
    request = _validator(environ, "VALIDATE_SCHEMA", warn)
    response = _validator(environ, "VALIDATE_RESPONSE_SCHEMA", warn)
    if request is None and response is None:
        raise SchemaError("no schema: set VALIDATE_SCHEMA (a JSON file) or VALIDATE_SCHEMA_JSON, "
                          "or VALIDATE_RESPONSE_SCHEMA(_JSON) for the response")
    return Settings(request, response, _choice(environ, "VALIDATE_ENVELOPE"),
                    _positive(environ, "VALIDATE_MAX_BYTES", DEFAULT_MAX_BYTES, MOST_BYTES),
                    _positive(environ, "VALIDATE_MAX_DEPTH", DEFAULT_MAX_DEPTH, MOST_DEPTH))
