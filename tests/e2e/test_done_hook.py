"""The `done` hook: observers run once the answer is posted, inside the invocation's phase.

A real orchestrator under the real emulator, with a Python-SDK middleware whose `done`
hook is held at a gate that only the test opens. The caller's answer comes while the
gate is shut (the caller never waits for an observer); the invocation's phase, as Lambda
counts it (END, REPORT's duration), ends only after the hook, before the next /next; the
hook sees what was posted, or the handler's failure when it sits below a mapper.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

from openruntime.emulator.sandbox import Emulator, InvokeResult
from tests.conftest import orchestrated, write_executable, write_pipeline
from tests.e2e.test_middleware_modes import SDK_DIR, middleware_run

pytestmark = pytest.mark.slow

OBSERVER = f'''
#!{sys.executable}
import json, os, sys, time
sys.path.insert(0, {str(SDK_DIR)!r})
from openruntime_middleware import done, run

@done(raw=True)
def observed(payload, ctx):
    seen = os.environ["SEEN"]
    with open(seen, "a") as f:
        f.write(json.dumps({{"id": ctx.request_id, "outcome": ctx.outcome, "payload": payload.decode(),
                            "handler": any(s[1] == "handler" for s in ctx.stages or [])}}) + "\\n")
    gate = os.environ["GATE"]
    while not os.path.exists(gate):  # held until the test has the caller's answer
        time.sleep(0.005)
    ctx.log("observed " + ctx.request_id)
    return {{"this": "is ignored"}}

run()
'''

MAPPER = f'''
#!{sys.executable}
import sys
sys.path.insert(0, {str(SDK_DIR)!r})
from openruntime_middleware import Respond, error, run

@error
def mapped(err, ctx):
    return Respond({{"statusCode": 500, "body": err["errorType"]}})

run()
'''

APP = '''
def handler(event, context):
    if event.get("fail"):
        raise ValueError("boom")
    return {"echo": event}
'''


def invoke_in_thread(emulator: Emulator, payload: bytes) -> tuple[threading.Thread, list[InvokeResult]]:
    results: list[InvokeResult] = []
    thread = threading.Thread(target=lambda: results.append(emulator.invoke(payload)), daemon=True)
    thread.start()
    return thread, results


@pytest.mark.parametrize("mode", ["persistent", "exec"])
def test_the_caller_is_answered_before_the_done_hook_ends_and_the_phase_after_it(tmp_path: Path, mode: str) -> None:
    (tmp_path / "app.py").write_text(APP)
    write_executable(tmp_path / "bin" / "observer", OBSERVER)
    write_executable(tmp_path / "bin" / "mapper", MAPPER)
    seen, gate = tmp_path / "seen.jsonl", tmp_path / "gate"
    pipeline = write_pipeline(tmp_path, f"""
        runtime: {{name: python, handler: app.handler, task_root: .}}
        middlewares:
          - {{name: outer, command: ./bin/observer, hooks: [done], mode: {mode}, timeout_ms: 60000,
             env: {{SEEN: {seen}, GATE: {gate}}}}}
          - {{name: mapper, command: ./bin/mapper, hooks: [error], mode: persistent}}
          - {{name: inner, command: ./bin/observer, hooks: [done], mode: {mode}, timeout_ms: 60000,
             env: {{SEEN: {seen}, GATE: {gate}}}}}
        """)
    lines: list[str] = []
    with orchestrated(pipeline, timeout_s=60, stderr_file=tmp_path / "function.log") as emulator:
        emulator.log = lines.append
        thread, results = invoke_in_thread(emulator, b'{"fail": true}')
        thread.join(30)  # a deadlock guard: the answer must not wait for the gate the test holds
        assert results, "the caller waited for a done hook"
        answered_at = time.monotonic()
        first = results[0]
        assert first.function_error is None and first.json() == {"statusCode": 500, "body": "ValueError"}
        assert f"END RequestId: {first.request_id}" not in lines  # the phase goes on: the hook runs
        time.sleep(0.3)
        gate.touch()
        second = emulator.invoke(b'{"n": 2}')  # the next /next came after the hooks: nothing overlaps
        assert second.function_error is None and second.json() == {"echo": {"n": 2}}
    records = [json.loads(line) for line in seen.read_text().splitlines()]
    firsts = [r for r in records if r["id"] == first.request_id]
    # Pipeline order; each sees what its layer of the onion saw: below the mapper, the failure.
    assert [(r["outcome"], json.loads(r["payload"]).get("statusCode") or json.loads(r["payload"])["errorType"])
            for r in firsts] == [("response", 500), ("error", "ValueError")]
    assert all(r["handler"] for r in records)  # the stages, the handler's included
    assert [r["outcome"] for r in records if r["id"] == second.request_id] == ["response", "response"]
    report = next(line for line in lines if line.startswith(f"REPORT RequestId: {first.request_id}"))
    duration_ms = float(report.split("\tDuration: ")[1].split(" ms")[0])
    # Causality, not speed: the hook ended after the gate opened, 0.3 s after the answer.
    assert duration_ms >= 300, report
    assert time.monotonic() - answered_at >= 0.3
    log = (tmp_path / "function.log").read_text()
    assert log.count(f"observed {first.request_id}") == 2 and log.count(f"observed {second.request_id}") == 2
    assert "is ignored" not in log and "WARN" not in log


@pytest.mark.parametrize("mode", ["persistent", "exec"])
def test_middleware_run_calls_a_done_hook_with_the_outcome_asked_for(tmp_path: Path, mode: str) -> None:
    """`openruntime middleware run --hook done`: a done hook tried alone, as the pipeline calls it."""
    observer = write_executable(tmp_path / "observer", f'''
        #!{sys.executable}
        import sys
        sys.path.insert(0, {str(SDK_DIR)!r})
        from openruntime_middleware import done, run

        @done(raw=True)
        def observed(payload, ctx):
            ctx.log(f"outcome={{ctx.outcome}} bytes={{len(payload)}}")
            return "not used"

        run()
        ''')
    err = b'{"errorType": "X", "errorMessage": "y"}'
    result = middleware_run(str(observer), "--hook", "done", "--outcome", "error", "--mode", mode, stdin=err)
    assert result.returncode == 0, result.stderr.decode()
    assert f"outcome=error bytes={len(err)}" in result.stderr.decode() and b"not used" not in result.stdout


SLOW_OBSERVER = f'''
#!{sys.executable}
import sys, time
sys.path.insert(0, {str(SDK_DIR)!r})
from openruntime_middleware import done, run

@done
def observed(payload, ctx):
    print(f"done ({{ctx.outcome}}) with {{ctx.remaining_time_ms()}} ms left", file=sys.stderr, flush=True)
    if ctx.outcome == "error":
        time.sleep(30)  # an export that hangs, after the timeout

run()
'''


def test_a_done_hook_that_overruns_is_cut_before_the_function_timeout_and_the_sandbox_stays(tmp_path: Path) -> None:
    """After a timed-out invocation (answered at the grace period), a done hook that hangs
    gets the time left less a reserve: the orchestrator's next /next still comes before
    the function's timeout, so Lambda neither counts a timeout nor resets the sandbox."""
    (tmp_path / "app.py").write_text("import time\ndef handler(event, context):\n"
                                     "    time.sleep(event.get('sleep', 0))\n    return {'ok': True}\n")
    write_executable(tmp_path / "bin" / "slow", SLOW_OBSERVER)
    pipeline = write_pipeline(tmp_path, """
        runtime: {name: python, handler: app.handler, task_root: .}
        middlewares:
          - {name: slow, command: ./bin/slow, hooks: [done], mode: persistent, timeout_ms: 60000}
        """)
    lines: list[str] = []
    log = tmp_path / "function.log"
    with orchestrated(pipeline, timeout_s=2, stderr_file=log) as emulator:
        emulator.log = lines.append
        assert emulator.invoke(b"{}").json() == {"ok": True}  # the cold start, out of the way
        late = emulator.invoke(b'{"sleep": 5}')
        assert late.json()["errorType"] == "Sandbox.Timedout"
        after = emulator.invoke(b"{}")
        assert after.json() == {"ok": True}
    report = next(line for line in lines if line.startswith(f"REPORT RequestId: {late.request_id}"))
    assert "Status: timeout" not in report, report  # the phase ended (next /next) within the timeout
    next_report = next(line for line in lines if line.startswith(f"REPORT RequestId: {after.request_id}"))
    assert "Init Duration" not in next_report  # the sandbox was not reset
    said = log.read_text()
    # After the timeout, its context's deadline is its own: ahead of it, not the one passed.
    left = next(int(line.split(" with ")[1].split(" ms")[0]) for line in said.splitlines() if "done (error)" in line)
    assert 0 < left < 200, said[-2000:]
    assert "hook 'done' did not answer within" in said


EVENT_OBSERVER = f'''
#!{sys.executable}
import sys
sys.path.insert(0, {str(SDK_DIR)!r})
from openruntime_middleware import done, received, run

@received
def event(event, ctx):
    ctx.state = {{"event": event}}

@done
def answer(answer, ctx):
    ctx.log({{"event": ctx.state["event"], "answer": answer, "outcome": ctx.outcome}})

run()
'''


@pytest.mark.parametrize("mode", ["persistent", "exec"])
def test_received_gets_the_event_as_delivered_after_the_answer_and_done_its_state(tmp_path: Path, mode: str) -> None:
    (tmp_path / "app.py").write_text(APP)
    write_executable(tmp_path / "bin" / "watch", EVENT_OBSERVER)
    write_executable(tmp_path / "bin" / "wrap", "#!/bin/sh\nprintf '{\"wrapped\":'; cat; printf '}'\n")
    pipeline = write_pipeline(tmp_path, f"""
        runtime: {{name: python, handler: app.handler, task_root: .}}
        middlewares:
          - {{name: watch, command: ./bin/watch, hooks: [received, done], mode: {mode}}}
          - {{name: wrap, command: ./bin/wrap, hooks: [before]}}
        """)
    log = tmp_path / "function.log"
    with orchestrated(pipeline, stderr_file=log) as emulator:
        result = emulator.invoke(b'{"n": 1}')
    assert result.json() == {"echo": {"wrapped": {"n": 1}}}
    line = next(json.loads(text[text.index("{"):]) for text in log.read_text().splitlines() if '"outcome"' in text)
    assert line["event"] == {"n": 1}  # as Lambda delivered it, not as `wrap` made it
    assert line["answer"] == {"echo": {"wrapped": {"n": 1}}} and line["outcome"] == "response"
    assert line["requestId"] == result.request_id


def test_an_observer_can_reach_the_functions_own_process_under_awslambdaric(tmp_path: Path) -> None:
    """A `done` hook that reads what the function's process serves from a thread of its own
    (an in-process metrics endpoint). awslambdaric posts the answer without releasing the
    GIL, and aws-lambda-ric blocks Node's event loop likewise: were the runtime's 202 for its
    answer held through the observers, no thread of the function could answer them, and
    each would wait out its own timeout (a change that did so was undone: docs/benchmarks.md)."""
    pytest.importorskip("awslambdaric")
    port_file = tmp_path / "port"
    (tmp_path / "app.py").write_text(f'''
import http.server, threading
COUNT = 0
class Counter(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = str(COUNT).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counter)
open({str(port_file)!r}, "w").write(str(server.server_address[1]))
threading.Thread(target=server.serve_forever, daemon=True).start()
def handler(event, context):
    global COUNT
    COUNT += 1
    return {{"n": COUNT}}
''')
    seen = tmp_path / "seen.jsonl"
    write_executable(tmp_path / "bin" / "observer", f'''
#!{sys.executable}
import json, sys, time, urllib.request
sys.path.insert(0, {str(SDK_DIR)!r})
from openruntime_middleware import done, run
@done(raw=True)
def observed(payload, ctx):
    port = open({str(port_file)!r}).read()
    try:
        got = urllib.request.urlopen(f"http://127.0.0.1:{{port}}/", timeout=1).read().decode()
    except Exception as exc:
        got = type(exc).__name__
    with open({str(seen)!r}, "a") as f:
        f.write(json.dumps(got) + "\\n")
run()
''')
    pipeline = write_pipeline(tmp_path, f"""
        runtime: {{command: [{sys.executable}, -m, awslambdaric], handler: app.handler, task_root: .}}
        middlewares:
          - {{name: obs, command: ./bin/observer, hooks: [done], mode: persistent, timeout_ms: 5000}}
        """)
    with orchestrated(pipeline, timeout_s=20) as emulator:
        for _ in range(3):
            assert emulator.invoke(b"{}").function_error is None
    assert [json.loads(line) for line in seen.read_text().splitlines()] == ["1", "2", "3"]
