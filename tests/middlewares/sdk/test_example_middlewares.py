"""`timing` (Node) and `enrich` (bash): the SDKs in real middlewares, and a mixed chain."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mw_harness import Persistent, middleware, needs_node, now_ms, run_exec

TIMING = middleware("timing")
ENRICH = middleware("enrich")
Spawn = Callable[..., Persistent]


# ------------------------------------------------------------------------ enrich (bash)


def test_enrich_adds_the_openruntime_object() -> None:
    deadline = now_ms() + 5_000
    result = run_exec(ENRICH, "before", b'{"order": 1}', request_id="req-e", deadline_ms=deadline)
    assert result.status == 0, result.stderr
    event = result.json()
    meta = event.pop("openruntime")
    assert event == {"order": 1}
    assert meta["requestId"] == "req-e" and meta["by"] == "bash"
    assert abs(meta["receivedAtMs"] - now_ms()) < 10_000
    assert 0 < meta["remainingMs"] <= 5_000


def test_enrich_answers_warmup_pings_itself() -> None:
    result = run_exec(ENRICH, "before", b'{"source": "serverless-plugin-warmup"}')
    assert result.status == 3
    assert result.json() == {"warmup": True}


def test_enrich_leaves_non_objects_and_other_hooks_alone() -> None:
    assert run_exec(ENRICH, "before", b"[1, 2]").stdout == b"[1, 2]"
    assert run_exec(ENRICH, "after", b'{"r": 1}\n').stdout == b'{"r": 1}\n'


# ------------------------------------------------------------------------ timing (node)


@needs_node
def test_timing_exec_adds_timing_to_a_json_response(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = run_exec(TIMING, "before", b'{"in": 1}', state_file=state)
    assert first.stdout == b'{"in": 1}'
    time.sleep(0.15)
    result = run_exec(TIMING, "after", b'{"result": 42}', state_file=state, request_id="req-t")
    assert result.status == 0, result.stderr
    response = result.json()
    timing = response.pop("timing")
    assert response == {"result": 42}
    assert timing["requestId"] == "req-t" and timing["measuredBy"] == "timing"
    assert 150 <= timing["durationMs"] < 10_000
    assert timing["startedAt"].endswith("Z")


@needs_node
def test_timing_persistent_http_response_gets_a_server_timing_header(spawn: Spawn) -> None:
    mw = spawn(TIMING)
    assert mw.ready is not None and mw.ready.header["hooks"] == ["before", "after"]
    state = mw.call("before", b"{}").header["state"]
    response = {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "hi"}
    answer = mw.call("after", json.dumps(response).encode(), state=state)
    got = answer.json()
    header = got["headers"].pop("Server-Timing")
    assert got == response  # no unknown keys: API Gateway would reject them
    assert header.startswith("openruntime;dur=")
    multi = {"statusCode": 200, "multiValueHeaders": {"x": ["1"]}, "body": ""}
    got = mw.call("after", json.dumps(multi).encode(), state=state).json()
    assert got["multiValueHeaders"]["Server-Timing"][0].startswith("openruntime;dur=")


@needs_node
def test_timing_leaves_what_it_cannot_annotate(spawn: Spawn) -> None:
    mw = spawn(TIMING)
    state = mw.call("before", b"{}").header["state"]
    for payload in (b'"text"', b"[1]", b"\x00binary"):
        assert mw.call("after", payload, state=state).payload == payload
    assert mw.call("after", b'{"a": 1}').payload == b'{"a": 1}'  # no before: no timing


# ------------------------------------------------------------------------ mixed chain


@needs_node
def test_one_invocation_through_python_bash_and_node_middlewares(tmp_path: Path) -> None:
    """log (Python) -> enrich (bash) -> timing (Node) -> validate (Python), onion order."""
    chain = [middleware("log"), ENRICH, TIMING, middleware("validate")]
    env = {"VALIDATE_SCHEMA_JSON": json.dumps({"type": "object", "required": ["order", "openruntime"]})}
    states = {exe.name: tmp_path / f"{exe.name}.state" for exe in chain}

    def hook(exe: Path, name: str, payload: bytes) -> bytes:
        result = run_exec(exe, name, payload, state_file=states[exe.name], env=env, request_id="req-chain")
        assert result.status == 0, (exe.name, name, result.stderr)
        return result.stdout

    payload = b'{"order": 7}'
    for exe in chain:
        payload = hook(exe, "before", payload)
    event = json.loads(payload)
    assert event["order"] == 7 and event["openruntime"]["by"] == "bash"

    response: Any = {"handled": event["order"]}
    payload = json.dumps(response).encode()
    for exe in reversed(chain):
        payload = hook(exe, "after", payload)
    final = json.loads(payload)
    assert final["handled"] == 7
    assert final["timing"]["requestId"] == "req-chain"
