"""Incoming trace context, sampling, settings and the OTLP JSON encoding, in-process."""

from __future__ import annotations

import pytest
from otel_spans import config, otlp
from otel_spans.context import Parent, find_parent, parse_traceparent, parse_xray, sampled
from otel_spans.spans import Span

XRAY = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
W3C = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_the_xray_header_gives_the_otel_trace_id_parent_and_decision() -> None:
    header = parse_xray(XRAY)
    assert header is not None
    assert (header.trace_id, header.parent, header.sampled) == ("5759e988bd862e3fe1be46a994272793",
                                                                 "53995c3f42cd8ad8", True)
    # Keys in any order, extra keys (Lineage), an undecided or absent sampling decision.
    other = parse_xray("Sampled=?;Lineage=a87bd80c:1|68fd508a:5;Root=1-5759e988-bd862e3fe1be46a994272793")
    assert other is not None and (other.parent, other.sampled) == (None, None)
    assert parse_xray("Root=1-5759e988-bd862e3fe1be46a99427279;Sampled=1") is None  # 23 hex digits
    assert parse_xray("Parent=53995c3f42cd8ad8") is None
    assert parse_xray("") is None


@pytest.mark.parametrize(("value", "expected"), [
    (W3C, ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", True)),
    ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", ("0af7651916cd43dd8448eb211c80319c",
                                                                 "b7ad6b7169203331", False)),
    ("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", ("0af7651916cd43dd8448eb211c80319c",
                                                                       "b7ad6b7169203331", True)),
    ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", None),  # version 00 has no more
    ("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", None),
    ("00-00000000000000000000000000000000-b7ad6b7169203331-01", None),
    ("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", None),
    ("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", None),  # upper case is invalid
])
def test_traceparent_follows_w3c_trace_context(value: str, expected: tuple | None) -> None:
    assert parse_traceparent(value) == expected


def test_the_parent_comes_from_the_first_source_that_has_one() -> None:
    event = {"headers": {"TraceParent": W3C, "tracestate": "congo=t61rcWkgMzE"}}
    header = parse_xray(XRAY)
    from_headers = find_parent(("headers", "xray", "env"), event, header, {})
    assert (from_headers.trace_id, from_headers.span_id, from_headers.source) == (
        "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "headers")
    assert from_headers.tracestate == "congo=t61rcWkgMzE"
    assert find_parent(("xray", "headers"), event, header, {}).trace_id == "5759e988bd862e3fe1be46a994272793"
    alb = {"multiValueHeaders": {"traceparent": [W3C]}}
    assert find_parent(("headers",), alb, None, {}).span_id == "b7ad6b7169203331"
    from_env = find_parent(("headers", "env"), {"headers": {}}, header, {"TRACEPARENT": W3C})
    assert from_env.source == "env"
    new = find_parent(("headers",), {"headers": {"traceparent": "garbage"}}, None, {})
    assert new.source == "new" and new.span_id is None and len(new.trace_id) == 32


def test_samplers_follow_a_decided_parent_and_otherwise_their_root_rule() -> None:
    decided_no = Parent("5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", False)
    undecided = Parent("5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", None)
    assert not sampled(decided_no, "parentbased_always_on", 1.0)
    assert sampled(undecided, "parentbased_always_on", 1.0)
    assert sampled(decided_no, "always_on", 1.0)
    low = Parent("ffffffffffffffff0000000000000001", None, None)
    high = Parent("0000000000000000ffffffffffffffff", None, None)
    assert sampled(low, "traceidratio", 0.5) and not sampled(high, "traceidratio", 0.5)


def test_otlp_json_uses_hex_ids_integer_enums_and_string_nanoseconds() -> None:
    spans = [Span("orders", "b7ad6b7169203331", "53995c3f42cd8ad8", 1_000, 3_000, 2,
                  {"faas.coldstart": True, "n": 3, "x": 1.5, "s": "t"}, ("ValueError", "boom"))]
    import json
    body = json.loads(otlp.export_request(spans, "5759e988bd862e3fe1be46a994272793", "", {"service.name": "o"}))
    resource, = body["resourceSpans"]
    assert resource["resource"]["attributes"] == [{"key": "service.name", "value": {"stringValue": "o"}}]
    span, = resource["scopeSpans"][0]["spans"]
    assert span["traceId"] == "5759e988bd862e3fe1be46a994272793" and span["parentSpanId"] == "53995c3f42cd8ad8"
    assert (span["kind"], span["startTimeUnixNano"], span["endTimeUnixNano"]) == (2, "1000", "3000")
    assert span["status"] == {"code": 2, "message": "ValueError: boom"}
    assert span["attributes"] == [
        {"key": "faas.coldstart", "value": {"boolValue": True}}, {"key": "n", "value": {"intValue": "3"}},
        {"key": "x", "value": {"doubleValue": 1.5}}, {"key": "s", "value": {"stringValue": "t"}}]


def test_settings_follow_the_otel_variables() -> None:
    settings = config.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
                                "OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%20b,x=1", "OTEL_SERVICE_NAME": "shop"})
    assert settings.endpoint == "http://collector:4318/v1/traces"
    assert settings.headers == {"api-key": "a b", "x": "1"} and settings.service == "shop"
    specific = config.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1",
                                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:2/custom"})
    assert specific.endpoint == "http://b:2/custom"  # used as it is
    assert config.from_env({}).endpoint == "http://localhost:4318/v1/traces"
    assert config.from_env({"OTEL_EXPORTER_OTLP_TIMEOUT": "250"}).timeout_s == 0.25
    # The function's own SDK may be set to protobuf: the same receiver takes our JSON.
    assert config.from_env({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}).exporters == ("otlp",)
    xray = config.from_env({"TRACE_EXPORTERS": "xray", "AWS_XRAY_DAEMON_ADDRESS": "tcp:127.0.0.1:2000 udp:10.0.0.1:2001"})
    assert xray.xray_daemon == ("10.0.0.1", 2001) and xray.exporters == ("xray",)


@pytest.mark.parametrize(("env", "named"), [
    ({"TRACE_EXPORTERS": "zipkin"}, "TRACE_EXPORTERS"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://a:port"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"),
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "OTEL_EXPORTER_OTLP_TIMEOUT"),
    ({"OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, "OTEL_EXPORTER_OTLP_HEADERS"),
    ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER"),
    ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, "OTEL_TRACES_SAMPLER_ARG"),
    ({"TRACE_PARENT": "cookie"}, "TRACE_PARENT"),
    ({"TRACE_EXPORTERS": "xray", "AWS_XRAY_DAEMON_ADDRESS": "nowhere"}, "AWS_XRAY_DAEMON_ADDRESS"),
])
def test_bad_settings_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(config.ConfigError, match=named):
        config.from_env(env)
