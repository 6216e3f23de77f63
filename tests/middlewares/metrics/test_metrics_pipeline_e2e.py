"""Through the real orchestrator and emulator: one EMF line per invocation in the function's
log, in exec and in persistent mode, with the cold start on the first one only."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from aws_fixtures import pipeline_for, raw
from emf_check import emf_lines
from mw_harness import middleware

from tests.conftest import orchestrated


@pytest.mark.parametrize("hooks", [["received", "done"], ["before", "after", "error"]], ids=["observer", "inside"])
@pytest.mark.parametrize("mode", ["exec", "persistent"])
def test_metrics_in_a_pipeline(tmp_path: Path, mode: str, hooks: list[str]) -> None:
    """With the event for the event_source dimension: after the answer (`received`,
    `done`), or on the caller's path (`before`, `after`, `error`); the same line."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(textwrap.dedent('''
        def handler(event, context):
            if isinstance(event, dict) and event.get("fail"):
                raise ValueError("asked to fail")
            return {"ok": True}
    '''))
    pipeline = pipeline_for(tmp_path, app, [{
        "name": "metrics", "command": str(middleware("metrics")), "mode": mode,
        "hooks": hooks,
        "env": {"METRICS_NAMESPACE": "Shop", "METRICS_DIMENSIONS": "service,function_name,event_source",
                "METRICS_ERROR_TYPE_DIMENSION": "true"},
    }])
    log = tmp_path / "function.log"
    event = raw("sqs-batch.json")
    with orchestrated(pipeline, env={"TMPDIR": str(tmp_path)}, stderr_file=log) as emulator:
        first = emulator.invoke(event)
        second = emulator.invoke(b'{"fail": true}')
    assert first.json() == {"ok": True} and second.function_error is not None
    documents = emf_lines(log.read_text())
    assert len(documents) == 2, log.read_text()[-3000:]
    ok, failed = documents
    assert ok["requestId"] == first.request_id and failed["requestId"] == second.request_id
    assert (ok["ColdStart"], failed["ColdStart"]) == (1, 0)
    assert (ok["Success"], failed["Error"], failed["error_type"]) == (1, 1, "ValueError")
    assert ok["event_source"] == "sqs" and ok["RequestSize"] == len(event)
    assert ok["ResponseSize"] == len(json.dumps({"ok": True}))
    assert ok["function_name"] == failed["function_name"] != "unknown"
    assert ok["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Shop"
    # The handler's own time, as the orchestrator timed it, inside the middleware's span.
    assert 0 < ok["HandlerDuration"] <= ok["Duration"] and 0 < failed["HandlerDuration"] <= failed["Duration"]


@pytest.mark.parametrize("hooks", [["done"], ["after", "error"]], ids=["done", "after-error"])
@pytest.mark.parametrize("mode", ["exec", "persistent"])
def test_without_before_it_measures_the_invocation_from_what_the_orchestrator_reports(
        tmp_path: Path, mode: str, hooks: list[str]) -> None:
    """The README's entry (`done`, after the post) and the one before it (`after`/`error`,
    inside the invocation): no `before`. The request size is the event as Lambda delivered
    it, even when a middleware inside changed it; the duration runs from the first stage the
    orchestrator timed (that middleware's `before`)."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text("def handler(event, context):\n    return {'seen': len(event['padding'])}\n")
    grow = tmp_path / "grow"
    grow.write_text("#!/bin/sh\n# before: the event, wrapped with 5,000 bytes of padding\n"
                    "printf '{\"padding\":\"%05000d\",\"event\":' 0; cat; printf '}'\n")
    grow.chmod(0o755)
    pipeline = pipeline_for(tmp_path, app, [
        {"name": "metrics", "command": str(middleware("metrics")), "mode": mode, "hooks": hooks,
         "env": {"METRICS_DIMENSIONS": "service,event_source"}},
        {"name": "grow", "command": str(grow), "hooks": ["before"]},
    ])
    log = tmp_path / "function.log"
    event = raw("sqs-batch.json")
    with orchestrated(pipeline, env={"TMPDIR": str(tmp_path)}, stderr_file=log) as emulator:
        first = emulator.invoke(event)
        second = emulator.invoke(event)
    assert first.json() == {"seen": 5000} == second.json()
    documents = emf_lines(log.read_text())
    assert len(documents) == 2, log.read_text()[-3000:]
    assert [d["RequestSize"] for d in documents] == [len(event), len(event)]  # not the grown 5 KB more
    assert [d["ColdStart"] for d in documents] == [1, 0]
    for document in documents:
        # grow's `before` (a process start) and the handler are inside Duration.
        assert 0 < document["HandlerDuration"] < document["Duration"] < 10_000
    # The event_source dimension needs the event, which only `before` gets: said once.
    assert [d["event_source"] for d in documents] == ["unknown", "unknown"]
    assert log.read_text().count("add `received` (after the answer) or `before` to this middleware's hooks") == 1
