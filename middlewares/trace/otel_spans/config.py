"""The trace middleware's settings, read once from its environment.

The OpenTelemetry variables keep their specified meaning (OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT / HEADERS / TIMEOUT /
PROTOCOL, OTEL_TRACES_SAMPLER[_ARG]); TRACE_EXPORTERS and TRACE_PARENT are this
middleware's own. Bad settings stop it at start with one line naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

EXPORTERS = ("otlp", "xray")
PARENT_SOURCES = ("headers", "xray", "env")
SAMPLERS = ("always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off",
            "parentbased_traceidratio")
# OTel says 10 s; an export inside a hook call delays the response, so less by default.
DEFAULT_TIMEOUT_MS = 1000
DEFAULT_XRAY_DAEMON = ("127.0.0.1", 2000)


class ConfigError(ValueError):
    """A setting that cannot work; the message starts with the variable's name."""


class Settings:
    __slots__ = ("exporters", "endpoint", "headers", "timeout_s", "service", "resource", "sampler", "ratio",
                 "parent_sources", "xray_daemon", "deferred")

    def __init__(self, exporters: tuple[str, ...], endpoint: str, headers: dict[str, str], timeout_s: float,
                 service: str, resource: dict[str, str], sampler: str, ratio: float,
                 parent_sources: tuple[str, ...], xray_daemon: tuple[str, int], deferred: bool = False) -> None:
        self.exporters = exporters
        self.endpoint = endpoint  # the full URL spans are POSTed to
        self.headers = headers
        self.timeout_s = timeout_s
        self.service = service
        self.resource = resource
        self.sampler = sampler
        self.ratio = ratio
        self.parent_sources = parent_sources
        self.xray_daemon = xray_daemon
        self.deferred = deferred  # TRACE_EXPORT=deferred: sent after the hook answers (deferred.py)


def _list(environ: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    items = tuple(item.strip().lower() for item in (environ.get(name) or default).split(",") if item.strip())
    for item in items:
        if item not in allowed:
            raise ConfigError(f"{name}: {item!r} is not one of {', '.join(allowed)}")
    return items


def _pairs(environ: Mapping[str, str], name: str) -> dict[str, str]:
    """`key=value,key2=value2`, values percent-decoded (the OTel format of headers and
    resource attributes)."""
    pairs: dict[str, str] = {}
    for item in (environ.get(name) or "").split(","):
        if not item.strip():
            continue
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ConfigError(f"{name}: {item.strip()!r} is not key=value")
        pairs[unquote(key.strip())] = unquote(value.strip())
    return pairs


def _endpoint(environ: Mapping[str, str]) -> str:
    for name, suffix in (("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""), ("OTEL_EXPORTER_OTLP_ENDPOINT", "v1/traces")):
        raw = (environ.get(name) or "").strip()
        if raw:
            break
    else:
        name, raw, suffix = "OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318", "v1/traces"
    url = urlsplit(raw)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(f"{name}: {raw!r} is not an http:// or https:// URL")
    try:
        url.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} has an invalid port") from None
    # The signal-specific variable is used as it is; the base one gets /v1/traces appended.
    return raw if not suffix else raw.rstrip("/") + "/" + suffix


def _timeout(environ: Mapping[str, str]) -> float:
    for name in ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"):
        raw = (environ.get(name) or "").strip()
        if raw:
            if not (raw.isascii() and raw.isdigit()) or int(raw) == 0:
                raise ConfigError(f"{name} must be a positive number of milliseconds, got {raw!r}")
            return int(raw) / 1000
    return DEFAULT_TIMEOUT_MS / 1000


def _protocol(environ: Mapping[str, str]) -> None:
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        raw = (environ.get(name) or "").strip()
        if raw:
            # Both HTTP encodings reach the same receiver, which reads either by Content-Type:
            # a function whose own SDK sends http/protobuf is served. gRPC is another port
            # and protocol.
            if raw not in ("http/json", "http/protobuf"):
                raise ConfigError(f"{name}={raw}: this middleware exports OTLP over HTTP (JSON encoding) only; "
                                  "point it at an OTLP/HTTP receiver, such as the Collector on port 4318")
            return


def _sampler(environ: Mapping[str, str]) -> tuple[str, float]:
    sampler = (environ.get("OTEL_TRACES_SAMPLER") or "parentbased_always_on").strip().lower()
    if sampler not in SAMPLERS:
        raise ConfigError(f"OTEL_TRACES_SAMPLER: {sampler!r} is not one of {', '.join(SAMPLERS)}")
    ratio = 1.0
    if sampler.endswith("traceidratio"):
        raw = (environ.get("OTEL_TRACES_SAMPLER_ARG") or "1.0").strip()
        try:
            ratio = float(raw)
        except ValueError:
            ratio = -1.0
        if not 0.0 <= ratio <= 1.0:
            raise ConfigError(f"OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got {raw!r}")
    return sampler, ratio


def _daemon(environ: Mapping[str, str]) -> tuple[str, int]:
    """AWS_XRAY_DAEMON_ADDRESS: `host:port`, or `tcp:host:port udp:host:port` (the UDP one)."""
    raw = (environ.get("AWS_XRAY_DAEMON_ADDRESS") or "").strip()
    if not raw:
        return DEFAULT_XRAY_DAEMON
    address = raw
    for part in raw.split():
        if part.startswith("udp:"):
            address = part[4:]
    host, _, port = address.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536 or " " in address:
        raise ConfigError(f"AWS_XRAY_DAEMON_ADDRESS: {raw!r} is not host:port or 'tcp:host:port udp:host:port'")
    return host, int(port)


def from_env(environ: Mapping[str, str] = os.environ) -> Settings:
    exporters = _list(environ, "TRACE_EXPORTERS", "otlp", EXPORTERS)
    if not exporters:
        raise ConfigError("TRACE_EXPORTERS: name at least one of otlp, xray")
    endpoint, headers, timeout_s = "", {}, _timeout(environ)
    if "otlp" in exporters:
        _protocol(environ)
        endpoint = _endpoint(environ)
        headers = {**_pairs(environ, "OTEL_EXPORTER_OTLP_HEADERS"), **_pairs(environ, "OTEL_EXPORTER_OTLP_TRACES_HEADERS")}
    resource = _pairs(environ, "OTEL_RESOURCE_ATTRIBUTES")
    service = ((environ.get("OTEL_SERVICE_NAME") or "").strip() or resource.get("service.name")
               or environ.get("AWS_LAMBDA_FUNCTION_NAME") or "unknown_service")
    sampler, ratio = _sampler(environ)
    parents = _list(environ, "TRACE_PARENT", ",".join(PARENT_SOURCES), PARENT_SOURCES)
    daemon = _daemon(environ) if "xray" in exporters else DEFAULT_XRAY_DAEMON
    export = (environ.get("TRACE_EXPORT") or "sync").strip().lower()
    if export not in ("sync", "deferred"):
        raise ConfigError(f"TRACE_EXPORT={export!r}: one of sync, deferred")
    return Settings(exporters, endpoint, headers, timeout_s, service, resource, sampler, ratio, parents, daemon,
                    export == "deferred")
