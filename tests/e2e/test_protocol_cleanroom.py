"""The middleware protocol as documented, implemented by a third party.

tests/e2e/cleanroom/ holds three middlewares written from docs/middleware-protocol.md and
docs/pipeline.md alone (no SDK, no orchestrator code): `cleanroom-py` and `cleanroom-node`
(persistent mode) and `cleanroom-sh` (exec mode, POSIX sh). These tests run them in real
pipelines — emulator → orchestrator → clean-room middlewares → the bundled Python runtime —
and check what the docs promise a user will see. See tests/e2e/cleanroom/README.md for what
each middleware does on a call (`CR_<HOOK>=ACTION` or a `@NAME.HOOK=ACTION@` token).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from openruntime.emulator.sandbox import FunctionSettings
from tests.conftest import orchestrated, wait_gone, write_pipeline

CLEANROOM = Path(__file__).resolve().parent / "cleanroom"
LANGS = ["py", "node", "sh"]  # sh is exec mode, the others persistent
PERSISTENT = ["py", "node"]
UNICODE = "h\u00e9llo \u2713 \u65e5\u672c"
OCTET = "application/octet-stream"

APP = '''
import hashlib, os, time

def _note(context):
    with open(os.environ["CR_HANDLER_LOG"], "a") as f:
        f.write(context.aws_request_id + "\\n")

def show(event, context):
    """What the handler was given: the event and the context."""
    _note(context)
    if isinstance(event, dict) and event.get("boom"):
        raise ValueError("the handler failed on purpose")
    if isinstance(event, (bytes, bytearray)):
        shown = {"sha256": hashlib.sha256(event).hexdigest(), "len": len(event), "head": event[:40].decode("latin-1")}
    else:
        shown = event
    return {"event": shown, "eventType": type(event).__name__, "requestId": context.aws_request_id,
            "deadlineMs": context._epoch_deadline_time_in_ms, "functionArn": context.invoked_function_arn,
            "traceId": os.environ.get("_X_AMZN_TRACE_ID")}

def echo(event, context):
    _note(context)
    return event

def boom(event, context):
    _note(context)
    raise ValueError("the handler failed on purpose")
'''


def mode_of(lang: str) -> str:
    return "exec" if lang == "sh" else "persistent"


class Cleanroom:
    """A task root, the pipeline around it, and what the clean-room middlewares recorded."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.app = tmp_path / "app"
        self.app.mkdir()
        (self.app / "app.py").write_text(APP)
        self.log = tmp_path / "calls.jsonl"
        self.handler_log = tmp_path / "handler.txt"
        self.pidfile = tmp_path / "pids.txt"

    def mw(self, name: str, lang: str, **options: Any) -> dict[str, Any]:
        env = {"CR_LOG": str(self.log), "CR_PIDFILE": str(self.pidfile), **options.pop("env", {})}
        entry = {"name": name, "command": str(CLEANROOM / f"cleanroom-{lang}"), "mode": mode_of(lang),
                 "hooks": ["before", "after", "error"], "env": env}
        entry.update(options)
        return entry

    def pipeline(self, middlewares: list[dict[str, Any]], handler: str = "app.show",
                 runtime_env: dict[str, str] | None = None) -> Path:
        document = {
            "runtime": {"name": "python", "handler": handler, "task_root": str(self.app),
                        "env": {"CR_HANDLER_LOG": str(self.handler_log), **(runtime_env or {})}},
            "middlewares": middlewares,
        }
        return write_pipeline(self.tmp, yaml.safe_dump(document))

    def records(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    def calls(self, request_id: str | None = None, name: str | None = None) -> list[dict[str, Any]]:
        """Hook calls, flattened: persistent header keys and exec env values alike."""
        out = []
        for r in self.records():
            if r["event"] != "call":
                continue
            flat = {**r, **r.get("header", {})}
            if (request_id is None or flat["request_id"] == request_id) and (name is None or flat["name"] == name):
                out.append(flat)
        return out

    def starts(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["event"] == "start" and r["name"] == name]

    def order(self, request_id: str) -> list[str]:
        return [f"{c['name']}.{c['hook']}" for c in self.calls(request_id)]

    def handler_ran(self) -> list[str]:
        return self.handler_log.read_text().splitlines() if self.handler_log.exists() else []


@pytest.fixture
def cr(tmp_path: Path) -> Cleanroom:
    return Cleanroom(tmp_path)


def before_state(cr: Cleanroom, lang: str, name: str, rid: str) -> dict[str, Any]:
    """The state the clean-room middleware stores in `before`."""
    state = {"rid": rid, "by": name}
    return state if lang == "sh" else {**state, "text": UNICODE}


# -- onion order, payload changes, short-circuit ----------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_onion_order_payload_changes_and_state(cr: Cleanroom, lang: str) -> None:
    tag = {"env": {"CR_BEFORE": "tag", "CR_AFTER": "tag"}}
    pipeline = cr.pipeline([cr.mw("a", lang, **tag), cr.mw("b", lang), cr.mw("c", lang, **tag)])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    rid = result.request_id
    body = result.json()
    assert cr.order(rid) == ["a.before", "b.before", "c.before", "c.after", "b.after", "a.after"]
    # The handler got both `before` changes (a's first, then c's on top).
    assert body["event"]["x"] == 1
    assert body["event"]["a.before"] == {"rid": rid, "state": None}
    assert body["event"]["c.before"] == {"rid": rid, "state": None}
    # Each `after` saw the state its own `before` stored.
    assert body["c.after"] == {"rid": rid, "state": before_state(cr, lang, "c", rid)}
    assert body["a.after"] == {"rid": rid, "state": before_state(cr, lang, "a", rid)}


def test_onion_order_across_languages_and_modes(cr: Cleanroom) -> None:
    tag = {"env": {"CR_BEFORE": "tag", "CR_AFTER": "tag"}}
    pipeline = cr.pipeline([cr.mw("sh", "sh", **tag), cr.mw("py", "py", **tag), cr.mw("node", "node", **tag)])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    assert cr.order(result.request_id) == ["sh.before", "py.before", "node.before",
                                           "node.after", "py.after", "sh.after"]
    body = result.json()
    assert set(body["event"]) == {"x", "sh.before", "py.before", "node.before"}
    assert {"node.after", "py.after", "sh.after"} <= set(body)


@pytest.mark.parametrize("lang", LANGS)
def test_short_circuit_from_before_skips_the_handler_and_runs_only_outer_afters(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang, env={"CR_AFTER": "tag"}), cr.mw("b", lang), cr.mw("c", lang)])
    with orchestrated(pipeline) as emulator:
        short = emulator.invoke(b'{"cmd": "@b.before=respond@"}')
        normal = emulator.invoke(b'{"cmd": "nothing"}')
    assert short.function_error is None, short.body
    rid = short.request_id
    assert short.json() == {"respondedBy": "b", "hook": "before", "state": None,
                            "a.after": {"rid": rid, "state": before_state(cr, lang, "a", rid)}}
    assert cr.order(rid) == ["a.before", "b.before", "a.after"]
    assert cr.handler_ran() == [normal.request_id]
    assert cr.order(normal.request_id) == ["a.before", "b.before", "c.before", "c.after", "b.after", "a.after"]


@pytest.mark.parametrize("lang", LANGS)
def test_respond_in_after_is_the_same_as_continue(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang, env={"CR_AFTER": "tag"}), cr.mw("b", lang, env={"CR_AFTER": "respond"})])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    rid = result.request_id
    body = result.json()
    # b's answer replaced the response and a's after still ran on it.
    assert body["respondedBy"] == "b" and body["hook"] == "after"
    assert body["state"] == before_state(cr, lang, "b", rid)
    assert body["a.after"]["rid"] == rid
    assert cr.order(rid) == ["a.before", "b.before", "b.after", "a.after"]


# -- error hooks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_handler_error_runs_error_hooks_in_reverse_order(cr: Cleanroom, lang: str) -> None:
    rewrite = {"env": {"CR_ERROR": "rewrite"}}
    pipeline = cr.pipeline([cr.mw("a", lang, **rewrite), cr.mw("b", lang, **rewrite), cr.mw("c", lang, **rewrite)],
                           handler="app.boom")
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error == "Unhandled"
    assert cr.order(result.request_id) == ["a.before", "b.before", "c.before", "c.error", "b.error", "a.error"]
    error = result.json()
    assert error["errorType"] == "ValueError"
    if lang == "sh":
        assert error["errorMessage"] == "the handler failed on purpose"
        assert error["seenBy_a"] is error["seenBy_b"] is error["seenBy_c"] is True
    else:
        assert error["errorMessage"] == "a saw: b saw: c saw: the handler failed on purpose"
        assert error["seenBy"] == ["c", "b", "a"]
    # The error hook's payload is the error JSON.
    assert {c["content_type"] for c in cr.calls(result.request_id) if c["hook"] == "error"} == {"application/json"}


@pytest.mark.parametrize("lang", LANGS)
def test_error_hook_recovers_with_its_state_and_outer_layers_get_after(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang, env={"CR_AFTER": "tag"}), cr.mw("b", lang, env={"CR_ERROR": "recover"}),
                            cr.mw("c", lang)], handler="app.boom")
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    rid = result.request_id
    body = result.json()
    assert body["recoveredBy"] == "b"
    assert body["state"] == before_state(cr, lang, "b", rid)  # state reached the error hook
    assert body["error"]["errorType"] == "ValueError"
    assert body["error"]["errorMessage"] == "the handler failed on purpose"
    assert body["a.after"]["rid"] == rid
    assert cr.order(rid) == ["a.before", "b.before", "c.before", "c.error", "b.error", "a.after"]


@pytest.mark.parametrize("lang", LANGS)
def test_own_error_object_in_before_is_the_invocations_error(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang), cr.mw("b", lang, env={"CR_BEFORE": "fail"}), cr.mw("c", lang)])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error == "Unhandled"
    rid = result.request_id
    error = result.json()
    assert error["errorType"] == "Cleanroom.Failed"
    assert error["errorMessage"] == "b failed in before"
    assert error["detail"] == {"n": 1}  # other keys are kept
    assert error["requestId"] == rid
    assert "middleware" in error
    assert cr.order(rid) == ["a.before", "b.before", "a.error"]
    assert cr.handler_ran() == []


@pytest.mark.parametrize("lang", LANGS)
def test_failing_after_reaches_only_the_outer_error_hooks(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang, env={"CR_ERROR": "recover"}), cr.mw("b", lang),
                            cr.mw("c", lang, env={"CR_AFTER": "fail"})])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    rid = result.request_id
    assert cr.order(rid) == ["a.before", "b.before", "c.before", "c.after", "b.error", "a.error"]
    body = result.json()
    assert body["recoveredBy"] == "a"
    assert body["error"]["errorType"] == "Cleanroom.Failed"
    assert body["error"]["errorMessage"] == "c failed in after"
    assert cr.handler_ran() == [rid]


def test_exec_exit_status_is_an_exit_error_with_the_stderr_tail(cr: Cleanroom) -> None:
    pipeline = cr.pipeline([cr.mw("auth", "sh", env={"CR_BEFORE": "exit1"})])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error == "Unhandled"
    error = result.json()
    assert error["errorType"] == "Middleware.ExitError"
    assert error["errorMessage"].startswith("middleware 'auth' hook 'before' exited with status 1: ")
    assert error["errorMessage"].endswith("token missing")
    assert error["requestId"] == result.request_id
    details = error["middleware"]
    assert (details["name"], details["hook"], details["exitStatus"]) == ("auth", "before", 1)
    assert details["stderrTail"].endswith("token missing")


# -- payload bytes -------------------------------------------------------------------------------------


def binary_blob(size: int) -> bytes:
    """Every byte value, CR/LF/NUL included, not valid UTF-8 and not JSON."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


@pytest.mark.parametrize("lang", LANGS)
def test_binary_payload_passes_through_unchanged(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang), cr.mw("b", lang)], handler="app.echo")
    blob = b"\xff\xfe\x00{not json}\r\n" + binary_blob(100_000) + b"\x00end"
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(blob, content_type=OCTET)
    assert result.function_error is None, result.body
    assert result.body == blob
    for call in cr.calls(result.request_id):
        assert call["payload_len"] == len(blob)
    assert {c["content_type"] for c in cr.calls(result.request_id, "a") if c["hook"] == "before"} == {OCTET}


@pytest.mark.parametrize("lang", PERSISTENT)
def test_binary_payload_changed_in_both_directions(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang, env={"CR_BEFORE": "reverse", "CR_AFTER": "reverse"})], handler="app.echo")
    blob = binary_blob(5000) + b"\n"
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(blob, content_type=OCTET)
    assert result.function_error is None, result.body
    assert result.body == blob  # reversed on the way in, echoed, reversed back
    before, after = cr.calls(result.request_id)
    assert before["sha256"] == hashlib.sha256(blob).hexdigest()
    assert after["sha256"] == hashlib.sha256(blob[::-1]).hexdigest()  # what the handler got and returned
    assert after["content_type"] == "application/unknown"  # what the runtime posted with bytes


def test_exec_binary_payload_changed_in_both_directions(cr: Cleanroom) -> None:
    pipeline = cr.pipeline([cr.mw("a", "sh", env={"CR_BEFORE": "prefix", "CR_AFTER": "prefix"})], handler="app.echo")
    blob = b"\x00\x01" + binary_blob(3000) + b"\x00"
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(blob, content_type=OCTET)
    assert result.function_error is None, result.body
    assert result.body == b"SH>SH>" + blob


def test_five_megabytes_through_every_kind_of_middleware(cr: Cleanroom) -> None:
    pipeline = cr.pipeline([cr.mw("sh", "sh"), cr.mw("py", "py"), cr.mw("node", "node")], handler="app.echo")
    blob = os.urandom(5 * 1024 * 1024)
    document = json.dumps({"data": "x" * (5 * 1024 * 1024 - 20), "text": UNICODE}, ensure_ascii=False).encode()
    with orchestrated(pipeline) as emulator:
        binary = emulator.invoke(blob, content_type=OCTET)
        as_json = emulator.invoke(document)
    assert binary.function_error is None, binary.body[:500]
    assert hashlib.sha256(binary.body).hexdigest() == hashlib.sha256(blob).hexdigest()
    assert as_json.function_error is None, as_json.body[:500]
    assert json.loads(as_json.body) == json.loads(document)
    for call in cr.calls(binary.request_id):
        assert call["payload_len"] == len(blob), call["name"]
    for call in cr.calls(as_json.request_id, "py") + cr.calls(as_json.request_id, "node"):
        if call["hook"] == "before":
            assert call["sha256"] == hashlib.sha256(document).hexdigest()


@pytest.mark.parametrize("lang", PERSISTENT)
def test_frame_lengths_are_bytes_and_headers_are_utf8(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang, env={"CR_BEFORE": "unicode", "CR_AFTER": "tag"})])
    event = json.dumps({"name": "Zo\u00eb \u2603"}, ensure_ascii=False).encode()
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(event)
    assert result.function_error is None, result.body
    rid = result.request_id
    body = result.json()
    assert body["event"] == {"name": "Zo\u00eb \u2603", "a.before": UNICODE}
    # The non-ASCII state went out in a header and came back intact.
    assert body["a.after"]["state"]["text"] == UNICODE
    before = cr.calls(rid, "a")[0]
    assert before["length"] == len(event) and before["payload_len"] == len(event)


@pytest.mark.parametrize("lang", LANGS)
def test_non_json_output_where_the_payload_is_json_is_invalid_output(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("outer", lang, env={"CR_ERROR": "recover"}),
                            cr.mw("garbler", lang, env={"CR_BEFORE": "nonjson"})], handler="app.show")
    with orchestrated(pipeline) as emulator:
        as_json = emulator.invoke(b'{"x": 1}')
        as_bytes = emulator.invoke(b"raw bytes", content_type=OCTET)
    assert as_json.function_error is None, as_json.body
    error = as_json.json()["error"]  # reached the outer error hook
    assert error["errorType"] == "Middleware.InvalidOutput"
    assert "garbler" in error["errorMessage"]
    assert error["requestId"] == as_json.request_id
    # Not JSON content: no check, the handler gets the bytes.
    assert as_bytes.function_error is None, as_bytes.body
    assert as_bytes.json()["event"]["head"] == "this is not JSON"


@pytest.mark.parametrize("lang", PERSISTENT)
def test_content_type_set_in_before_reaches_later_middlewares_and_the_runtime(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang, env={"CR_BEFORE": "octet"}), cr.mw("b", "sh")])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    body = result.json()
    # Not application/json any more: the runtime hands the handler the raw bytes.
    assert body["eventType"] == "bytes" and body["event"]["head"] == "\x00\xffbinary from a"
    seen = {(c["name"], c["hook"]): c["content_type"] for c in cr.calls(result.request_id)}
    assert seen[("a", "before")] == "application/json"
    assert seen[("b", "before")] == OCTET


@pytest.mark.parametrize("lang", PERSISTENT)
def test_a_plus_json_content_type_is_checked_but_not_parsed_by_the_runtime(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang, env={"CR_BEFORE": "cejson"}), cr.mw("b", lang)])
    with orchestrated(pipeline) as emulator:
        ok = emulator.invoke(b'{"x":1}')
        bad = emulator.invoke(b'{"cmd": "@b.before=nonjson@"}')
    assert ok.function_error is None, ok.body
    assert ok.json()["eventType"] == "bytes"  # the runtime parses only exactly application/json
    assert ok.json()["event"]["head"] == '{"x":1}'
    assert cr.calls(ok.request_id, "b")[0]["content_type"] == "application/cloudevents+json"
    assert bad.function_error == "Unhandled"
    assert bad.json()["errorType"] == "Middleware.InvalidOutput"
    assert bad.json()["middleware"]["name"] == "b"


@pytest.mark.parametrize("lang", PERSISTENT)
def test_content_type_of_an_answer_reaches_outer_middlewares_and_the_caller(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("o", "sh"), cr.mw("a", lang)])
    with orchestrated(pipeline) as emulator:
        changed = emulator.invoke(b'{"cmd": "@a.after=textplain@"}')
        short = emulator.invoke(b'{"cmd": "@a.before=respondhtml@"}')
    assert changed.function_error is None, changed.body
    assert changed.body == b"plain text from a"
    assert changed.headers["content-type"] == "text/plain"
    assert [c["content_type"] for c in cr.calls(changed.request_id, "o")] == ["application/json", "text/plain"]
    assert short.function_error is None, short.body
    assert short.body == b"<h1>from a</h1>" and short.headers["content-type"] == "text/html"
    assert cr.order(short.request_id) == ["o.before", "a.before", "o.after"]
    assert [c["content_type"] for c in cr.calls(short.request_id, "o")] == ["application/json", "text/html"]


@pytest.mark.parametrize("lang", PERSISTENT)
@pytest.mark.parametrize("action", ["failempty", "failnotype"])
def test_fail_without_an_error_type_is_middleware_failed(cr: Cleanroom, lang: str, action: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang, env={"CR_BEFORE": action})])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error == "Unhandled"
    error = result.json()
    assert error["errorType"] == "Middleware.Failed"
    assert error["requestId"] == result.request_id and error["middleware"]["name"] == "a"
    if action == "failnotype":
        assert error["errorMessage"] == "a failed without a type"


# -- context -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_context_is_what_the_handler_sees(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("ctx", lang)])
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    with orchestrated(pipeline, timeout_s=7) as emulator:
        started = time.time() * 1000
        result = emulator.invoke(b'{"x": 1}', trace_id=trace)
    assert result.function_error is None, result.body
    seen = result.json()
    calls = cr.calls(result.request_id)
    assert [c["hook"] for c in calls] == ["before", "after"]
    for call in calls:
        assert call["request_id"] == seen["requestId"] == result.request_id
        assert int(call["deadline_ms"]) == seen["deadlineMs"]
        assert call["function_arn"] == seen["functionArn"] == FunctionSettings().arn
        assert call["trace_id"] == seen["traceId"] == trace
        assert call["middleware"] == "ctx"
        assert call["content_type"] == "application/json"
    assert started + 5000 < seen["deadlineMs"] <= started + 7000 + 1000
    if lang == "sh":
        assert [c["env_hook"] for c in calls] == ["before", "after"]


# -- state ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_state_is_private_to_the_middleware_and_the_invocation(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang), cr.mw("b", lang)])
    with orchestrated(pipeline) as emulator:
        first = emulator.invoke(b'{"n": 1}')
        second = emulator.invoke(b'{"n": 2}')
    for result in (first, second):
        assert result.function_error is None, result.body
        rid = result.request_id
        for name in "ab":
            before, after = cr.calls(rid, name)
            assert before["state"] is None  # nothing from the last invocation or the other middleware
            assert after["state"] == before_state(cr, lang, name, rid)
    if lang == "sh":
        files = set()
        for call in cr.calls():
            if call["hook"] == "before":
                assert call["state_file_existed"] is True and call["state_file_size"] == 0  # "empty at before"
            files.add(call["state_file"])
        assert len(files) == 4  # one per middleware and invocation
        assert not any(Path(f).exists() for f in files)  # deleted when the invocation ended


@pytest.mark.parametrize("lang", PERSISTENT)
def test_answer_without_state_keeps_the_previous_value(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang, env={"CR_BEFORE": "nostate"})])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    assert [c["state"] for c in cr.calls(result.request_id)] == [None, None]


# -- persistent process ----------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", PERSISTENT)
def test_persistent_process_starts_once_with_the_documented_environment(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("p", lang, env={"MY_SETTING": "on"})],
                           runtime_env={"RUNTIME_ONLY": "secret"})
    with orchestrated(pipeline) as emulator:
        results = [emulator.invoke(b'{"n": %d}' % n) for n in range(3)]
    assert all(r.function_error is None for r in results)
    (start,) = cr.starts("p")
    assert start["argv"][-1] == "--persistent"
    env = start["env"]
    assert env["OPENRUNTIME_PROTOCOL"] == "2"
    assert env["OPENRUNTIME_MIDDLEWARE"] == "p"
    assert env["MY_SETTING"] == "on"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "test_function"  # the function's environment
    assert "AWS_LAMBDA_RUNTIME_API" not in env
    assert "RUNTIME_ONLY" not in env  # runtime.env is for the runtime only
    assert {c["pid"] for c in cr.calls()} == {start["pid"]}
    assert len(cr.calls()) == 6


def middleware_env(cr: Cleanroom, lang: str, name: str) -> dict[str, str]:
    if lang != "sh":
        return cr.starts(name)[0]["env"]
    text = Path(f"{cr.log}.{name}.before.env").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("allow", [None, ["AWS_LAMBDA_FUNCTION_NAME"]])
def test_middleware_environment_is_the_functions_filtered_plus_its_own(
    cr: Cleanroom, lang: str, allow: list[str] | None
) -> None:
    options: dict[str, Any] = {"env": {"CR_BEFORE": "env" if lang == "sh" else "pass", "MY_SETTING": "on"}}
    if allow:
        options["env_allow"] = allow
    pipeline = cr.pipeline([cr.mw("m", lang, **options)], runtime_env={"RUNTIME_ONLY": "x"})
    with orchestrated(pipeline, env={"FUNCTION_SECRET": "s3cr3t"}) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    env = middleware_env(cr, lang, "m")
    assert env["MY_SETTING"] == "on" and env["OPENRUNTIME_MIDDLEWARE"] == "m"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "test_function" and "PATH" in env
    assert "AWS_LAMBDA_RUNTIME_API" not in env
    assert "RUNTIME_ONLY" not in env
    assert ("FUNCTION_SECRET" in env) is (allow is None)
    assert ("AWS_REGION" in env) is (allow is None)
    if lang == "sh":
        assert env["OPENRUNTIME_HOOK"] == "before" and env["OPENRUNTIME_REQUEST_ID"] == result.request_id


@pytest.mark.parametrize("lang", PERSISTENT)
def test_ready_hooks_narrow_the_calls(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang, env={"CR_HOOKS": "before", "CR_BEFORE": "tag", "CR_AFTER": "tag"})])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    assert cr.order(result.request_id) == ["a.before"]
    assert "a.after" not in result.json() and "a.before" in result.json()["event"]


@pytest.mark.parametrize("lang", PERSISTENT)
def test_pipeline_hooks_limit_what_ready_hooks_ask_for(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("a", lang, hooks=["before"], env={"CR_HOOKS": "before,after,error"})])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    assert cr.order(result.request_id) == ["a.before"]


def test_exec_and_persistent_commands_get_the_hook_or_flag_appended(cr: Cleanroom) -> None:
    pipeline = cr.pipeline([
        cr.mw("s", "sh", command=[str(CLEANROOM / "cleanroom-sh"), "--extra", "arg"]),
        cr.mw("p", "py", command=["python3", str(CLEANROOM / "cleanroom-py"), "--flag"]),
    ])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    assert [c["argv"] for c in cr.calls(result.request_id, "s")] == ["--extra arg before", "--extra arg after"]
    assert cr.starts("p")[0]["argv"] == ["--flag", "--persistent"]


@pytest.mark.parametrize("lang", PERSISTENT)
def test_persistent_crash_is_crashed_and_the_process_is_started_again(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("outer", lang, env={"CR_ERROR": "recover"}), cr.mw("victim", lang)])
    with orchestrated(pipeline) as emulator:
        crashed = emulator.invoke(b'{"cmd": "@victim.before=crash@"}')
        after = emulator.invoke(b'{"cmd": "fine"}')
    assert crashed.function_error is None, crashed.body
    error = crashed.json()["error"]
    assert error["errorType"] == "Middleware.Crashed"
    assert "victim" in error["errorMessage"]
    assert error["middleware"]["name"] == "victim" and error["middleware"]["hook"] == "before"
    assert error["middleware"]["exitStatus"] == 7  # it exited on its own
    assert "victim crashing on purpose" in error["middleware"]["stderrTail"]
    assert after.function_error is None, after.body
    starts = cr.starts("victim")
    assert len(starts) == 2 and starts[0]["pid"] != starts[1]["pid"]
    assert {c["pid"] for c in cr.calls(after.request_id, "victim")} == {starts[1]["pid"]}


@pytest.mark.parametrize("lang", PERSISTENT)
def test_persistent_malformed_frame_is_invalid_frame_and_the_process_is_started_again(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("victim", lang)])
    with orchestrated(pipeline) as emulator:
        broken = emulator.invoke(b'{"cmd": "@victim.before=garbage@"}')
        after = emulator.invoke(b'{"cmd": "fine"}')
    assert broken.function_error == "Unhandled"
    assert broken.json()["errorType"] == "Middleware.InvalidFrame"
    assert broken.json()["middleware"]["name"] == "victim"
    assert after.function_error is None, after.body
    assert len(cr.starts("victim")) == 2


@pytest.mark.parametrize("lang", LANGS)
def test_timeout_fails_the_invocation_and_kills_the_middleware(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("slow", lang, timeout_ms=700)])
    with orchestrated(pipeline) as emulator:
        started = time.monotonic()
        hung = emulator.invoke(b'{"cmd": "@slow.before=hang@"}')
        took = time.monotonic() - started
        after = emulator.invoke(b'{"cmd": "fine"}')
    assert hung.function_error == "Unhandled"
    error = hung.json()
    assert error["errorType"] == "Middleware.Timeout"
    assert error["middleware"]["name"] == "slow" and error["middleware"]["hook"] == "before"
    assert "exitStatus" not in error["middleware"]  # killed for a timeout, not exited
    assert took < 5
    middleware_pid, child_pid = map(int, cr.pidfile.read_text().split())
    assert wait_gone([middleware_pid]) == []
    if lang != "sh":  # persistent: "killed (whole process group)"
        assert wait_gone([child_pid]) == []
    assert after.function_error is None, after.body


@pytest.mark.parametrize("lang", LANGS)
def test_a_hook_never_runs_past_the_functions_deadline(cr: Cleanroom, lang: str) -> None:
    # timeout_ms is the default 10 s; the function has 2 s: the hook is cut short at the deadline.
    pipeline = cr.pipeline([cr.mw("slow", lang, env={"CR_BEFORE": "sleep", "CR_SLEEP_S": "30"})])
    with orchestrated(pipeline, timeout_s=2) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error == "Unhandled"
    # Middleware.Timeout, not Lambda's Sandbox.Timedout: the hook was cut before the deadline
    assert result.json()["errorType"] == "Middleware.Timeout"
    assert result.json()["middleware"]["name"] == "slow"


def test_exec_middleware_killed_by_a_signal_is_an_exit_error(cr: Cleanroom) -> None:
    pipeline = cr.pipeline([cr.mw("victim", "sh", env={"CR_BEFORE": "killself"})])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
        after = emulator.invoke(b'{"cmd": "@victim.before=pass@"}')
    assert result.function_error == "Unhandled"
    error = result.json()
    assert error["errorType"] == "Middleware.ExitError"
    assert "'victim'" in error["errorMessage"] and "'before'" in error["errorMessage"]
    assert error["middleware"]["name"] == "victim"
    assert after.function_error is None, after.body


# -- failure policy ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_on_error_skip_in_before_continues_without_the_middleware(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("skipper", lang, on_error="skip", env={"CR_BEFORE": "fail"}),
                            cr.mw("tagger", lang, env={"CR_BEFORE": "tag"})])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"kept": 1}')
    assert result.function_error is None, result.body
    rid = result.request_id
    assert result.json()["event"] == {"kept": 1, "tagger.before": {"rid": rid, "state": None}}
    # Its before was skipped: no after (nor error) for it in this invocation.
    assert cr.order(rid) == ["skipper.before", "tagger.before", "tagger.after"]


@pytest.mark.parametrize("lang", LANGS)
def test_on_error_skip_in_after_and_error_keeps_the_payload_it_received(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("outer", lang, env={"CR_AFTER": "tag"}),
                            cr.mw("skipper", lang, on_error="skip", env={"CR_AFTER": "fail", "CR_ERROR": "fail"})])
    with orchestrated(pipeline) as emulator:
        ok = emulator.invoke(b'{"y": 2}')
        failed = emulator.invoke(b'{"boom": true}')
    assert ok.function_error is None, ok.body
    assert ok.json()["event"] == {"y": 2} and ok.json()["outer.after"]["rid"] == ok.request_id
    assert failed.function_error == "Unhandled"
    assert failed.json()["errorType"] == "ValueError"
    assert failed.json()["errorMessage"] == "the handler failed on purpose"


# -- errors at init ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["exec", "persistent"])
@pytest.mark.parametrize("problem", ["missing", "no run bit"])
def test_middleware_that_cannot_be_run_is_not_found_at_init(cr: Cleanroom, mode: str, problem: str) -> None:
    command = cr.tmp / "bin" / "mw"
    if problem == "no run bit":
        command.parent.mkdir()
        command.write_bytes((CLEANROOM / "cleanroom-py").read_bytes())
        command.chmod(0o644)
    pipeline = cr.pipeline([{"name": "ghost", "command": str(command), "mode": mode}])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Middleware.NotFound"
    assert "ghost" in result.json()["errorMessage"]


def test_middlewares_are_found_by_name_on_the_middleware_path(cr: Cleanroom) -> None:
    nested = cr.tmp / "mwpath" / "nested"
    nested.mkdir(parents=True)
    (nested / "nested").symlink_to(CLEANROOM / "cleanroom-node")  # DIR/X/X
    log = {"CR_LOG": str(cr.log), "CR_BEFORE": "tag"}
    pipeline = cr.pipeline([
        {"name": "cleanroom-sh", "env": log},                                  # DIR/X, exec by default
        {"name": "cleanroom-py", "mode": "persistent", "env": log},
        {"name": "nested", "mode": "persistent", "env": log},
    ])
    path = f"{cr.tmp / 'mwpath'}:{CLEANROOM}"
    with orchestrated(pipeline, env={"OPENRUNTIME_MIDDLEWARE_PATH": path}) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    assert set(result.json()["event"]) == {"x", "cleanroom-sh.before", "cleanroom-py.before", "nested.before"}
    assert [c["mode"] for c in cr.calls(result.request_id) if c["hook"] == "before"] == [
        "exec", "persistent", "persistent"]


# -- logs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_stderr_lines_are_logged_with_name_and_request_id(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("talker", lang, env={"CR_BEFORE": "stderr"})])
    logfile = cr.tmp / "function.log"
    with orchestrated(pipeline, stderr_file=logfile) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    rid = result.request_id
    lines = logfile.read_text().splitlines()
    assert f"[talker] {rid} plain line from talker before" in lines
    structured = [json.loads(line) for line in lines if line.startswith("{") and "json from talker" in line]
    assert structured == [{"level": "WARN", "msg": "json from talker", "middleware": "talker", "requestId": rid}]
    if lang == "sh":  # an object with both keys is logged byte for byte
        assert '{"middleware":"custom","requestId":"custom-rid","msg":"has both keys"}' in lines


@pytest.mark.parametrize("lang", LANGS)
def test_stderr_lines_in_json_log_format(cr: Cleanroom, lang: str) -> None:
    pipeline = cr.pipeline([cr.mw("talker", lang, env={"CR_BEFORE": "stderr"})])
    logfile = cr.tmp / "function.log"
    with orchestrated(pipeline, env={"AWS_LAMBDA_LOG_FORMAT": "JSON"}, stderr_file=logfile) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    rid = result.request_id
    objects = [json.loads(line) for line in logfile.read_text().splitlines() if line.startswith("{")]
    plain = [o for o in objects if o.get("message") == "plain line from talker before"]
    assert len(plain) == 1
    assert plain[0]["level"] == "INFO" and plain[0]["middleware"] == "talker" and plain[0]["requestId"] == rid
    assert "timestamp" in plain[0]
    # A JSON object keeps its fields, gains whose it is, and Lambda's timestamp where it had none.
    [own] = [o for o in objects if o.get("msg") == "json from talker"]
    assert "timestamp" in own and {k: v for k, v in own.items() if k != "timestamp"} == {
        "level": "WARN", "msg": "json from talker", "middleware": "talker", "requestId": rid}
