"""The metrics middleware's settings, read once from its environment.

Bad settings stop the middleware at start with one line naming the variable
(`Metrics.ConfigError: METRICS_DIMENSIONS: …`), before any invocation reaches it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

# Dimensions the middleware fills in itself; any other entry is a `Name=value` constant.
BUILTIN_DIMENSIONS = ("service", "function_name", "function_version", "event_source")
METRIC_NAMES = ("Duration", "HandlerDuration", "ColdStart", "Success", "Error", "RequestSize", "ResponseSize")
ERROR_TYPE_DIMENSION = "error_type"
# Root members the document always has: a dimension must not take their names.
RESERVED = (*METRIC_NAMES, ERROR_TYPE_DIMENSION, "_aws", "requestId", "middleware", "traceId")
MAX_DIMENSIONS = 30  # EMF: a DimensionSet holds at most 30 keys
MAX_DIMENSION_VALUE = 1024  # EMF: a dimension's value, in characters
# CloudWatch namespaces: 1-255 of these characters; "AWS/" belongs to AWS services.
_NAMESPACE = re.compile(r"[0-9A-Za-z.\-_/#: ]{1,255}")


class ConfigError(ValueError):
    """A setting that cannot work; the message starts with the variable's name."""


class Settings:
    __slots__ = ("namespace", "dimensions", "error_type_dimension", "resolution")

    def __init__(self, namespace: str, dimensions: list[tuple[str, str | None]], error_type_dimension: bool,
                 resolution: int) -> None:
        self.namespace = namespace
        # (name, constant value) in order; value None: a built-in, filled in per invocation.
        self.dimensions = dimensions
        self.error_type_dimension = error_type_dimension
        self.resolution = resolution

    @property
    def needs_event(self) -> bool:
        """Whether the event must be parsed (only the event_source dimension reads it)."""
        return any(name == "event_source" and value is None for name, value in self.dimensions)


def _flag(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _dimensions(raw: str) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, equals, value = item.partition("=")
        name = name.strip()
        if not equals and name not in BUILTIN_DIMENSIONS:
            raise ConfigError(f"METRICS_DIMENSIONS: {name!r} is not one of {', '.join(BUILTIN_DIMENSIONS)}; "
                              "a constant dimension is written Name=value")
        if not name or len(name) > 250 or name.startswith(":") or not name.isascii():
            raise ConfigError(f"METRICS_DIMENSIONS: {name!r} is not a dimension name "
                              "(1-250 ASCII characters, not starting with ':')")
        if name in RESERVED:
            raise ConfigError(f"METRICS_DIMENSIONS: {name!r} is a name the document already uses")
        if any(name == seen for seen, _ in found):
            raise ConfigError(f"METRICS_DIMENSIONS: {name!r} is listed twice")
        if equals and not (0 < len(value.strip()) <= MAX_DIMENSION_VALUE):
            raise ConfigError(f"METRICS_DIMENSIONS: the value of {name!r} must be 1-{MAX_DIMENSION_VALUE} characters")
        found.append((name, value.strip() if equals else None))
    return found


def from_env(environ: Mapping[str, str] = os.environ) -> Settings:
    namespace = environ.get("METRICS_NAMESPACE", "").strip() or "openruntime"
    if not _NAMESPACE.fullmatch(namespace) or namespace.startswith("AWS/"):
        raise ConfigError(f"METRICS_NAMESPACE: {namespace!r} is not a CloudWatch namespace (1-255 of "
                          "letters, digits and . - _ / # : space; not starting with AWS/)")
    dimensions = _dimensions(environ.get("METRICS_DIMENSIONS", "service"))
    error_type = _flag(environ, "METRICS_ERROR_TYPE_DIMENSION")
    if len(dimensions) + error_type > MAX_DIMENSIONS:
        raise ConfigError(f"METRICS_DIMENSIONS: at most {MAX_DIMENSIONS} dimensions "
                          f"(error_type included), got {len(dimensions) + error_type}")
    resolution_text = environ.get("METRICS_RESOLUTION", "").strip() or "60"
    if resolution_text not in ("1", "60"):
        raise ConfigError(f"METRICS_RESOLUTION must be 60 (standard) or 1 (high resolution), got {resolution_text!r}")
    return Settings(namespace, dimensions, error_type, int(resolution_text))


def builtin_value(name: str, environ: Mapping[str, str], service: str, event_source: str | None) -> str:
    """The value of a built-in dimension for one invocation (never empty: EMF wants a string)."""
    if name == "service":
        return service
    if name == "function_name":
        return environ.get("AWS_LAMBDA_FUNCTION_NAME") or "unknown"
    if name == "function_version":
        return environ.get("AWS_LAMBDA_FUNCTION_VERSION") or "$LATEST"
    return event_source or "unknown"


def service_name(environ: Mapping[str, str]) -> str:
    return (environ.get("METRICS_SERVICE", "").strip() or environ.get("AWS_LAMBDA_FUNCTION_NAME")
            or "service_undefined")[:MAX_DIMENSION_VALUE]
