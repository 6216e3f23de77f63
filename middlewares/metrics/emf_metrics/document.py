"""One invocation's measurements as a CloudWatch Embedded Metric Format document.

The specification (CloudWatch user guide, "Specification: Embedded metric format"): the
root holds `_aws` (`Timestamp` in Unix ms, `CloudWatchMetrics`: MetricDirectives with
`Namespace`, `Dimensions` — arrays of root member names — and `Metrics` — `Name`, `Unit`,
optional `StorageResolution`), and the values themselves as root members: numbers for
metrics, strings for dimensions. Other root members (requestId, traceId) are kept in the
log line and are not metrics.
"""

from __future__ import annotations

import json
from typing import Any

from emf_metrics.config import ERROR_TYPE_DIMENSION, Settings

UNITS = {
    "Duration": "Milliseconds",
    "HandlerDuration": "Milliseconds",
    "ColdStart": "Count",
    "Success": "Count",
    "Error": "Count",
    "RequestSize": "Bytes",
    "ResponseSize": "Bytes",
}


class Measured:
    """What one invocation gave: every field is optional but `success` and `cold_start`."""

    __slots__ = ("success", "cold_start", "duration_ms", "request_bytes", "response_bytes", "error_type",
                 "handler_ms")

    def __init__(self, success: bool, cold_start: bool, duration_ms: float | None = None,
                 request_bytes: int | None = None, response_bytes: int | None = None,
                 error_type: str | None = None, handler_ms: float | None = None) -> None:
        self.success = success
        self.cold_start = cold_start
        self.duration_ms = duration_ms
        self.request_bytes = request_bytes
        self.response_bytes = response_bytes
        self.error_type = error_type
        self.handler_ms = handler_ms


def _definition(name: str, resolution: int) -> dict[str, Any]:
    definition: dict[str, Any] = {"Name": name, "Unit": UNITS[name]}
    if resolution != 60:  # 60 is the default: said only when it is not
        definition["StorageResolution"] = resolution
    return definition


def _values(measured: Measured) -> dict[str, float | int]:
    """The metrics' values, in UNITS' order (the order of the document's Metrics list)."""
    values: dict[str, float | int] = {}
    if measured.duration_ms is not None:
        values["Duration"] = round(measured.duration_ms, 3)
    if measured.handler_ms is not None:
        values["HandlerDuration"] = round(measured.handler_ms, 3)
    values["ColdStart"] = int(measured.cold_start)
    values["Success"] = int(measured.success)
    values["Error"] = int(not measured.success)
    if measured.request_bytes is not None:
        values["RequestSize"] = measured.request_bytes
    if measured.response_bytes is not None:
        values["ResponseSize"] = measured.response_bytes
    return values


def _directives(settings: Settings, dimension_set: list[str], names: list[str] | tuple[str, ...],
                by_error_type: bool) -> list[dict[str, Any]]:
    directives: list[dict[str, Any]] = [{
        "Namespace": settings.namespace,
        "Dimensions": [dimension_set],
        "Metrics": [_definition(name, settings.resolution) for name in names],
    }]
    if by_error_type:
        # Its own directive: only Error is counted per error type, so the other metrics
        # do not become one CloudWatch metric per error type too.
        directives.append({
            "Namespace": settings.namespace,
            "Dimensions": [[*dimension_set, ERROR_TYPE_DIMENSION]],
            "Metrics": [_definition("Error", settings.resolution)],
        })
    return directives


def _root(dimension_values: dict[str, str], measured: Measured, by_error_type: bool,
          values: dict[str, float | int], extra: dict[str, Any]) -> dict[str, Any]:
    errors = {ERROR_TYPE_DIMENSION: (measured.error_type or "Unknown")[:1024]} if by_error_type else {}
    return {**dimension_values, **errors, **values, **extra}


def emf_document(settings: Settings, dimension_values: dict[str, str], measured: Measured,
                 timestamp_ms: int, extra: dict[str, Any]) -> dict[str, Any]:
    """The document: `dimension_values` in the order of the settings' dimensions, `extra`
    root members that are neither metrics nor dimensions (requestId, middleware, traceId)."""
    values = _values(measured)
    by_error_type = settings.error_type_dimension and not measured.success
    return {
        "_aws": {"Timestamp": timestamp_ms,
                 "CloudWatchMetrics": _directives(settings, list(dimension_values), list(values), by_error_type)},
        **_root(dimension_values, measured, by_error_type, values, extra),
    }


class EmfLines:
    """`emf_document` as one compact JSON line, the same text `json.dumps` gives it, made
    faster: the directives (most of the line, fixed for a given set of metrics) are
    encoded once per shape, not per invocation."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._directives: dict[tuple[tuple[str, ...], tuple[str, ...], bool], str] = {}

    def line(self, dimension_values: dict[str, str], measured: Measured, timestamp_ms: int,
             extra: dict[str, Any]) -> str:
        values = _values(measured)
        by_error_type = self._settings.error_type_dimension and not measured.success
        shape = (tuple(dimension_values), tuple(values), by_error_type)
        directives = self._directives.get(shape)
        if directives is None:
            directives = self._directives[shape] = _dumps(
                _directives(self._settings, list(shape[0]), shape[1], by_error_type))
        root = _dumps(_root(dimension_values, measured, by_error_type, values, extra))
        # The root always has the metrics, so it is never "{}".
        return f'{{"_aws":{{"Timestamp":{int(timestamp_ms)},"CloudWatchMetrics":{directives}}},{root[1:]}'


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
