"""End to end: the real `runtimes/python/bootstrap` and the official awslambdaric, each as
a process polling the real emulator over loopback, with the same handlers; what a caller
gets back must be the same."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from openruntime.emulator.sandbox import Emulator, InvokeResult

HERE = Path(__file__).resolve().parent
HANDLERS = HERE / "handlers"
BOOTSTRAP = HERE.parents[2] / "runtimes" / "python" / "bootstrap"
APP_FILE = str(HANDLERS / "app.py")
RUNTIMES = ["openruntime", "awslambdaric"]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TEXT_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def command(runtime: str, handler: str | None) -> list[str]:
    args = [handler] if handler is not None else []
    if runtime == "openruntime":
        return [str(BOOTSTRAP), *args]
    return [sys.executable, "-m", "awslambdaric", *args]


@contextmanager
def emulator(runtime: str, handler: str | None, tmp_path: Path, timeout_s: float = 5.0, **env: str) -> Iterator[Emulator]:
    """The emulator running one runtime; the child's stdout and stderr go to files in tmp_path."""
    child_env = {"OPENRUNTIME_PYTHON": sys.executable, **env}
    if handler is not None:
        child_env["_HANDLER"] = handler
    with open(tmp_path / f"{runtime}.out", "wb") as out, open(tmp_path / f"{runtime}.err", "wb") as err:
        with Emulator(
            command=command(runtime, handler),
            cwd=str(HANDLERS),
            env=child_env,
            timeout_s=timeout_s,
            child_stdout=out,
            child_stderr=err,
            log=lambda line: None,
        ) as emu:
            yield emu


def invoke(runtime: str, handler: str, tmp_path: Path, payload: bytes = b'{"value": 1}', **kwargs: Any) -> InvokeResult:
    with emulator(runtime, handler, tmp_path) as emu:
        return emu.invoke(payload, **kwargs)


def invoke_both(handler: str, tmp_path: Path, payload: bytes = b'{"value": 1}', **kwargs: Any) -> tuple[InvokeResult, InvokeResult]:
    ours, theirs = (invoke(runtime, handler, tmp_path, payload, **kwargs) for runtime in RUNTIMES)
    return ours, theirs


def child_output(tmp_path: Path, runtime: str, stream: str = "out") -> str:
    return (tmp_path / f"{runtime}.{stream}").read_bytes().decode("utf-8")


# -- results ------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_success(runtime: str, tmp_path: Path) -> None:
    result = invoke(runtime, "app.echo", tmp_path, b'{"x": [1, "\\u00e9"]}')
    assert result.status == 200
    assert result.function_error is None
    assert result.json() == {"event": {"x": [1, "é"]}}
    assert result.headers["content-type"] == "application/json"


def test_bytes_result(tmp_path: Path) -> None:
    ours, theirs = invoke_both("app.returns_bytes", tmp_path)
    assert ours.body == theirs.body == b"\x00\x01raw bytes\xff"
    assert ours.headers["content-type"] == theirs.headers["content-type"] == "application/unknown"
    assert ours.function_error is theirs.function_error is None


def test_decimal_result(tmp_path: Path) -> None:
    ours, theirs = invoke_both("app.returns_decimal", tmp_path)
    assert ours.body == theirs.body == b'{"price": 19.990, "qty": 3, "big": 1E+3}'


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream"])
def test_non_json_event_reaches_the_handler_as_bytes(content_type: str, tmp_path: Path) -> None:
    ours, theirs = invoke_both("app.raw_event_type", tmp_path, b"hello", content_type=content_type)
    assert ours.json() == theirs.json() == {"type": "bytes", "value": "hello"}


def test_handler_from_env_when_no_argument(tmp_path: Path) -> None:
    with emulator("openruntime", None, tmp_path, _HANDLER="app.echo") as emu:
        assert emu.invoke(b"[1]").json() == {"event": [1]}


def test_one_process_serves_many_invocations(tmp_path: Path) -> None:
    with emulator("openruntime", "app.echo", tmp_path) as emu:
        first = emu.invoke(b"1")
        pid = emu.runtime_pid
        results = [emu.invoke(str(i).encode()) for i in range(2, 6)]
        assert emu.runtime_pid == pid
    assert [r.json() for r in [first, *results]] == [{"event": i} for i in range(1, 6)]


def test_sys_path_starts_with_the_task_root(tmp_path: Path) -> None:
    ours, theirs = invoke_both("app.sys_path_info", tmp_path)
    assert ours.json()["first"] == theirs.json()["first"] == str(HANDLERS)
    # The runtime's own directory is not importable from user code.
    assert ours.json()["runtime_dirs"] == []


# -- errors ---------------------------------------------------------------------------------


def same_except_request_id(ours: InvokeResult, theirs: InvokeResult) -> dict[str, Any]:
    our_body, their_body = ours.json(), theirs.json()
    assert list(our_body) == list(their_body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert our_body["requestId"] == ours.request_id
    assert their_body["requestId"] == theirs.request_id
    our_body.pop("requestId"), their_body.pop("requestId")
    assert our_body == their_body
    assert ours.function_error == theirs.function_error == "Unhandled"
    return our_body  # type: ignore[no-any-return]


def test_handler_exception(tmp_path: Path) -> None:
    ours, theirs = invoke_both("app.raises", tmp_path, b'{"value": 42}')
    body = same_except_request_id(ours, theirs)
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad value: 42"
    assert [frame.split(", in ")[1].split("\n")[0] for frame in body["stackTrace"]] == ["raises", "_helper"]
    assert all(frame.startswith(f'  File "{APP_FILE}", line ') for frame in body["stackTrace"])


@pytest.mark.parametrize("log_format", [None, "JSON"])
def test_handler_exception_log(log_format: str | None, tmp_path: Path) -> None:
    env = {"AWS_LAMBDA_LOG_FORMAT": log_format} if log_format else {}
    request_ids = []
    for runtime in RUNTIMES:
        with emulator(runtime, "app.raises", tmp_path, **env) as emu:
            request_ids.append(emu.invoke(b'{"value": 42}').request_id)
    ours, theirs = (
        re.sub(r'"timestamp": "[^"]+"', '"timestamp": "T"', child_output(tmp_path, runtime).replace(request_id, "ID"))
        for runtime, request_id in zip(RUNTIMES, request_ids)
    )
    assert ours == theirs
    if log_format is None:
        assert ours.startswith("[ERROR] ValueError: bad value: 42\rTraceback (most recent call last):\r\u00a0\u00a0File ")
    else:
        record = json.loads(ours)
        assert (record["level"], record["errorType"], record["requestId"]) == ("ERROR", "ValueError", "ID")


@pytest.mark.parametrize("handler", ["app.returns_unserializable"])
def test_unserializable_result(handler: str, tmp_path: Path) -> None:
    body = same_except_request_id(*invoke_both(handler, tmp_path))
    assert body["errorType"] == "Runtime.MarshalError"
    assert body["stackTrace"] == []


def test_bad_json_event(tmp_path: Path) -> None:
    body = same_except_request_id(*invoke_both("app.echo", tmp_path, b'{"a": NaN}'))
    assert body["errorType"] == "Runtime.UnmarshalError"


def test_bad_client_context(tmp_path: Path) -> None:
    body = same_except_request_id(*invoke_both("app.echo", tmp_path, client_context="{nope"))
    assert body["errorType"] == "Runtime.LambdaContextUnmarshalError"


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("broken_import.handler", "Runtime.ImportModuleError", "Unable to import module 'broken_import': No module named 'module_that_does_not_exist'"),
        ("app.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'"),
        ("app", "Runtime.MalformedHandlerName", "Bad handler 'app': not enough values to unpack (expected 2, got 1)"),
        ("sys.handler", "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module"),
        ("missing_module.handler", "Runtime.ImportModuleError", "Unable to import module 'missing_module': No module named 'missing_module'"),
        ("broken_syntax.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'broken_syntax': expected ':' (broken_syntax.py, line 1)"),
    ],
)
def test_init_errors(handler: str, error_type: str, message: str, tmp_path: Path) -> None:
    ours, theirs = invoke_both(handler, tmp_path)
    assert ours.body == theirs.body
    assert ours.json()["errorType"] == error_type
    assert ours.json()["errorMessage"] == message
    assert ours.json()["requestId"] == ""
    assert ours.function_error == "Unhandled"


def test_init_exception_trace_starts_at_the_user_module(tmp_path: Path) -> None:
    ours, theirs = invoke_both("broken_init.handler", tmp_path)
    our_body, their_body = ours.json(), theirs.json()
    assert our_body["errorType"] == their_body["errorType"] == "RuntimeError"
    assert our_body["errorMessage"] == their_body["errorMessage"] == "config missing"
    # awslambdaric's trace also lists importlib's frames before the user's.
    user_file = str(HANDLERS / "broken_init.py")
    assert [frame.split('"')[1] for frame in our_body["stackTrace"]] == [user_file, user_file]
    assert their_body["stackTrace"][-2:] == our_body["stackTrace"]


def test_init_error_is_retried_on_the_next_invoke(tmp_path: Path) -> None:
    with emulator("openruntime", "app.nope", tmp_path) as emu:
        first, second = emu.invoke(b"{}"), emu.invoke(b"{}")
    assert first.json()["errorType"] == second.json()["errorType"] == "Runtime.HandlerNotFound"
    log = child_output(tmp_path, "openruntime")
    assert log.count("[ERROR] Runtime.HandlerNotFound: Handler 'nope' missing on module 'app'") == 2


def test_rejected_response_ends_the_process(tmp_path: Path) -> None:
    """A non-2xx from the Runtime API (here 413 for a 7 MiB result) is fatal, as in
    awslambdaric; the next invoke gets a fresh process."""
    for runtime in RUNTIMES:
        with emulator(runtime, "app.big_response", tmp_path) as emu:
            result = emu.invoke(b"{}")
            pid = emu.runtime_pid
            deadline = time.monotonic() + 5
            while emu.runtime_pid == pid and time.monotonic() < deadline:
                time.sleep(0.02)
            assert emu.runtime_pid is None, f"{runtime} kept running after a 413"
        assert result.json()["errorType"] == "Function.ResponseSizeTooLarge"
    assert "'413'" in child_output(tmp_path, "openruntime", "err")


# -- context --------------------------------------------------------------------------------

CLIENT_CONTEXT = {"client": {"installation_id": "inst-1", "app_title": "Shop"}, "custom": {"k": "v"}, "env": {"os": "ios"}}
COGNITO = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
TRACE = "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1"


def test_context_fields(tmp_path: Path) -> None:
    kwargs = {
        "client_context": json.dumps(CLIENT_CONTEXT),
        "cognito_identity": json.dumps(COGNITO),
        "tenant_id": "tenant-3",
        "trace_id": TRACE,
    }
    ours, theirs = invoke_both("app.context_fields", tmp_path, **kwargs)
    our_ctx, their_ctx = ours.json(), theirs.json()
    assert our_ctx.pop("aws_request_id") == ours.request_id
    assert their_ctx.pop("aws_request_id") == theirs.request_id
    # Each environment start gets its own log stream name.
    assert our_ctx.pop("log_stream_name").startswith(time.strftime("%Y/%m/"))
    their_ctx.pop("log_stream_name")
    assert our_ctx == their_ctx
    assert our_ctx == {
        "function_name": "test_function",
        "function_version": "$LATEST",
        "invoked_function_arn": "arn:aws:lambda:us-east-1:012345678912:function:test_function",
        "memory_limit_in_mb": "3008",
        "log_group_name": "/aws/lambda/test_function",
        "tenant_id": "tenant-3",
        "identity": {"cognito_identity_id": "id-1", "cognito_identity_pool_id": "pool-1"},
        "client_context": {"custom": {"k": "v"}, "env": {"os": "ios"}, "client": {"installation_id": "inst-1", "app_title": "Shop"}},
        "trace_id_env": TRACE,
    }


def test_context_without_optional_headers(tmp_path: Path) -> None:
    ours, theirs = invoke_both("app.context_fields", tmp_path)
    for result in (ours, theirs):
        ctx = result.json()
        assert ctx["client_context"] is None
        assert ctx["tenant_id"] is None
        assert ctx["identity"] == {"cognito_identity_id": None, "cognito_identity_pool_id": None}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_remaining_time(runtime: str, tmp_path: Path) -> None:
    with emulator(runtime, "app.remaining_time", tmp_path, timeout_s=3.0) as emu:
        result = emu.invoke(b'{"sleep_s": 0.3}')
    times = result.json()
    assert 2000 < times["first"] <= 3000
    assert 250 <= times["first"] - times["second"] <= 800


# -- logs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("log_format", [None, "JSON"])
def test_logs_match(log_format: str | None, tmp_path: Path) -> None:
    env = {"AWS_LAMBDA_LOG_FORMAT": log_format} if log_format else {}
    for runtime in RUNTIMES:
        with emulator(runtime, "app.logs", tmp_path, **env) as emu:
            assert emu.invoke(b'{"n": 5}').json() == "ok"
    ours, theirs = (
        UUID.sub("ID", TEXT_TIME.sub("T", re.sub(r'"timestamp": "[^"]+"', "", child_output(tmp_path, r))))
        for r in RUNTIMES
    )
    assert ours == theirs
    if log_format is None:
        assert ours == '[WARNING]\tT\tID\twarned 5\nprinted {"n": 5}\n'


# -- process-level failures -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_bootstrap(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"}
    full_env.update(env)
    return subprocess.run(
        [str(BOOTSTRAP), "app.echo"], cwd=HANDLERS, env=full_env, capture_output=True, text=True, timeout=30
    )


def test_connection_refused_exits_with_a_clear_message() -> None:
    address = f"127.0.0.1:{free_port()}"
    done = run_bootstrap({"AWS_LAMBDA_RUNTIME_API": address, "OPENRUNTIME_PYTHON": sys.executable})
    assert done.returncode != 0
    assert f"cannot connect to the Runtime API at {address}" in done.stderr


def test_missing_runtime_api_variable() -> None:
    done = run_bootstrap({"OPENRUNTIME_PYTHON": sys.executable})
    assert done.returncode != 0
    assert "AWS_LAMBDA_RUNTIME_API is not set" in done.stderr


def test_openruntime_python_selects_the_interpreter(tmp_path: Path) -> None:
    marker = tmp_path / "used"
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text(f'#!/bin/sh\ntouch "{marker}"\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    done = run_bootstrap({"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{free_port()}", "OPENRUNTIME_PYTHON": str(wrapper)})
    assert marker.exists()
    assert "cannot connect" in done.stderr  # the wrapper's python ran the runtime
