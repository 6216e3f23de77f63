"""One invocation's measurements as a CloudWatch Embedded Metric Format document.

The specification (CloudWatch user guide, "Specification: Embedded metric format"): the
root holds `_aws` (`Timestamp` in Unix ms, `CloudWatchMetrics`: MetricDirectives with
`Namespace`, `Dimensions` — arrays of root member names — and `Metrics` — `Name`, `Unit`,
optional `StorageResolution`), and the values themselves as root members: numbers for
metrics, strings for dimensions. Other root members (requestId, traceId) are kept in the
log line and are not metrics.
"""

from __future__ import annotations

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


def emf_document(settings: Settings, dimension_values: dict[str, str], measured: Measured,
                 timestamp_ms: int, extra: dict[str, Any]) -> dict[str, Any]:
    """The document: `dimension_values` in the order of the settings' dimensions, `extra`
    root members that are neither metrics nor dimensions (requestId, middleware, traceId)."""
    values: dict[str, float | int] = {
        "ColdStart": int(measured.cold_start),
        "Success": int(measured.success),
        "Error": int(not measured.success),
    }
    if measured.duration_ms is not None:
        values["Duration"] = round(measured.duration_ms, 3)
    if measured.handler_ms is not None:
        values["HandlerDuration"] = round(measured.handler_ms, 3)
    if measured.request_bytes is not None:
        values["RequestSize"] = measured.request_bytes
    if measured.response_bytes is not None:
        values["ResponseSize"] = measured.response_bytes
    names = [name for name in UNITS if name in values]
    dimension_set = list(dimension_values)
    directives: list[dict[str, Any]] = [{
        "Namespace": settings.namespace,
        "Dimensions": [dimension_set],
        "Metrics": [_definition(name, settings.resolution) for name in names],
    }]
    root: dict[str, Any] = {}
    if settings.error_type_dimension and not measured.success:
        # Its own directive: only Error is counted per error type, so the other metrics
        # do not become one CloudWatch metric per error type too.
        directives.append({
            "Namespace": settings.namespace,
            "Dimensions": [[*dimension_set, ERROR_TYPE_DIMENSION]],
            "Metrics": [_definition("Error", settings.resolution)],
        })
        root[ERROR_TYPE_DIMENSION] = (measured.error_type or "Unknown")[:1024]
    return {
        "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": directives},
        **dimension_values,
        **root,
        **{name: values[name] for name in names},
        **extra,
    }
