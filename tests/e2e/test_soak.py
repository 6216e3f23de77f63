"""A bounded soak: thousands of invocations mixing successes, errors, timeouts and crashes.

Every invocation must get exactly one answer of the expected kind, and the orchestrator
must not accumulate file descriptors, threads or child processes.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import yaml

from tests.conftest import orchestrated, write_executable, write_pipeline
from tests.e2e.test_lifecycle import FAULTY_HANDLERS, descendants

INVOCATIONS = int(os.environ.get("OPENRUNTIME_SOAK_INVOCATIONS", "2000"))


def resources(pid: int) -> tuple[int, int, int]:
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    threads = len(os.listdir(f"/proc/{pid}/task"))
    return fds, threads, len(descendants(pid))


def plan(index: int) -> str:
    if index % 250 == 125:
        return "sleep"
    if index % 100 == 50:
        return "exit3"
    if index % 10 == 5:
        return "raise"
    return "ok"


EXPECTED = {"ok": None, "raise": "RuntimeError", "exit3": "Runtime.ExitError", "sleep": "Sandbox.Timedout"}


def test_soak_every_invocation_answered_once_and_nothing_leaks(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "faults.py").write_text(FAULTY_HANDLERS)
    passthrough = write_executable(tmp_path / "passthrough", "#!/bin/sh\nexec cat\n")
    persistent = write_executable(tmp_path / "echo-frames", """
        #!/usr/bin/env python3
        import json, sys
        out, inp = sys.stdout.buffer, sys.stdin.buffer
        out.write(b'{"ready": true, "length": 0}\\n'); out.flush()
        while (line := inp.readline()):
            body = inp.read(json.loads(line)["length"])
            out.write(b'{"action": "continue", "length": %d}\\n' % len(body) + body); out.flush()
    """)
    pipeline = write_pipeline(tmp_path, yaml.safe_dump({
        "runtime": {"name": "python", "handler": "faults.dispatch", "task_root": str(app), "grace_ms": 1000},
        "middlewares": [{"name": "frames", "command": str(persistent), "mode": "persistent"},
                        {"name": "every-tenth", "command": str(passthrough), "hooks": ["before"]}]}))
    # Only every tenth invocation pays for an exec middleware (a process spawn).
    outcomes: Counter[str] = Counter()
    with orchestrated(pipeline, timeout_s=2.0, env={"AWS_LAMBDA_LOG_FORMAT": "JSON"}) as emulator:
        warm_up = emulator.invoke(b"{\"do\": \"ok\"}", timeout_s=30)  # cold start: init takes its time
        assert warm_up.function_error is None
        orchestrator = emulator.runtime_pid
        assert orchestrator is not None
        baseline = None
        for index in range(INVOCATIONS):
            action = plan(index)
            result = emulator.invoke(json.dumps({"do": action}).encode())
            error_type = result.json().get("errorType") if result.function_error else None
            assert error_type == EXPECTED[action], (index, action, result.body[:300])
            outcomes[action] += 1
            if index == 200:
                baseline = resources(orchestrator)
        assert emulator.runtime_pid == orchestrator  # the orchestrator itself never died
        final = resources(orchestrator)
        stats = dict(emulator.stats)
    assert baseline is not None
    fds, threads, children = final
    assert fds <= baseline[0] + 2, (baseline, final)
    assert threads <= baseline[1] + 2, (baseline, final)
    assert children <= baseline[2], (baseline, final)
    assert stats.get("refused", 0) == 0
    # The orchestrator answered every invocation itself (timeouts and crashes included).
    assert stats["response"] + stats["error"] == INVOCATIONS + 1
    assert set(outcomes) == set(EXPECTED)  # every kind of fault was exercised
