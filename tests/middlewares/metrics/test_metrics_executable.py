"""The metrics middleware as a real process, on the real AWS event samples: one EMF line per
invocation on STDERR, payloads untouched, cold start once per sandbox."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from aws_fixtures import raw
from emf_check import emf_lines
from mw_harness import TRACE, Persistent, clean_env, middleware, run_exec

METRICS = middleware("metrics")


def invoke_exec(tmp_path: Path, event: bytes, response: bytes, env: dict[str, str], hook: str = "after",
                request_id: str = "req-1") -> tuple[dict, bytes, bytes]:
    """`before` then `after` (or `error`) of one invocation, as the orchestrator runs them."""
    state = tmp_path / f"{request_id}.state"
    first = run_exec(METRICS, "before", event, state_file=state, env=env, request_id=request_id)
    second = run_exec(METRICS, hook, response, state_file=state, env=env, request_id=request_id)
    assert (first.status, second.status) == (0, 0), first.stderr + second.stderr
    assert emf_lines(first.stderr) == []  # nothing to say before the outcome is known
    document, = emf_lines(second.stderr)
    return document, first.stdout, second.stdout


@pytest.mark.parametrize(("fixture", "source"), [
    ("sqs-batch.json", "sqs"), ("apigw-v2-http-request.json", "apigw-v2"),
    ("s3-put.json", "s3"), ("eventbridge-scheduled-event.json", "eventbridge"),
])
def test_exec_mode_on_real_events(tmp_path: Path, fixture: str, source: str) -> None:
    event = raw(fixture)
    response = b'{"statusCode": 200, "body": "ok"}'
    env = {"TMPDIR": str(tmp_path), "METRICS_DIMENSIONS": "service,event_source", "METRICS_SERVICE": "orders"}
    document, event_out, response_out = invoke_exec(tmp_path, event, response, env)
    assert (event_out, response_out) == (event, response)  # byte-identical both ways
    assert document["event_source"] == source and document["service"] == "orders"
    assert document["RequestSize"] == len(event) and document["ResponseSize"] == len(response)
    assert (document["Success"], document["Error"]) == (1, 0)
    assert 0 <= document["Duration"] < 10_000
    assert document["requestId"] == "req-1" and document["traceId"] == TRACE


def test_cold_start_is_counted_once_per_sandbox_and_not_for_provisioned_concurrency(tmp_path: Path) -> None:
    env = {"TMPDIR": str(tmp_path)}
    event = raw("sqs-batch.json")
    first, _, _ = invoke_exec(tmp_path, event, b"{}", env, request_id="a")
    second, _, _ = invoke_exec(tmp_path, event, b"{}", env, request_id="b")
    assert (first["ColdStart"], second["ColdStart"]) == (1, 0)
    fresh = tmp_path / "provisioned"
    fresh.mkdir()
    provisioned, _, _ = invoke_exec(fresh, event, b"{}", {"TMPDIR": str(fresh),
                                    "AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency"})
    assert provisioned["ColdStart"] == 0


def test_an_error_counts_as_an_error_with_its_type(tmp_path: Path) -> None:
    err = b'{"errorType": "Runtime.HandlerError", "errorMessage": "boom"}'
    env = {"TMPDIR": str(tmp_path), "METRICS_ERROR_TYPE_DIMENSION": "true"}
    document, _, out = invoke_exec(tmp_path, raw("kinesis.json"), err, env, hook="error")
    assert out == err
    assert (document["Success"], document["Error"], document["error_type"]) == (0, 1, "Runtime.HandlerError")
    assert "ResponseSize" not in document


def test_persistent_mode_says_the_same_per_invocation(tmp_path: Path) -> None:
    process = Persistent(METRICS, env={"TMPDIR": str(tmp_path), "METRICS_NAMESPACE": "Shop"})
    try:
        assert process.start().header["hooks"] == ["before", "after", "error", "received", "done"]
        for index, fixture in enumerate(["sqs-batch.json", "dynamodb-stream.json"]):
            request_id = f"req-{index}"
            event = raw(fixture)
            answer = process.call("before", event, request_id=request_id)
            assert answer.payload == event
            result = process.call("after", b'{"ok":1}', state=answer.header.get("state"), request_id=request_id)
            assert result.payload == b'{"ok":1}'
        err = process.call("error", b'{"errorType":"X","errorMessage":"y"}', state=None, request_id="req-2")
        assert err.action == "continue"
        # `done` (its README entry): what was posted, after the post; nothing comes back.
        stages = [[None, "handler", 1_700_000_000_000_000, 2500], [None, "post", 1_700_000_000_003_000, 500]]
        posted = process.call("done", b'{"ok":1}', request_id="req-3",
                              extra={"outcome": "response", "stages": stages, "event_bytes": 77})
        assert (posted.action, posted.payload) == ("continue", b"")
        failed = process.call("done", b'{"errorType":"Sandbox.Timedout","errorMessage":"late"}', request_id="req-4",
                              extra={"outcome": "error", "stages": stages, "event_bytes": 77})
        assert (failed.action, failed.payload) == ("continue", b"")
        assert process.close_stdin() == 0
        documents = emf_lines(process.log())
    finally:
        if process.alive():
            process.kill()
    assert [d["requestId"] for d in documents] == ["req-0", "req-1", "req-2", "req-3", "req-4"]
    assert [d["ColdStart"] for d in documents] == [1, 0, 0, 0, 0]
    assert [d["Success"] for d in documents] == [1, 1, 0, 1, 0]
    assert all(d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Shop" for d in documents)
    assert "Duration" not in documents[2]  # an error hook without a `before`: no duration to tell
    assert (documents[3]["ResponseSize"], documents[3]["RequestSize"], documents[3]["HandlerDuration"]) == (8, 77, 2.5)
    # In `done`, Duration runs to the end of the orchestrator's post: what the caller waited for.
    assert documents[3]["Duration"] == documents[4]["Duration"] == 3.5
    assert "ResponseSize" not in documents[4] and documents[4]["Error"] == 1


def test_bad_settings_stop_it_at_start_naming_the_variable() -> None:
    result = subprocess.run([str(METRICS), "--persistent"], input=b"", capture_output=True, timeout=20,
                            env=clean_env({"METRICS_DIMENSIONS": "colour", "OPENRUNTIME_PROTOCOL": "2"}))
    assert result.returncode == 1 and result.stdout == b""  # no ready frame
    assert result.stderr.decode().strip().startswith("Metrics.ConfigError: METRICS_DIMENSIONS: 'colour'")
    assert "Traceback" not in result.stderr.decode()


def test_received_beside_before_keeps_what_before_measured(tmp_path: Path) -> None:
    """[before, received, done]: `received` adds the event source only; the cold start and
    the request size stay as `before` counted them."""
    process = Persistent(METRICS, env={"TMPDIR": str(tmp_path), "METRICS_DIMENSIONS": "service,event_source"})
    try:
        process.start()
        event = raw("sqs-batch.json")
        state = process.call("before", event, request_id="req-0").header.get("state")
        state = process.call("received", event, state=state, request_id="req-0").header.get("state")
        process.call("done", b'{"ok":1}', state=state, request_id="req-0", extra={"outcome": "response"})
        assert process.close_stdin() == 0
        document, = emf_lines(process.log())
    finally:
        if process.alive():
            process.kill()
    assert (document["ColdStart"], document["RequestSize"], document["event_source"]) == (1, len(event), "sqs")
