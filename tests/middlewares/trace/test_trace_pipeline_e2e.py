"""Through the real orchestrator and emulator: the invocation's spans reach a loopback OTLP
receiver under the trace id Lambda passed in, in exec and in persistent mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_fixtures import pipeline_for, raw
from collectors import otlp_collector, read_segment, xray_daemon
from mw_harness import middleware

from tests.conftest import orchestrated

XRAY = "Root=1-6571e3b0-0123456789abcdef01234567;Parent=1122334455667788;Sampled=1"


@pytest.mark.parametrize("hooks", [["received", "done"], ["before", "done"], ["before", "after", "error"]],
                         ids=["received-done", "before-done", "after-error"])
@pytest.mark.parametrize("mode", ["exec", "persistent"])
def test_trace_in_a_pipeline(tmp_path: Path, hello_app: Path, mode: str, hooks: list[str]) -> None:
    """Its README entry reads the event and exports after the post (`received`, `done`);
    the entries before it read it in `before`, and export in `done` or `after`."""
    with otlp_collector() as (url, received), xray_daemon() as (address, sock):
        pipeline = pipeline_for(tmp_path, hello_app, [{
            "name": "trace", "command": str(middleware("trace")), "mode": mode,
            "hooks": hooks,
            "env": {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "TRACE_EXPORTERS": "otlp,xray",
                    "AWS_XRAY_DAEMON_ADDRESS": address},
        }, {"name": "log", "command": str(middleware("log")), "mode": mode, "hooks": ["before", "after"]}])
        with orchestrated(pipeline, env={"TMPDIR": str(tmp_path)}) as emulator:
            result = emulator.invoke(raw("apigw-v1-proxy-request.json"), trace_id=XRAY)
        segment = read_segment(sock)
    assert result.function_error is None and result.json()["traceEnv"] == XRAY
    root = next(span for span in received.spans() if span["kind"] == 2)
    assert root["traceId"] == "6571e3b00123456789abcdef01234567" and root["parentSpanId"] == "1122334455667788"
    attributes = {a["key"]: next(iter(a["value"].values())) for a in root["attributes"]}
    assert attributes["faas.invocation_id"] == result.request_id and attributes["faas.trigger"] == "http"
    assert attributes["faas.coldstart"] is True
    assert segment["trace_id"] == "1-6571e3b0-0123456789abcdef01234567" and segment["id"] == root["spanId"]
    # One span per stage the orchestrator timed, inside the invocation's span, in order.
    stages = [span for span in received.spans() if span["parentSpanId"] == root["spanId"]]
    # In `done`, the orchestrator's post of the answer too: the caller's wait ends with it.
    posted = ["post"] if "done" in hooks else []
    own = ["trace before"] if "before" in hooks else []  # `received` is after the answer: not in the span
    assert [span["name"] for span in stages] == [*own, "log before", "handler", "log after", *posted]
    start, end = int(root["startTimeUnixNano"]), int(root["endTimeUnixNano"])
    for earlier, later in zip(stages, stages[1:]):
        assert int(earlier["endTimeUnixNano"]) <= int(later["startTimeUnixNano"]) + 1000  # µs rounding
    assert start <= int(stages[0]["startTimeUnixNano"]) and int(stages[-1]["endTimeUnixNano"]) <= end
    assert attributes["openruntime.orchestrator_ms"] >= 0
    assert [s["name"] for s in segment["subsegments"]] == [span["name"] for span in stages]
