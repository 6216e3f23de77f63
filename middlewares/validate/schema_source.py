"""Where `validate` gets its schema: VALIDATE_SCHEMA (a file) or VALIDATE_SCHEMA_JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from schema_validator import SchemaError, Validator


def schema_path(environ: Mapping[str, str]) -> Path:
    """VALIDATE_SCHEMA; a relative path is relative to the function code ($LAMBDA_TASK_ROOT)."""
    path = Path(environ["VALIDATE_SCHEMA"])
    if not path.is_absolute():
        path = Path(environ.get("LAMBDA_TASK_ROOT") or os.getcwd()) / path
    return path


def load_schema(environ: Mapping[str, str]) -> Any:
    inline = environ.get("VALIDATE_SCHEMA_JSON")
    file = environ.get("VALIDATE_SCHEMA")
    if inline and file:
        raise SchemaError("set VALIDATE_SCHEMA or VALIDATE_SCHEMA_JSON, not both")
    if inline:
        try:
            return json.loads(inline)
        except ValueError as exc:
            raise SchemaError(f"VALIDATE_SCHEMA_JSON is not JSON: {exc}") from None
    if file:
        path = schema_path(environ)
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise SchemaError(f"cannot read VALIDATE_SCHEMA {str(path)!r}: {exc.strerror}") from None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise SchemaError(f"VALIDATE_SCHEMA {str(path)!r} is not JSON: {exc}") from None
    raise SchemaError("no schema: set VALIDATE_SCHEMA (a JSON file) or VALIDATE_SCHEMA_JSON")


def load_validator(environ: Mapping[str, str]) -> Validator:
    return Validator(load_schema(environ))
