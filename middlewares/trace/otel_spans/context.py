"""The incoming trace context: W3C `traceparent` and the X-Ray trace header, read and
turned into one (trace id, parent span id, sampled) for the spans of an invocation.

* W3C Trace Context (https://www.w3.org/TR/trace-context/): `00-<32 hex trace id>-<16 hex
  parent id>-<2 hex flags>`; all-zero ids and version ff are invalid; flag bit 0 = sampled.
* X-Ray (`_X_AMZN_TRACE_ID`, the Runtime API's `Lambda-Runtime-Trace-Id`):
  `Root=1-<8 hex epoch>-<24 hex>;Parent=<16 hex>;Sampled=<0|1|?>` (any order, more keys
  allowed). The OTel trace id is the Root's 32 hex digits without the dashes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_XRAY_ROOT = re.compile(r"1-([0-9a-f]{8})-([0-9a-f]{24})")
_HEX16 = re.compile(r"[0-9a-f]{16}")
ZERO_TRACE = "0" * 32
ZERO_SPAN = "0" * 16


class Parent:
    """Where the invocation's spans hang: a trace id, the caller's span id (None: a new
    trace), its sampled decision (None: not decided upstream), and `tracestate`."""

    __slots__ = ("trace_id", "span_id", "sampled", "tracestate", "source")

    def __init__(self, trace_id: str, span_id: str | None, sampled: bool | None, tracestate: str = "",
                 source: str = "new") -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.sampled = sampled
        self.tracestate = tracestate
        self.source = source


class XRayHeader:
    __slots__ = ("root", "parent", "sampled")

    def __init__(self, root: str, parent: str | None, sampled: bool | None) -> None:
        self.root = root  # 1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy
        self.parent = parent
        self.sampled = sampled

    @property
    def trace_id(self) -> str:
        return self.root[2:10] + self.root[11:]


def parse_traceparent(value: str) -> tuple[str, str, bool] | None:
    """(trace id, parent id, sampled) of a valid `traceparent`, else None."""
    match = _TRACEPARENT.fullmatch(value.strip())
    if not match:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == ZERO_TRACE or span_id == ZERO_SPAN:
        return None
    return trace_id, span_id, bool(int(flags, 16) & 1)


def parse_xray(value: str | None) -> XRayHeader | None:
    """The X-Ray trace header's Root, Parent and Sampled; None without a valid Root."""
    if not value:
        return None
    fields: dict[str, str] = {}
    for part in value.split(";"):
        key, _, item = part.strip().partition("=")
        fields.setdefault(key, item)
    root = fields.get("Root", "")
    if not _XRAY_ROOT.fullmatch(root):
        return None
    parent = fields.get("Parent")
    sampled = {"1": True, "0": False}.get(fields.get("Sampled", "?"))
    return XRayHeader(root, parent if parent and _HEX16.fullmatch(parent) else None, sampled)


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            if isinstance(value, list):
                value = value[0] if value else None
            return value if isinstance(value, str) else None
    return None


def event_headers(event: Any, name: str) -> str | None:
    """Header `name` (lower case) of an HTTP event: API Gateway, ALB, Function URL, in
    `headers` or `multiValueHeaders`, any case."""
    if not isinstance(event, dict):
        return None
    return _header(event.get("headers"), name) or _header(event.get("multiValueHeaders"), name)


def find_parent(sources: tuple[str, ...], event: Any, xray: XRayHeader | None,
                environ: Mapping[str, str] = os.environ) -> Parent:
    """The first valid context among `sources` (headers, xray, env), else a new trace."""
    for source in sources:
        if source == "xray":
            if xray is not None:
                return Parent(xray.trace_id, xray.parent, xray.sampled, "", "xray")
            continue
        carrier: Any = event if source == "headers" else None
        traceparent = (event_headers(carrier, "traceparent") if source == "headers"
                       else environ.get("TRACEPARENT"))
        found = parse_traceparent(traceparent) if traceparent else None
        if found:
            state = (event_headers(carrier, "tracestate") if source == "headers" else environ.get("TRACESTATE")) or ""
            return Parent(*found, tracestate=state[:512], source=source)
    return Parent(os.urandom(16).hex(), None, None)


def sampled(parent: Parent, sampler: str, ratio: float) -> bool:
    """The OTel samplers by name (OTEL_TRACES_SAMPLER): parent-based ones follow a decided
    parent; the ratio is compared with the trace id's low 64 bits, so every service that
    samples by ratio agrees on the same trace."""
    if sampler.startswith("parentbased_") and parent.span_id is not None and parent.sampled is not None:
        return parent.sampled
    root = sampler.removeprefix("parentbased_")
    if root == "always_on":
        return True
    if root == "always_off":
        return False
    return int(parent.trace_id[16:], 16) < ratio * (1 << 64)


def new_span_id() -> str:
    while (span_id := os.urandom(8).hex()) == ZERO_SPAN:
        pass
    return span_id
