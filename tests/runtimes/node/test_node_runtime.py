"""End-to-end tests of runtimes/node: the real bootstrap behind the real emulator.

Every test starts `runtimes/node/bootstrap` the way Lambda does (cwd = task root,
`_HANDLER`, `AWS_LAMBDA_RUNTIME_API`) and talks to it only through invocations.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from node_fixtures import BOOTSTRAP, HANDLERS, NODE, node_function, requires_node

pytestmark = requires_node


def _wait_for_restart(emu, timeout_s: float = 5.0) -> None:
    """Wait until the emulator has noticed that the runtime process exited."""
    end = time.monotonic() + timeout_s
    while emu.runtime_pid is not None and time.monotonic() < end:
        time.sleep(0.02)


# -- success ---------------------------------------------------------------------------


def test_async_handler_gets_the_event_and_its_result_is_the_response():
    event = {"x": 1, "text": "héllo ✓", "list": [1, 2, {"deep": None}]}
    with node_function("cjs", "app.echo") as emu:
        result = emu.invoke(json.dumps(event).encode())
    assert result.status == 200
    assert result.function_error is None
    assert result.headers["content-type"] == "application/json"
    assert result.json() == {"event": event}


def test_runtime_serves_many_invocations_in_one_process():
    with node_function("cjs", "app.counter") as emu:
        answers = [emu.invoke(b"{}").json() for _ in range(5)]
    assert [a["invocations"] for a in answers] == [1, 2, 3, 4, 5]
    assert len({a["pid"] for a in answers}) == 1


def test_context_carries_the_invocation_and_function_metadata():
    client_context = {"client": {"installation_id": "abc"}, "custom": {"k": "v"}, "env": {}}
    identity = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    with node_function("cjs", "app.context", timeout_s=7.0) as emu:
        result = emu.invoke(
            b"{}",
            client_context=json.dumps(client_context),
            cognito_identity=json.dumps(identity),
            trace_id=trace,
            tenant_id="tenant-7",
        )
        ctx = result.json()
        assert ctx["awsRequestId"] == result.request_id
        assert ctx["invokedFunctionArn"] == emu.function.arn
    assert ctx["functionName"] == "test_function"
    assert ctx["functionVersion"] == "$LATEST"
    assert ctx["memoryLimitInMB"] == "3008"
    assert ctx["logGroupName"] == "/aws/lambda/test_function"
    assert ctx["logStreamName"]
    assert ctx["clientContext"] == client_context
    assert ctx["identity"] == identity
    assert ctx["tenantId"] == "tenant-7"
    assert ctx["traceEnv"] == trace
    assert ctx["callbackWaitsForEmptyEventLoop"] is True
    assert 0 < ctx["remaining"] <= 7000


def test_trace_id_env_follows_each_invocation():
    with node_function("cjs", "app.context") as emu:
        first = emu.invoke(b"{}", trace_id="Root=1-00000001-000000000000000000000001;Sampled=0")
        second = emu.invoke(b"{}", trace_id="Root=1-00000002-000000000000000000000002;Sampled=1")
    assert first.json()["traceEnv"].startswith("Root=1-00000001")
    assert second.json()["traceEnv"].startswith("Root=1-00000002")


def test_remaining_time_counts_down_to_the_deadline():
    with node_function("cjs", "app.remaining", timeout_s=3.0) as emu:
        times = emu.invoke(b'{"sleepMs": 300}').json()
    assert 2000 < times["before"] <= 3000
    assert times["before"] - times["after"] >= 250


def test_large_event_and_response_round_trip():
    data = "x" * (5 * 1024 * 1024) + "tail!"
    with node_function("cjs", "app.size") as emu:
        result = emu.invoke(json.dumps({"data": data}).encode())
    assert result.json() == {"length": len(data), "tail": "tail!"}


def test_undefined_result_is_null():
    with node_function("cjs", "app.returnsUndefined") as emu:
        assert emu.invoke(b"{}").body == b"null"


def test_nested_handler_property_and_handler_in_a_subdirectory():
    with node_function("cjs", "app.nested.deeper.handler") as emu:
        assert emu.invoke(b"{}").json() == "nested handler"
    with node_function("cjs", "sub/dir/mod.handler") as emu:
        assert emu.invoke(b'{"a": 1}').json() == {"from": "sub/dir/mod.js", "event": {"a": 1}}


def test_handler_from_argv_wins_over_env():
    with node_function(
        "cjs", "app.echo", command=[str(BOOTSTRAP), "app.counter"], env={"_HANDLER": "app.echo"}
    ) as emu:
        assert emu.invoke(b"{}").json()["invocations"] == 1


def test_handler_from_env_when_no_argument():
    with node_function("cjs", "app.echo", command=[str(BOOTSTRAP)]) as emu:
        assert emu.invoke(b'{"v": 2}').json() == {"event": {"v": 2}}


# -- module kinds ----------------------------------------------------------------------


def test_es_module_mjs_with_top_level_await():
    with node_function("esm", "app.handler") as emu:
        result = emu.invoke(b'{"k": "v"}')
        body = result.json()
    assert body == {
        "greeting": "hello from esm",
        "event": {"k": "v"},
        "awsRequestId": result.request_id,
        "moduleType": "module",
    }


def test_js_in_a_type_module_package_is_an_es_module():
    with node_function("typemodule", "app.handler") as emu:
        assert emu.invoke(b"[1]").json() == {"event": [1], "moduleType": "module"}


def test_cjs_extension_is_commonjs():
    with node_function("cjsext", "app.handler") as emu:
        assert emu.invoke(b"{}").json() == {"from": "app.cjs", "moduleType": "commonjs"}


# -- promise, callback and legacy context styles ------------------------------------------


@pytest.mark.parametrize(
    ("handler", "event", "expected"),
    [
        ("app.promise", {"n": 21}, {"viaPromise": 42}),
        ("app.callback", {"n": 1}, {"viaCallback": 2}),
        ("app.contextSucceed", {}, {"legacy": "succeed"}),
        ("app.contextDone", {}, {"legacy": "done"}),
        ("app.noResult", {}, None),
        ("app.syncReturn", {}, None),
        ("app.neverSettles", {}, None),
        ("app.callbackTwice", {}, "first"),
    ],
)
def test_handler_styles(handler, event, expected):
    with node_function("cjs", handler) as emu:
        first = emu.invoke(json.dumps(event).encode())
        second = emu.invoke(json.dumps(event).encode())  # the loop goes on after each style
    assert first.function_error is None
    assert first.json() == expected
    assert second.json() == expected


def test_callback_waits_for_the_event_loop_to_empty_by_default():
    with node_function("cjs", "app.callbackWaits") as emu:
        emu.invoke(b'{"timerMs": 1}')  # init out of the way
        began = time.monotonic()
        result = emu.invoke(b'{"timerMs": 1200}')
        elapsed = time.monotonic() - began
    assert result.json() == "waited"
    assert elapsed >= 1.1


def test_callback_answers_at_once_when_callbackWaitsForEmptyEventLoop_is_false():
    with node_function("cjs", "app.callbackNoWait") as emu:
        emu.invoke(b'{"timerMs": 1}')
        began = time.monotonic()
        result = emu.invoke(b'{"timerMs": 3000}')
        elapsed = time.monotonic() - began
    assert result.json() == "did not wait"
    assert elapsed < 2.5  # the 3 s timer was not waited for


# -- invocation errors -------------------------------------------------------------------


def test_thrown_error_is_posted_in_the_node_shape_and_the_runtime_goes_on():
    with node_function("cjs", "app.throws") as emu:
        result = emu.invoke(b"{}")
        again = emu.invoke(b"{}")
    assert result.status == 200
    assert result.function_error == "Unhandled"
    body = result.json()
    assert set(body) == {"errorType", "errorMessage", "trace"}
    assert body["errorType"] == "TypeError"
    assert body["errorMessage"] == "bad thing happened"
    assert body["trace"][0] == "TypeError: bad thing happened"
    assert any(str(HANDLERS / "cjs" / "app.js") in line for line in body["trace"][1:])
    assert again.json()["errorType"] == "TypeError"


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("app.syncThrows", "RangeError", "thrown synchronously"),
        ("app.customError", "OrderError", "order 42 is invalid"),
        ("app.callbackError", "Error", "callback failure"),
        ("app.contextFail", "Error", "legacy fail"),
        ("app.rejectsString", "string", "plain string reason"),
        ("app.unicodeError", "ÜberError ✓", "échec ✓ 失败 \u0000 end"),
    ],
)
def test_error_types_and_messages(handler, error_type, message):
    with node_function("cjs", handler) as emu:
        body = emu.invoke(b"{}").json()
    assert body["errorType"] == error_type
    assert body["errorMessage"] == message


def test_error_in_an_es_module_handler():
    with node_function("esm", "app.throws") as emu:
        body = emu.invoke(b"{}").json()
    assert body["errorType"] == "SyntaxError"
    assert body["errorMessage"] == "esm handler failed"


def test_event_that_is_not_json_is_an_invocation_error():
    with node_function("cjs", "app.echo") as emu:
        bad = emu.invoke(b"{not json", content_type="text/plain")
        good = emu.invoke(b'{"ok": true}')
    assert bad.function_error == "Unhandled"
    assert bad.json()["errorType"] == "SyntaxError"
    assert good.json() == {"event": {"ok": True}}


def test_unserializable_result_is_an_invocation_error():
    with node_function("cjs", "app.circular") as emu:
        body = emu.invoke(b"{}").json()
    assert body["errorType"] == "Runtime.JSONStringifyError"
    assert "circular" in body["errorMessage"]


def test_uncaught_exception_fails_the_invocation_and_the_function_recovers():
    with node_function("cjs", "app.uncaughtInTimer") as emu:
        result = emu.invoke(b"{}")
        _wait_for_restart(emu)
        body = result.json()
        assert body["errorType"] == "EvalError"
        assert body["errorMessage"] == "thrown from a timer"
    with node_function("cjs", "app.unhandledRejection") as emu:
        body = emu.invoke(b"{}").json()
        _wait_for_restart(emu)
        assert body["errorType"] == "Runtime.UnhandledPromiseRejection"
        assert body["errorMessage"] == "Error: nobody handles me"
        # a fresh runtime serves the next invocation
        assert emu.invoke(b"{}").json()["errorType"] == "Runtime.UnhandledPromiseRejection"


# -- init errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "handler", "error_type", "message_part"),
    [
        ("cjs", "missing.handler", "Runtime.ImportModuleError", "Cannot find module 'missing'"),
        ("cjs", "app.nothere", "Runtime.HandlerNotFound", "app.nothere is undefined or not exported"),
        ("cjs", "app.notAFunction", "Runtime.HandlerNotFound", "app.notAFunction is not a function"),
        ("cjs", "app", "Runtime.MalformedHandlerName", "Bad handler"),
        ("cjs", "../cjs/app.echo", "Runtime.MalformedHandlerName", "is not a valid handler name"),
        ("syntax", "app.handler", "Runtime.UserCodeSyntaxError", "SyntaxError"),
        ("initthrow", "app.handler", "Error", "cannot connect to the database at init"),
        ("esm", "app.nothere", "Runtime.HandlerNotFound", "app.nothere is undefined or not exported"),
        ("esm", "broken.handler", "Runtime.ImportModuleError", "no-such-package-openruntime"),
    ],
)
def test_init_errors(fixture, handler, error_type, message_part):
    with node_function(fixture, handler) as emu:
        result = emu.invoke(b"{}")
        again = emu.invoke(b"{}")  # init is retried, and fails the same way
    assert result.function_error == "Unhandled"
    body = result.json()
    assert body["errorType"] == error_type
    assert message_part in body["errorMessage"]
    assert isinstance(body["trace"], list)
    assert again.json()["errorType"] == error_type


def test_init_error_exits_the_process_with_status_1():
    # Run the bootstrap by hand against the emulator's Runtime API: it must post the
    # init error and exit 1 (the emulator answers 403 since it did not start it).
    with node_function("cjs", "missing.handler") as emu:
        env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=emu.runtime_api, _HANDLER="missing.handler")
        if NODE:
            env["OPENRUNTIME_NODE"] = NODE
        proc = subprocess.run(
            [str(BOOTSTRAP)], cwd=HANDLERS / "cjs", env=env, capture_output=True, timeout=30
        )
    assert proc.returncode == 1
    assert b"Runtime.ImportModuleError" in proc.stdout


# -- logs ---------------------------------------------------------------------------------


def test_console_lines_carry_timestamp_request_id_and_level(tmp_path):
    log = tmp_path / "stdout.log"
    with open(log, "wb") as out:
        with node_function("cjs", "app.logs", child_stdout=out) as emu:
            result = emu.invoke(b'{"n": 5}')
    lines = log.read_bytes().decode().split("\n")  # keep \r: it is part of a line
    info = [line for line in lines if "hello from the handler" in line]
    assert len(info) == 1
    stamp, request_id, level, message = info[0].split("\t", 3)
    assert stamp.endswith("Z") and "T" in stamp
    assert request_id == result.request_id
    assert level == "INFO"
    assert message == "hello from the handler { n: 5 }"
    error = [line for line in lines if "an error line" in line]
    # a multi-line message stays one log line (newlines become \r, as on Lambda)
    assert error and error[0].split("\t")[2] == "ERROR"
    assert error[0].endswith("an error line\rwith two lines")


def test_json_log_format(tmp_path):
    log = tmp_path / "stdout.log"
    with open(log, "wb") as out:
        with node_function(
            "cjs", "app.logs", child_stdout=out, env={"AWS_LAMBDA_LOG_FORMAT": "JSON"}
        ) as emu:
            result = emu.invoke(b'{"n": 5}')
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    info = [r for r in records if r["level"] == "INFO"]
    assert info and info[0]["requestId"] == result.request_id
    assert "hello from the handler" in info[0]["message"]


# -- response streaming ---------------------------------------------------------------------


def test_streamed_response_arrives_whole():
    with node_function("streaming", "app.handler") as emu:
        result = emu.invoke(b'{"chunks": 4}')
    assert result.function_error is None
    assert result.body == b"chunk 0;chunk 1;chunk 2;chunk 3;"
    assert result.headers["content-type"] == "text/plain"
