"""The whole flow over real processes and sockets: emulator → orchestrator → middlewares → runtime."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO, orchestrated, write_executable, write_pipeline

ENVELOPE = REPO / "middlewares" / "envelope" / "envelope"
STAMP = REPO / "middlewares" / "stamp" / "stamp"


def pipeline_with(tmp_path: Path, app: Path, middlewares: list[dict[str, Any]], handler: str = "app.handler") -> Path:
    document = {"runtime": {"name": "python", "handler": handler, "task_root": str(app)},
                "middlewares": [{k: str(v) if isinstance(v, Path) else v for k, v in m.items()} for m in middlewares]}
    return write_pipeline(tmp_path, yaml.safe_dump(document))


def test_python_and_bash_middlewares_transform_request_and_response(tmp_path: Path, hello_app: Path) -> None:
    pipeline = pipeline_with(tmp_path, hello_app, [{"name": "envelope", "command": ENVELOPE},
                                                    {"name": "stamp", "command": STAMP}])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"name": "ada"}')
    assert result.status == 200 and result.function_error is None
    body = result.json()
    # Onion order: envelope.before → stamp.before → handler → stamp.after → envelope.after
    assert body["meta"]["wrappedBy"] == "envelope (python)"
    seen = body["data"]["event"]
    assert seen["name"] == "ada"
    assert seen["stamp_before"]["by"] == "stamp (bash)"
    assert seen["context"]["requestId"] == result.request_id
    assert body["data"]["stamp_after"]["hook"] == "after"
    assert body["data"]["requestId"] == result.request_id


def test_request_id_and_deadline_reach_handler_and_middlewares(tmp_path: Path, hello_app: Path) -> None:
    recorder = write_executable(tmp_path / "recorder", """
        #!/usr/bin/env bash
        # Records the context it was given, passes the payload through.
        printf '%s %s %s %s %s\\n' "$1" "$OPENRUNTIME_HOOK" "$OPENRUNTIME_REQUEST_ID" \\
          "$OPENRUNTIME_DEADLINE_MS" "$OPENRUNTIME_FUNCTION_ARN" >> "$RECORD_FILE"
        printf '%s\\n' "$_X_AMZN_TRACE_ID" >> "$RECORD_FILE"
        cat
    """)
    record = tmp_path / "record.txt"
    pipeline = pipeline_with(tmp_path, hello_app, [{"name": "recorder", "command": recorder,
                                                    "env": {"RECORD_FILE": str(record)}}])
    with orchestrated(pipeline, timeout_s=30) as emulator:
        before = int(time.time() * 1000)
        result = emulator.invoke(b"{}", trace_id="Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    body = result.json()
    assert body["requestId"] == result.request_id
    assert 25_000 < body["remainingMs"] <= 30_000
    assert body["functionArn"].endswith(":function:test_function")
    assert body["traceEnv"] == "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    lines = record.read_text().splitlines()
    before_line, before_trace, after_line, _ = lines
    argv_hook, env_hook, request_id, deadline_ms, arn = before_line.split(" ")
    assert (argv_hook, env_hook) == ("before", "before")
    assert after_line.split(" ")[:2] == ["after", "after"]
    assert request_id == result.request_id
    assert before + 29_000 <= int(deadline_ms) <= before + 31_000
    assert arn == body["functionArn"]
    assert before_trace == "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"


def test_handler_exception_is_a_lambda_shaped_error(tmp_path: Path, hello_app: Path) -> None:
    pipeline = pipeline_with(tmp_path, hello_app, [{"name": "stamp", "command": STAMP, "hooks": ["before"]}],
                             handler="app.boom")
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b"{}")
    assert result.status == 200
    assert result.function_error == "Unhandled"
    error = result.json()
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "the handler failed on purpose"
    assert error["requestId"] == result.request_id
    assert any("app.py" in frame for frame in error["stackTrace"])


def test_failing_middleware_is_named_and_the_next_invocation_works(tmp_path: Path, hello_app: Path) -> None:
    flaky = write_executable(tmp_path / "flaky", """
        #!/usr/bin/env bash
        payload=$(cat)
        if [[ "$payload" == *'"fail": true'* ]]; then
          echo "token missing in request" >&2
          exit 1
        fi
        printf '%s' "$payload"
    """)
    pipeline = pipeline_with(tmp_path, hello_app, [{"name": "auth", "command": flaky}])
    with orchestrated(pipeline) as emulator:
        failed = emulator.invoke(b'{"fail": true}')
        ok = emulator.invoke(b'{"fail": false}')
    assert failed.function_error == "Unhandled"
    error = failed.json()
    assert error["errorType"] == "Middleware.ExitError"
    assert "'auth'" in error["errorMessage"] and "'before'" in error["errorMessage"]
    assert "status 1" in error["errorMessage"]
    assert error["middleware"] == {
        "name": "auth", "hook": "before", "exitStatus": 1, "stderrTail": "token missing in request",
    }
    assert ok.function_error is None and ok.json()["event"] == {"fail": False}


def test_middleware_printing_garbage_fails_with_invalid_output(tmp_path: Path, hello_app: Path) -> None:
    garbage = write_executable(tmp_path / "garbage", """
        #!/usr/bin/env bash
        cat > /dev/null
        echo "this is not json {"
    """)
    pipeline = pipeline_with(tmp_path, hello_app, [{"name": "garbage", "command": garbage, "hooks": ["after"]}])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b"{}")
        again = emulator.invoke(b"{}")
    error = result.json()
    assert result.function_error == "Unhandled"
    assert error["errorType"] == "Middleware.InvalidOutput"
    assert "'garbage'" in error["errorMessage"] and "'after'" in error["errorMessage"]
    assert "this is not json" in error["errorMessage"]
    assert again.json()["errorType"] == "Middleware.InvalidOutput"  # still serving


def test_skip_policy_continues_without_the_failing_middleware(tmp_path: Path, hello_app: Path) -> None:
    broken = write_executable(tmp_path / "broken", "#!/bin/sh\nexit 7\n")
    pipeline = pipeline_with(tmp_path, hello_app, [{"name": "broken", "command": broken, "on_error": "skip"}])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"kept": 1}')
    assert result.function_error is None
    assert result.json()["event"] == {"kept": 1}


def test_short_circuit_in_exec_mode_skips_handler_and_runs_outer_afters(tmp_path: Path, hello_app: Path) -> None:
    gate = write_executable(tmp_path / "gate", """
        #!/usr/bin/env bash
        cat > /dev/null
        if [ "$1" = before ]; then printf '{"statusCode": 401}'; exit 3; fi
        printf '{"gate": "after should not run"}'
    """)
    pipeline = pipeline_with(tmp_path, hello_app, [{"name": "envelope", "command": ENVELOPE},
                                                    {"name": "gate", "command": gate}])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b"{}")
    body = result.json()
    assert body["data"] == {"statusCode": 401}  # envelope.after ran, gate.after did not
    assert body["meta"]["wrappedBy"] == "envelope (python)"


def test_missing_handler_module_is_an_init_error(tmp_path: Path, hello_app: Path) -> None:
    pipeline = pipeline_with(tmp_path, hello_app, [], handler="nosuchmodule.handler")
    log = tmp_path / "log"
    with orchestrated(pipeline, stderr_file=log) as emulator:
        result = emulator.invoke(b"{}")
    assert result.function_error == "Unhandled"
    error = result.json()
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'nosuchmodule'" in error["errorMessage"]
    # The orchestrator's own line says why, not only that it failed.
    said = [line for line in log.read_text().splitlines() if "init failed" in line]
    assert said and "Runtime.ImportModuleError: runtime init failed: Unable to import module 'nosuchmodule'" in said[0]


def test_bad_pipeline_file_is_an_init_error_naming_line_and_field(tmp_path: Path, hello_app: Path) -> None:
    pipeline = write_pipeline(tmp_path, f"""
        runtime:
          name: python
          handler: app.handler
          task_root: {hello_app}
        middlewares:
          - name: stamp
            timeout_ms: soon
    """)
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b"{}")
    error = result.json()
    assert result.function_error == "Unhandled"
    assert error["errorType"] == "Runtime.ConfigInvalid"
    assert f"{pipeline}:7: middlewares[0].timeout_ms: expected a whole number" in error["errorMessage"]


def test_missing_middleware_is_an_init_error(tmp_path: Path, hello_app: Path) -> None:
    pipeline = pipeline_with(tmp_path, hello_app, [{"name": "does-not-exist"}])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b"{}")
    error = result.json()
    assert error["errorType"] == "Middleware.NotFound"
    line = pipeline.read_text().splitlines().index("- name: does-not-exist") + 1
    assert error["errorMessage"].startswith(f"{pipeline}:{line}: middlewares[0].name: ")
    assert "'does-not-exist' not found" in error["errorMessage"]


def test_missing_runtime_and_unrunnable_middleware_command_name_their_line(tmp_path: Path, hello_app: Path) -> None:
    pipeline = write_pipeline(tmp_path, f"""
        runtime:
          name: python
          task_root: {hello_app}
        middlewares:
          - name: gone
            command: ./no-such-middleware
    """)
    with orchestrated(pipeline) as emulator:
        error = emulator.invoke(b"{}").json()
    assert error["errorType"] == "Middleware.NotFound"
    assert error["errorMessage"].startswith(f"{pipeline}:6: middlewares[0].command: middleware 'gone': ")
    pipeline.write_text(f"runtime:\n  task_root: {hello_app}\n  name: pyhton\n")
    with orchestrated(pipeline) as emulator:
        error = emulator.invoke(b"{}").json()
    assert error["errorType"] == "Runtime.InvalidEntrypoint"
    assert error["errorMessage"].startswith(f"{pipeline}:3: runtime.name: runtime 'pyhton' not found")


def test_slsmiddlewares_env_variable_still_works(tmp_path: Path, hello_app: Path) -> None:
    middlewares = tmp_path / "mw"
    write_executable(middlewares / "shout", """
        #!/usr/bin/env python3
        import json, sys
        data = json.load(sys.stdin)
        data["shouted_" + sys.argv[1]] = True
        print(json.dumps(data))
    """)
    from openruntime.emulator.sandbox import Emulator, FunctionSettings
    from tests.conftest import ORCHESTRATOR

    env = {"SLSMIDDLEWARES": "shout", "OPENRUNTIME_MIDDLEWARE_PATH": str(middlewares),
           "OPENRUNTIME_RUNTIME": "python", "OPENRUNTIME_OPT": str(tmp_path / "no-opt")}
    with Emulator(command=ORCHESTRATOR, cwd=hello_app, env=env,
                  function=FunctionSettings(timeout_s=20, handler="app.handler"), log=lambda _: None) as emulator:
        result = emulator.invoke(b'{"a": 1}')
    body = result.json()
    assert body["event"] == {"a": 1, "shouted_before": True}
    assert body["shouted_after"] is True


def test_binary_payload_passes_through_exec_middleware_unchanged(tmp_path: Path) -> None:
    app = tmp_path / "bin"
    app.mkdir()
    (app / "app.py").write_text("def handler(event, context):\n    return event\n")
    cat = write_executable(tmp_path / "passthrough", "#!/bin/sh\nexec cat\n")
    pipeline = write_pipeline(tmp_path, f"""
        runtime: {{name: python, handler: app.handler, task_root: {app}}}
        middlewares: [{{name: cat, command: {cat}}}]
    """)
    payload = bytes(range(256)) * 64
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(payload, content_type="application/octet-stream")
    # awslambdaric semantics: non-JSON content type → raw bytes in, bytes out.
    assert result.body == payload


def test_exec_middleware_failing_with_its_own_error_object_keeps_it(tmp_path: Path, hello_app: Path) -> None:
    guard = write_executable(tmp_path / "guard", """
        #!/usr/bin/env bash
        cat > /dev/null
        printf '{"errorType": "Auth.Denied", "errorMessage": "no token", "status": 401}'
        exit 4
    """)
    pipeline = pipeline_with(tmp_path, hello_app, [{"name": "guard", "command": guard}])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b"{}")
    error = result.json()
    assert result.function_error == "Unhandled"
    assert (error["errorType"], error["errorMessage"], error["status"]) == ("Auth.Denied", "no token", 401)
    assert error["requestId"] == result.request_id
    assert error["middleware"] == {"name": "guard", "hook": "before"}
