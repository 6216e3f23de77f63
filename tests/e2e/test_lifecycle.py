"""Faults the orchestrator must survive: every one becomes a clear, Lambda-shaped error
for the invocation at hand, and the invocation after it works."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from openruntime.emulator.sandbox import Emulator, FunctionSettings
from tests.conftest import ORCHESTRATOR, REPO, alive, orchestrated, wait_gone, write_executable, write_pipeline

CLIENTS = Path(__file__).parent / "clients"

FAULTY_HANDLERS = textwrap.dedent('''
    import os, signal, sys, time

    def ok(event, context):
        return {"ok": True, "pid": os.getpid(), "remainingMs": context.get_remaining_time_in_millis()}

    def dispatch(event, context):
        action = event.get("do", "ok")
        if action == "sleep":
            time.sleep(60)
        if action == "detach-and-sleep":  # a process in a session of its own, then a timeout
            import subprocess
            detached = subprocess.Popen(["sleep", "300"], start_new_session=True)
            print(f"detached {detached.pid}", file=sys.stderr, flush=True)
            open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "detached.pid"), "w").write(str(detached.pid))
            time.sleep(60)
        if action == "exit3":
            print("about to exit with 3", file=sys.stderr, flush=True)
            os._exit(3)
        if action == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        if action == "raise":
            raise RuntimeError("handled failure")
        return ok(event, context)
''')


@pytest.fixture
def faulty_app(tmp_path: Path) -> Path:
    app = tmp_path / "faulty"
    app.mkdir()
    (app / "faults.py").write_text(FAULTY_HANDLERS)
    return app


def python_pipeline(tmp_path: Path, app: Path, handler: str = "faults.dispatch", **runtime: object) -> Path:
    return write_pipeline(tmp_path, yaml.safe_dump(
        {"runtime": {"name": "python", "handler": handler, "task_root": str(app), **runtime}}))


def test_handler_past_the_deadline_gets_the_timeout_error_from_the_orchestrator(tmp_path: Path, faulty_app: Path) -> None:
    pipeline = python_pipeline(tmp_path, faulty_app, grace_ms=300)
    with orchestrated(pipeline, timeout_s=2.0) as emulator:
        emulator.invoke(b'{"do": "ok"}')
        orchestrator_pid = emulator.runtime_pid
        slow = emulator.invoke(b'{"do": "sleep"}')
        after = emulator.invoke(b'{"do": "ok"}')
        # The orchestrator answered (and survived): Lambda's own timeout did not fire.
        assert emulator.runtime_pid == orchestrator_pid
    error = slow.json()
    assert slow.function_error == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    # answered grace_ms early, but stating the function's timeout, as Lambda's message does
    assert error["errorMessage"] == f"RequestId: {slow.request_id} Error: Task timed out after 2.00 seconds"
    assert after.function_error is None and after.json()["ok"] is True


def test_a_timed_out_runtime_takes_what_it_started_along_even_in_another_session(
    tmp_path: Path, faulty_app: Path
) -> None:
    pipeline = python_pipeline(tmp_path, faulty_app, grace_ms=300)
    with orchestrated(pipeline, timeout_s=2.0) as emulator:
        timed_out = emulator.invoke(b'{"do": "detach-and-sleep"}')
        assert timed_out.json()["errorType"] == "Sandbox.Timedout"
        assert wait_gone([int((faulty_app / "detached.pid").read_text())]) == []
        assert emulator.invoke(b'{"do": "ok"}').json()["ok"] is True


@pytest.mark.parametrize("action, expected", [
    ("exit3", "Runtime exited with error: exit status 3"),
    ("sigkill", "Runtime exited with error: signal: killed"),
])
def test_runtime_crash_mid_invocation_is_reported_and_runtime_restarted(
    tmp_path: Path, faulty_app: Path, action: str, expected: str
) -> None:
    pipeline = python_pipeline(tmp_path, faulty_app)
    with orchestrated(pipeline) as emulator:
        first = emulator.invoke(b'{"do": "ok"}')
        orchestrator_pid = emulator.runtime_pid
        crashed = emulator.invoke(json.dumps({"do": action}).encode())
        after = emulator.invoke(b'{"do": "ok"}')
        assert emulator.runtime_pid == orchestrator_pid
    error = crashed.json()
    assert crashed.function_error == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].startswith(f"RequestId: {crashed.request_id} Error: {expected}")
    if action == "exit3":
        assert error["exitStatus"] == 3
        assert "about to exit with 3" in error["stderrTail"]
    assert after.json()["ok"] is True
    assert after.json()["pid"] != first.json()["pid"]  # a new runtime process


def test_runtime_that_keeps_crashing_is_not_restarted_forever(tmp_path: Path, faulty_app: Path) -> None:
    pipeline = python_pipeline(tmp_path, faulty_app)
    with orchestrated(pipeline, env={"OPENRUNTIME_MAX_RESTARTS": "2"}) as emulator:
        emulator.invoke(b'{"do": "ok"}')
        orchestrator_pid = emulator.runtime_pid
        crashes = [emulator.invoke(b'{"do": "exit3"}') for _ in range(3)]
        time.sleep(0.5)  # the orchestrator exits after the third crash, having used its budget
        recovered = emulator.invoke(b'{"do": "ok"}')
        assert emulator.runtime_pid != orchestrator_pid  # Lambda (here the emulator) started afresh
    assert all(c.json()["errorType"] == "Runtime.ExitError" for c in crashes)
    assert recovered.json()["ok"] is True


def test_a_restart_that_dies_at_once_is_tried_again_within_the_budget(tmp_path: Path, faulty_app: Path) -> None:
    starts = tmp_path / "starts"
    flaky = write_executable(tmp_path / "flaky-runtime", f"""
        #!/usr/bin/env bash
        # The second start dies before polling; every other start is the real Python runtime.
        echo start >> {starts}
        if [ "$(wc -l < {starts})" -eq 2 ]; then exit 1; fi
        exec {REPO / "runtimes" / "python" / "bootstrap"} "$@"
    """)
    pipeline = write_pipeline(tmp_path, yaml.safe_dump({
        "runtime": {"command": [str(flaky)], "handler": "faults.dispatch", "task_root": str(faulty_app)}}))
    with orchestrated(pipeline) as emulator:
        assert emulator.invoke(b'{"do": "ok"}').json()["ok"] is True
        orchestrator_pid = emulator.runtime_pid
        assert emulator.invoke(b'{"do": "exit3"}').json()["errorType"] == "Runtime.ExitError"
        after = emulator.invoke(b'{"do": "ok"}')  # restart 1 dies at once, restart 2 serves it
        assert after.json().get("ok") is True, after.body
        assert emulator.runtime_pid == orchestrator_pid
    assert starts.read_text().count("start") == 3


def test_runtime_that_never_polls_is_an_init_error_and_the_next_start_works(tmp_path: Path, faulty_app: Path) -> None:
    marker = tmp_path / "started-once"
    stubborn = write_executable(tmp_path / "stubborn-runtime", f"""
        #!/usr/bin/env bash
        # First start: never asks for an event. Later starts: the real Python runtime.
        if [ ! -e {marker} ]; then touch {marker}; exec sleep 120; fi
        exec {REPO / "runtimes" / "python" / "bootstrap"} "$@"
    """)
    pipeline = write_pipeline(tmp_path, yaml.safe_dump(
        {"runtime": {"command": [str(stubborn)], "handler": "faults.ok", "task_root": str(faulty_app)}}))
    with orchestrated(pipeline, env={"OPENRUNTIME_INIT_TIMEOUT_S": "1"}) as emulator:
        stuck = emulator.invoke(b"{}")
        after = emulator.invoke(b"{}")
    assert stuck.function_error == "Unhandled"
    assert stuck.json()["errorType"] == "Runtime.InitTimeout"
    assert "never polled" in stuck.json()["errorMessage"]
    assert after.json()["ok"] is True


def misbehaving(tmp_path: Path) -> tuple[Path, Path]:
    status_log = tmp_path / "statuses.txt"
    pipeline = write_pipeline(tmp_path, yaml.safe_dump({"runtime": {
        "command": [sys.executable, str(CLIENTS / "misbehaving_runtime.py")], "task_root": str(tmp_path),
        "env": {"STATUS_LOG": str(status_log)}}}))
    return pipeline, status_log


def test_misbehaving_runtime_gets_the_runtime_apis_answers_and_nothing_is_lost(tmp_path: Path) -> None:
    pipeline, status_log = misbehaving(tmp_path)
    with orchestrated(pipeline) as emulator:
        twice = emulator.invoke(b'{"do": "post-twice"}')
        unknown = emulator.invoke(b'{"do": "unknown-id"}')
        again = emulator.invoke(b'{"do": "next-again"}')
        malformed = emulator.invoke(b'{"do": "malformed"}')
        late_init = emulator.invoke(b'{"do": "init-error-late"}')
        too_big = emulator.invoke(json.dumps({"do": "too-big", "size": 6 * 1024 * 1024 + 200}).encode())
        fine = emulator.invoke(b'{"do": "answer"}')
        stats = dict(emulator.stats)
    assert twice.body == b'"first"'
    assert unknown.json() == {"ok": "unknown-id"}
    assert again.json() == {"ok": "next-again"}
    assert malformed.json() == {"ok": "malformed"}
    assert late_init.json() == {"ok": "init-error-late"}
    assert too_big.function_error == "Unhandled"
    assert too_big.json()["errorType"] == "Function.ResponseSizeTooLarge"
    assert fine.json() == {"ok": "answer"}
    statuses = status_log.read_text().splitlines()
    assert statuses[:2] == ["first 202", "second 403"]
    assert "unknown 400" in statuses
    # A second /next while the event is in flight waits for the next event: one event, one
    # execution, whatever polls (a worker of a multi-concurrent runtime, or this one again).
    assert "next-again waited 0" in statuses
    assert "malformed 400" in statuses
    assert "late-init-error 403" in statuses
    assert "too-big 413" in statuses
    # Upstream got exactly one answer per invocation and refused none.
    assert stats.get("refused", 0) == 0
    assert stats["response"] + stats.get("error", 0) == 7


def passthrough(folder: Path) -> Path:
    return write_executable(folder / "passthrough", "#!/bin/sh\nexec cat\n")


def test_runtime_exiting_right_after_its_answer_loses_no_event(tmp_path: Path) -> None:
    pipeline, _ = misbehaving(tmp_path)
    with orchestrated(pipeline) as emulator:
        results = []
        for _ in range(5):  # the next event arrives while the runtime is still exiting
            results.append(emulator.invoke(b'{"do": "exit-after-answer"}'))
    assert [r.json() for r in results] == [{"ok": "exit-after-answer"}] * 5
    assert all(r.function_error is None for r in results)


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, through /proc (children may start new sessions)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_runtime_and_middlewares_without_orphans(tmp_path: Path, faulty_app: Path, sig: int) -> None:
    persistent = write_executable(tmp_path / "keepalive", f"""
        #!{sys.executable}
        import json, subprocess, sys
        subprocess.Popen(["sleep", "300"])  # a grandchild, which must go too
        out, inp = sys.stdout.buffer, sys.stdin.buffer
        out.write(b'{{"ready": true, "length": 0}}\\n'); out.flush()
        while (line := inp.readline()):
            body = inp.read(json.loads(line)["length"])
            out.write(json.dumps({{"action": "continue", "length": len(body)}}).encode() + b"\\n" + body); out.flush()
    """)
    pipeline = write_pipeline(tmp_path, yaml.safe_dump({
        "runtime": {"name": "python", "handler": "faults.ok", "task_root": str(faulty_app)},
        "middlewares": [{"name": "keepalive", "command": str(persistent), "mode": "persistent"},
                        {"name": "cat", "command": str(passthrough(tmp_path))}]}))
    with orchestrated(pipeline) as emulator:
        assert emulator.invoke(b"{}").json()["ok"] is True
        orchestrator_pid = emulator.runtime_pid
        assert orchestrator_pid is not None
        children = descendants(orchestrator_pid)
        assert len(children) >= 3  # runtime, middleware, its sleep
        os.kill(orchestrator_pid, sig)
        deadline = time.monotonic() + 10
        while alive(orchestrator_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(orchestrator_pid)
        survivors = {pid for pid in children if alive(pid)}
        assert survivors == set()


def test_orchestrator_killed_outright_takes_its_runtime_along(tmp_path: Path, faulty_app: Path) -> None:
    pipeline = python_pipeline(tmp_path, faulty_app, handler="faults.ok")
    with orchestrated(pipeline) as emulator:
        runtime_pid = emulator.invoke(b"{}").json()["pid"]
        orchestrator_pid = emulator.runtime_pid
        assert orchestrator_pid is not None
        os.kill(orchestrator_pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while alive(runtime_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(runtime_pid)
        # PR_SET_PDEATHSIG fires when the orchestrator's main thread dies; its other threads
        # may still hold the `/next` connection open a moment longer. An event sent then is
        # delivered to a dying bootstrap and ends as Runtime.ExitError, as on Lambda. So the
        # next invoke waits for the emulator to have reaped the bootstrap.
        while emulator.runtime_pid == orchestrator_pid and time.monotonic() < deadline:
            time.sleep(0.05)
        assert emulator.runtime_pid is None
        result = emulator.invoke(b"{}")
        assert result.json().get("ok") is True, result.body  # the emulator starts a new bootstrap


def test_orchestrator_killed_outright_takes_a_middleware_that_never_reads_along(tmp_path: Path, faulty_app: Path) -> None:
    """EOF on STDIN reaches only a middleware that reads; this one answers, then stays busy."""
    pidfile = tmp_path / "middleware.pid"
    busy = write_executable(tmp_path / "busy", f"""\
        #!{sys.executable}
        import json, os, sys, time
        open({str(pidfile)!r}, "w").write(str(os.getpid()))
        out, inp = sys.stdout.buffer, sys.stdin.buffer
        out.write(b'{{"ready": true, "length": 0}}\\n'); out.flush()
        body = inp.read(json.loads(inp.readline())["length"])
        out.write(json.dumps({{"length": len(body)}}).encode() + b"\\n" + body); out.flush()
        time.sleep(300)  # busy: it will not see EOF for a long while
    """)
    pipeline = write_pipeline(tmp_path, yaml.safe_dump({
        "runtime": {"name": "python", "handler": "faults.ok", "task_root": str(faulty_app)},
        "middlewares": [{"name": "busy", "command": str(busy), "mode": "persistent", "hooks": ["before"]}]}))
    with orchestrated(pipeline) as emulator:
        assert emulator.invoke(b"{}").json()["ok"] is True
        middleware_pid = int(pidfile.read_text())
        assert emulator.runtime_pid is not None
        os.kill(emulator.runtime_pid, signal.SIGKILL)
        assert wait_gone([middleware_pid], within_s=5) == []


def test_one_structured_log_line_per_invocation(tmp_path: Path, faulty_app: Path) -> None:
    pipeline = write_pipeline(tmp_path, yaml.safe_dump({
        "runtime": {"name": "python", "handler": "faults.dispatch", "task_root": str(faulty_app)},
        "middlewares": [{"name": "cat", "command": str(passthrough(tmp_path))}]}))
    log_file = tmp_path / "stderr.log"
    with log_file.open("wb") as sink, Emulator(
        command=ORCHESTRATOR, cwd=tmp_path, env={"OPENRUNTIME_PIPELINE": str(pipeline), "AWS_LAMBDA_LOG_FORMAT": "JSON"},
        function=FunctionSettings(timeout_s=20), child_stderr=sink, log=lambda _: None,
    ) as emulator:
        ok = emulator.invoke(b'{"do": "ok"}')
        failed = emulator.invoke(b'{"do": "raise"}')
    records = [json.loads(line) for line in log_file.read_text().splitlines()
               if line.startswith("{") and '"openruntime.invocation"' in line]
    assert [r["requestId"] for r in records] == [ok.request_id, failed.request_id]
    assert records[0]["outcome"] == "success"
    assert records[1]["outcome"] == "error:RuntimeError"
    for record in records:
        assert set(record["stagesMs"]) == {"cat.before", "handler", "cat.after"} - (
            {"cat.after"} if record["outcome"] != "success" else set())
        assert record["durationMs"] >= record["stagesMs"]["handler"]
        assert record["orchestratorMs"] >= 0


def test_a_second_sigterm_does_not_cut_the_cleanup_short(tmp_path: Path) -> None:
    """Lambda's shutdown (or a user's Ctrl-C twice): the second SIGTERM arrives while the
    orchestrator waits for a runtime that ignores the first. The cleanup still ends
    everything, including what the handler started in a session of its own."""
    (tmp_path / "app.py").write_text(textwrap.dedent("""
        import os, signal, subprocess
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the runtime takes its time to go

        def handler(event, context):
            child = subprocess.Popen(["sleep", "60"], start_new_session=True)
            return {"detached": child.pid}
    """))
    pipeline = write_pipeline(tmp_path, "runtime: {name: python, handler: app.handler, task_root: .}\n")
    with orchestrated(pipeline) as emulator:
        detached = emulator.invoke(b"{}").json()["detached"]
        orchestrator = emulator.runtime_pid
        assert orchestrator is not None and alive(detached)
        os.kill(orchestrator, signal.SIGTERM)
        time.sleep(0.1)  # inside the runtime's grace period (0.3 s), where the cleanup waits
        os.kill(orchestrator, signal.SIGTERM)
        assert wait_gone([orchestrator, detached], within_s=5) == []


def test_state_folders_of_a_killed_orchestrator_are_removed_by_the_next(tmp_path: Path) -> None:
    """SIGKILL mid-invocation leaves the exec middlewares' state folder behind; the next
    orchestrator removes it, and a clean shutdown leaves nothing."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event\n")
    write_executable(tmp_path / "middlewares" / "slow" / "slow", """
        #!/bin/sh
        payload=$(cat)
        echo "seen" > "$OPENRUNTIME_STATE_FILE"
        case $payload in *wait*) sleep 60 ;; esac
        printf '%s' "$payload"
    """)
    pipeline = write_pipeline(tmp_path, """
        runtime: {name: python, handler: app.handler, task_root: .}
        middlewares:
          - {name: slow, hooks: [before], timeout_ms: 30000}
    """)

    def roots() -> list[str]:
        return sorted(p.name for p in tmp.iterdir() if p.name.startswith("openruntime-state-"))

    with orchestrated(pipeline, env={"TMPDIR": str(tmp)}) as emulator:
        import threading

        threading.Thread(target=emulator.invoke, args=(b'{"wait": 1}',), daemon=True).start()
        deadline = time.monotonic() + 20
        while not list(tmp.glob("openruntime-state-*/*.slow.state")):
            assert time.monotonic() < deadline, "the middleware never ran"
            time.sleep(0.02)
        killed = emulator.runtime_pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        assert wait_gone([killed]) == []
        assert roots() == [f"openruntime-state-{killed}"]  # left behind
        deadline = time.monotonic() + 20
        while emulator.runtime_pid == killed and time.monotonic() < deadline:
            time.sleep(0.02)  # the emulator reaps the killed bootstrap
        again = emulator.invoke(b'{"n": 2}')  # a new orchestrator; its middleware needs state
        assert again.json() == {"n": 2}, again.body
        assert roots() == [f"openruntime-state-{emulator.runtime_pid}"]  # the dead one's is gone
    assert roots() == []  # a clean shutdown removes its own
