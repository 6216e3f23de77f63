"""Middleware semantics in both modes, over real processes and sockets.

emulator → orchestrator → test middlewares (real executables in tmp_path) → python runtime.
The test middleware `tmw` speaks the protocol itself (no SDK), in exec mode (`tmw HOOK`)
and in persistent mode (`tmw --persistent`), so every test runs against both; what it
does on each call is set by its `env` (TMW_<HOOK>=ACTION) or, per invocation, by a token
`@NAME.HOOK=ACTION@` anywhere in the payload. Every call is recorded as a JSON line in
$TMW_LOG, which is how the tests see the onion order, the state and the processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, orchestrated, wait_gone, write_executable, write_pipeline

MODES = ["exec", "persistent"]
SDK_DIR = REPO / "middlewares" / "lib" / "python"

TMW = r'''
#!/usr/bin/env python3
"""Test middleware: raw protocol v1 (argv hook) and v2 (--persistent)."""
import json, os, subprocess, sys, time

NAME = os.environ.get("OPENRUNTIME_MIDDLEWARE", "?")
LOG = os.environ.get("TMW_LOG")


def log(**record):
    if LOG:
        with open(LOG, "a") as f:
            f.write(json.dumps(record) + "\n")


def dumps(value):
    return json.dumps(value, separators=(",", ":")).encode()


def action_for(hook, payload):
    token = f"@{NAME}.{hook}=".encode()
    at = payload.find(token)
    if at >= 0:
        end = payload.find(b"@", at + len(token))
        return payload[at + len(token):end].decode()
    return os.environ.get(f"TMW_{hook.upper()}", "pass")


def handle(hook, payload, context, state, mode):
    """(action, payload, state) for one call; `action` is a protocol v2 action."""
    log(name=NAME, hook=hook, state=state, pid=os.getpid(), mode=mode, **context)
    print(f"hello from {NAME} {hook}", file=sys.stderr, flush=True)
    if hook == "before":
        state = {"set_by_before": context["request_id"]}
    what = action_for(hook, payload)
    if what == "pass":
        return "continue", payload, state
    if what == "tag":
        data = json.loads(payload)
        data[f"{NAME}.{hook}"] = True
        return "continue", dumps(data), state
    if what == "reverse":
        return "continue", payload[::-1], state
    if what == "respond":
        return "respond", dumps({"respondedBy": NAME, "hook": hook}), state
    if what == "fail":
        return "fail", dumps({"errorType": "Test.Failed", "errorMessage": f"{NAME} failed in {hook}"}), state
    if what == "rewrite":
        error = json.loads(payload)
        error["errorMessage"] = f"{NAME} saw: {error['errorMessage']}"
        error["seenBy"] = error.get("seenBy", []) + [NAME]
        return "continue", dumps(error), state
    if what == "recover":
        return "respond", dumps({"recoveredBy": NAME, "error": json.loads(payload)}), state
    if what == "env":
        return "continue", dumps(dict(os.environ)), state
    if what == "sleep":
        child = subprocess.Popen(["sleep", "300"])
        with open(os.environ["TMW_PIDFILE"], "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
        time.sleep(300)
    if what == "crash":
        print("about to crash", file=sys.stderr, flush=True)
        os._exit(5)
    if what == "garbage":
        return "garbage", b"", state
    raise SystemExit(f"tmw: unknown action {what!r}")


def run_exec(hook):
    payload = sys.stdin.buffer.read()
    state_file = os.environ["OPENRUNTIME_STATE_FILE"]
    text = open(state_file, "rb").read() if os.path.exists(state_file) else None
    context = {
        "request_id": os.environ["OPENRUNTIME_REQUEST_ID"],
        "deadline_ms": int(os.environ["OPENRUNTIME_DEADLINE_MS"]),
        "function_arn": os.environ["OPENRUNTIME_FUNCTION_ARN"],
        "content_type": os.environ["OPENRUNTIME_CONTENT_TYPE"],
        "middleware": os.environ["OPENRUNTIME_MIDDLEWARE"],
        "state_file_at_start": None if text is None else text.decode(),
    }
    state = json.loads(text) if text else None
    action, data, state = handle(hook, payload, context, state, "exec")
    if state is not None:
        with open(state_file, "wb") as f:
            f.write(dumps(state))
    if action == "fail":
        print(json.loads(data)["errorMessage"], file=sys.stderr)
        return 1
    sys.stdout.buffer.write(data)
    return 3 if action == "respond" else 0


def write_frame(out, header, payload):
    out.write(dumps(header) + b"\n" + payload)
    out.flush()


def run_persistent():
    out, inp = sys.stdout.buffer, sys.stdin.buffer
    log(name=NAME, hook="start", pid=os.getpid(), mode="persistent",
        protocol=os.environ.get("OPENRUNTIME_PROTOCOL"))
    ready = {"ready": True, "protocol": 2, "length": 0}
    if os.environ.get("TMW_HOOKS"):
        ready["hooks"] = os.environ["TMW_HOOKS"].split(",")
    write_frame(out, ready, b"")
    while True:
        line = inp.readline()
        if not line:
            return 0
        header = json.loads(line)
        payload = inp.read(header["length"])
        context = {k: header[k] for k in ("request_id", "deadline_ms", "function_arn", "content_type", "middleware")}
        action, data, state = handle(header["hook"], payload, context, header["state"], "persistent")
        if action == "garbage":
            out.write(b"this is not a frame\n")
            out.flush()
            continue
        write_frame(out, {"action": action, "length": len(data), "state": state}, data)


if __name__ == "__main__":
    sys.exit(run_persistent() if sys.argv[1] == "--persistent" else run_exec(sys.argv[1]))
'''
TMW = TMW.replace("#!/usr/bin/env python3", f"#!{sys.executable}", 1)  # not a pyenv shim: PATH stays as given

# The same behaviour through the Python SDK, which serves both modes from one file.
SDK_MW = f'''
#!/usr/bin/env python3
import os, sys
sys.path.insert(0, {str(SDK_DIR)!r})
from openruntime_middleware import Respond, after, before, error, run

@before(raw=True)
def on_before(payload, ctx):
    ctx.state = {{"rid": ctx.request_id}}
    if b"@sdk.before=respond@" in payload:
        return Respond({{"respondedBy": "sdk"}})
    return payload[::-1] if os.environ.get("SDK_REVERSE") else None

@after(raw=True)
def on_after(payload, ctx):
    with open(os.environ["TMW_LOG"], "a") as f:
        f.write(f"after {{ctx.request_id}} {{ctx.state}}\\n")
    return payload[::-1] if os.environ.get("SDK_REVERSE") else None

@error
def on_error(err, ctx):
    return Respond({{"recoveredBy": "sdk", "state": ctx.state, "errorType": err["errorType"]}})

run()
'''
# This interpreter, not `python3` on PATH: a pyenv shim there would change PATH for the child.
SDK_MW = SDK_MW.replace("#!/usr/bin/env python3", f"#!{sys.executable}", 1)

APP = '''
import hashlib, os

def handler(event, context):
    with open(os.environ["SIDE_EFFECT"], "a") as f:
        f.write(context.aws_request_id + "\\n")
    if isinstance(event, dict) and event.get("boom"):
        raise ValueError("the handler failed on purpose")
    return {"event": event, "requestId": context.aws_request_id}

def echo(event, context):
    with open(os.environ["SIDE_EFFECT"], "a") as f:
        f.write(hashlib.sha256(event).hexdigest() + "\\n")
    return event
'''


class Setup:
    """A task root, the test middleware, and the files they write."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.app = tmp_path / "app"
        self.app.mkdir()
        (self.app / "app.py").write_text(APP)
        self.tmw = write_executable(tmp_path / "bin" / "tmw", TMW)
        self.log = tmp_path / "calls.jsonl"
        self.side_effect = tmp_path / "handler-ran.txt"
        self.pidfile = tmp_path / "pids.txt"

    def middleware(self, name: str, mode: str, command: Path | None = None, **options: Any) -> dict[str, Any]:
        env = {"TMW_LOG": str(self.log), "TMW_PIDFILE": str(self.pidfile), **options.pop("env", {})}
        return {"name": name, "command": str(command or self.tmw), "mode": mode, "env": env, **options}

    def pipeline(self, middlewares: list[dict[str, Any]], handler: str = "app.handler") -> Path:
        document = {
            "runtime": {"name": "python", "handler": handler, "task_root": str(self.app),
                        "env": {"SIDE_EFFECT": str(self.side_effect)}},
            "middlewares": middlewares,
        }
        return write_pipeline(self.tmp, yaml.safe_dump(document))

    def calls(self, request_id: str | None = None) -> list[dict[str, Any]]:
        """Recorded hook calls (not process starts), optionally of one invocation."""
        if not self.log.exists():
            return []
        records = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [r for r in records if r["hook"] != "start" and (request_id is None or r["request_id"] == request_id)]

    def order(self, request_id: str) -> list[str]:
        return [f"{r['name']}.{r['hook']}" for r in self.calls(request_id)]

    def starts(self, name: str) -> list[int]:
        if not self.log.exists():
            return []
        records = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [r["pid"] for r in records if r["hook"] == "start" and r["name"] == name]

    def handler_ran(self) -> list[str]:
        return self.side_effect.read_text().splitlines() if self.side_effect.exists() else []


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def three(setup: Setup, mode: str, **per_name: dict[str, Any]) -> list[dict[str, Any]]:
    """Middlewares a, b, c in `mode`, all hooks; per_name adds options for one of them."""
    return [setup.middleware(n, mode, hooks=["before", "after", "error"], **per_name.get(n, {})) for n in "abc"]


# -- onion order, short-circuit ----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_onion_order_and_payload_changes(setup: Setup, mode: str) -> None:
    pipeline = setup.pipeline(three(setup, mode, a={"env": {"TMW_BEFORE": "tag", "TMW_AFTER": "tag"}},
                                    c={"env": {"TMW_BEFORE": "tag", "TMW_AFTER": "tag"}}))
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"x": 1}')
    assert result.function_error is None, result.body
    body = result.json()
    assert body["event"] == {"x": 1, "a.before": True, "c.before": True}
    assert body["c.after"] is True and body["a.after"] is True
    assert list(body) == ["event", "requestId", "c.after", "a.after"]  # c's after ran first
    assert setup.order(result.request_id) == ["a.before", "b.before", "c.before", "c.after", "b.after", "a.after"]


@pytest.mark.parametrize("mode", MODES)
def test_short_circuit_in_before_skips_handler_and_inner_layers(setup: Setup, mode: str) -> None:
    pipeline = setup.pipeline(three(setup, mode, a={"env": {"TMW_AFTER": "tag"}}))
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"cmd": "@b.before=respond@"}')
        normal = emulator.invoke(b'{"cmd": "nothing"}')
    assert result.function_error is None
    assert result.json() == {"respondedBy": "b", "hook": "before", "a.after": True}
    # The handler never ran for it (it writes a line per call), only for the next one.
    assert setup.handler_ran() == [normal.request_id]
    # a is outside b: its after runs; b's own after and everything inside b do not.
    assert setup.order(result.request_id) == ["a.before", "b.before", "a.after"]
    assert setup.order(normal.request_id) == ["a.before", "b.before", "c.before", "c.after", "b.after", "a.after"]


# -- error hooks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_error_hooks_run_in_onion_order_when_the_handler_fails(setup: Setup, mode: str) -> None:
    rewrite = {"env": {"TMW_ERROR": "rewrite"}}
    pipeline = setup.pipeline(three(setup, mode, a=rewrite, b=rewrite, c=rewrite))
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"boom": true}')
    assert result.function_error == "Unhandled"
    error = result.json()
    assert error["errorType"] == "ValueError"  # a rewrite keeps the type unless it changes it
    assert error["errorMessage"] == "a saw: b saw: c saw: the handler failed on purpose"
    assert error["seenBy"] == ["c", "b", "a"]
    assert setup.order(result.request_id) == ["a.before", "b.before", "c.before", "c.error", "b.error", "a.error"]


@pytest.mark.parametrize("mode", MODES)
def test_error_hook_recovery_turns_the_failure_into_a_response_for_outer_layers(setup: Setup, mode: str) -> None:
    pipeline = setup.pipeline(three(setup, mode, a={"env": {"TMW_AFTER": "tag"}},
                                    b={"env": {"TMW_ERROR": "recover"}}, c={"env": {"TMW_ERROR": "rewrite"}}))
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"boom": true}')
    assert result.function_error is None, result.body
    body = result.json()
    assert body["recoveredBy"] == "b"
    assert body["error"]["errorMessage"] == "c saw: the handler failed on purpose"
    assert body["a.after"] is True  # recovered: a gets `after`, not `error`
    assert setup.order(result.request_id) == ["a.before", "b.before", "c.before", "c.error", "b.error", "a.after"]


@pytest.mark.parametrize("mode", MODES)
def test_a_failing_middleware_reaches_the_error_hooks_outside_it(setup: Setup, mode: str) -> None:
    rewrite = {"env": {"TMW_ERROR": "rewrite"}}
    pipeline = setup.pipeline(three(setup, mode, a=rewrite, b=rewrite, c=rewrite))
    with orchestrated(pipeline) as emulator:
        in_after = emulator.invoke(b'{"cmd": "@c.after=fail@"}')
        in_before = emulator.invoke(b'{"cmd": "@b.before=fail@"}')
    expected_type = "Middleware.ExitError" if mode == "exec" else "Test.Failed"
    # c.after failed: b and a see `error` (c's own error hook does not run for its own failure).
    assert setup.order(in_after.request_id) == [
        "a.before", "b.before", "c.before", "c.after", "b.error", "a.error"]
    error = in_after.json()
    assert error["errorType"] == expected_type
    # exec: the orchestrator describes the exit; persistent: the middleware's own message.
    inner = "middleware 'c' hook 'after'" if mode == "exec" else "c failed in after"
    assert error["errorMessage"].startswith(f"a saw: b saw: {inner}")
    assert error["middleware"]["name"] == "c" and error["seenBy"] == ["b", "a"]
    # b.before failed: the handler and c are skipped; only a is unwound.
    assert setup.order(in_before.request_id) == ["a.before", "b.before", "a.error"]
    error = in_before.json()
    assert error["errorType"] == expected_type
    inner_before = "middleware 'b' hook 'before'" if mode == "exec" else "b failed in before"
    assert error["errorMessage"].startswith(f"a saw: {inner_before}")
    assert "b failed in before" in error["errorMessage"]
    assert setup.handler_ran() == [in_after.request_id]


@pytest.mark.parametrize("mode", MODES)
def test_on_error_skip_continues_and_fail_stops(setup: Setup, mode: str) -> None:
    pipeline = setup.pipeline([setup.middleware("skipper", mode, on_error="skip", env={"TMW_BEFORE": "fail"}),
                               setup.middleware("tagger", mode, env={"TMW_BEFORE": "tag"})])
    with orchestrated(pipeline) as emulator:
        skipped = emulator.invoke(b'{"kept": 1}')
    assert skipped.function_error is None, skipped.body
    assert skipped.json()["event"] == {"kept": 1, "tagger.before": True}
    pipeline = setup.pipeline([setup.middleware("failer", mode, on_error="fail", env={"TMW_BEFORE": "fail"}),
                               setup.middleware("tagger", mode, env={"TMW_BEFORE": "tag"})])
    with orchestrated(pipeline) as emulator:
        failed = emulator.invoke(b'{"kept": 1}')
    assert failed.function_error == "Unhandled"
    assert failed.json()["middleware"]["name"] == "failer"
    assert setup.handler_ran() == [skipped.request_id]
    assert setup.order(failed.request_id) == ["failer.before"]


@pytest.mark.parametrize("mode", MODES)
def test_on_error_skip_in_after_keeps_the_response(setup: Setup, mode: str) -> None:
    pipeline = setup.pipeline([setup.middleware("tagger", mode, env={"TMW_AFTER": "tag"}),
                               setup.middleware("skipper", mode, on_error="skip", env={"TMW_AFTER": "fail"})])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"y": 2}')
    assert result.function_error is None, result.body
    assert result.json()["event"] == {"y": 2} and result.json()["tagger.after"] is True


# -- timeouts, crashes, broken frames ------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_timeout_names_the_middleware_kills_its_group_and_the_next_invocation_works(
    setup: Setup, mode: str
) -> None:
    pipeline = setup.pipeline([setup.middleware("slow", mode, timeout_ms=700)])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"cmd": "@slow.before=sleep@"}')
        pids = [int(p) for p in setup.pidfile.read_text().split()]
        assert wait_gone(pids) == [], "the middleware or its grandchild outlived the timeout"
        again = emulator.invoke(b'{"n": 2}')
        third = emulator.invoke(b'{"n": 3}')
    error = result.json()
    assert result.function_error == "Unhandled"
    assert error["errorType"] == "Middleware.Timeout"
    assert "'slow'" in error["errorMessage"] and "'before'" in error["errorMessage"]
    assert "700 ms" in error["errorMessage"]
    assert error["middleware"]["name"] == "slow" and error["middleware"]["hook"] == "before"
    assert again.function_error is None and again.json()["event"] == {"n": 2}
    assert third.function_error is None
    if mode == "persistent":
        starts = setup.starts("slow")
        assert len(starts) == 2 and starts[0] == pids[0]  # restarted once, after the kill
        assert {c["pid"] for c in setup.calls(again.request_id)} == {starts[1]}


def test_persistent_crash_is_reported_with_status_and_stderr_and_restarted(setup: Setup) -> None:
    pipeline = setup.pipeline([setup.middleware("fragile", "persistent")])
    with orchestrated(pipeline) as emulator:
        crashed = emulator.invoke(b'{"cmd": "@fragile.before=crash@"}')
        again = emulator.invoke(b'{"n": 2}')
    error = crashed.json()
    assert crashed.function_error == "Unhandled"
    assert error["errorType"] == "Middleware.Crashed"
    assert "'fragile'" in error["errorMessage"] and "exit status 5" in error["errorMessage"]
    assert error["middleware"]["exitStatus"] == 5
    assert "about to crash" in error["middleware"]["stderrTail"]
    assert again.function_error is None and again.json()["event"] == {"n": 2}
    assert len(setup.starts("fragile")) == 2


def test_persistent_crash_in_after_reaches_outer_error_hooks(setup: Setup) -> None:
    pipeline = setup.pipeline([setup.middleware("outer", "persistent", hooks=["before", "after", "error"],
                                                env={"TMW_ERROR": "recover"}),
                               setup.middleware("fragile", "persistent")])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"cmd": "@fragile.after=crash@"}')
        again = emulator.invoke(b'{"cmd": "@fragile.after=pass@"}')
    assert result.function_error is None
    assert result.json()["error"]["errorType"] == "Middleware.Crashed"
    assert again.function_error is None and "event" in again.json()


def test_persistent_malformed_frame_is_invalid_frame_and_restarted(setup: Setup) -> None:
    pipeline = setup.pipeline([setup.middleware("garbled", "persistent")])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b'{"cmd": "@garbled.before=garbage@"}')
        again = emulator.invoke(b'{"n": 2}')
    error = result.json()
    assert error["errorType"] == "Middleware.InvalidFrame"
    assert "'garbled'" in error["errorMessage"] and "this is not a frame" in error["errorMessage"]
    assert again.function_error is None and again.json()["event"] == {"n": 2}
    assert len(setup.starts("garbled")) == 2  # out of sync: only a restart can fix it


# -- environment -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_env_allow_hides_the_functions_secrets(setup: Setup, mode: str) -> None:
    function_env = {"SUPER_SECRET": "hunter2", "ALLOWED_TABLE": "orders"}
    pipeline = setup.pipeline([
        setup.middleware("open", mode, env={"OWN": "1"}),
        setup.middleware("closed", mode, env={"OWN": "2"}, env_allow=["ALLOWED_TABLE"]),
    ])
    with orchestrated(pipeline, env=function_env) as emulator:
        # The middleware named in the token replaces the event with its environment.
        seen = {name: emulator.invoke(b'{"cmd": "@%s.before=env@"}' % name.encode()) for name in ("open", "closed")}
    envs = {}
    for name, result in seen.items():
        assert result.function_error is None, result.body
        envs[name] = result.json()["event"]
    closed, opened = envs["closed"], envs["open"]
    assert "SUPER_SECRET" not in closed
    assert closed["ALLOWED_TABLE"] == "orders" and closed["OWN"] == "2"
    assert closed["PATH"] == os.environ["PATH"] and closed["OPENRUNTIME_MIDDLEWARE"] == "closed"
    assert "AWS_LAMBDA_FUNCTION_NAME" not in closed  # a function variable that is not listed
    # Without a list it sees the function's variables, and its own.
    assert opened["SUPER_SECRET"] == "hunter2" and opened["ALLOWED_TABLE"] == "orders" and opened["OWN"] == "1"
    assert opened["AWS_LAMBDA_FUNCTION_NAME"] == "test_function"
    for env in (closed, opened):
        assert "AWS_LAMBDA_RUNTIME_API" not in env  # a middleware must not consume invocations
        assert "TMW_LOG" in env
        if mode == "persistent":
            assert env["OPENRUNTIME_PROTOCOL"] == "2"
        else:  # exec mode sets no protocol variable (the hook name is its last argument)
            assert "OPENRUNTIME_PROTOCOL" not in env


@pytest.mark.parametrize("mode", MODES)
def test_aws_credentials_reach_a_middleware_only_when_granted(setup: Setup, mode: str) -> None:
    """Least privilege: a third-party middleware does not get the function's role by default."""
    credentials = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
                   "AWS_SESSION_TOKEN": "token", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/c",
                   "AWS_CONTAINER_AUTHORIZATION_TOKEN": "t", "AWS_REGION": "eu-west-1"}
    pipeline = setup.pipeline([
        setup.middleware("plain", mode),
        setup.middleware("granted", mode, aws_credentials=True),
    ])
    with orchestrated(pipeline, env=credentials) as emulator:
        seen = {name: emulator.invoke(b'{"cmd": "@%s.before=env@"}' % name.encode()).json()["event"]
                for name in ("plain", "granted")}
    for name in credentials:
        if name != "AWS_REGION":
            assert name not in seen["plain"], name
            assert seen["granted"][name] == credentials[name], name
    assert seen["plain"]["AWS_REGION"] == "eu-west-1"  # not a secret: the SDKs need it to say so


def test_a_middleware_that_fails_for_want_of_credentials_gets_a_hint(setup: Setup, tmp_path: Path) -> None:
    failing = write_executable(tmp_path / "needs-aws", """
        #!/bin/sh
        echo "botocore.exceptions.NoCredentialsError: Unable to locate credentials" >&2
        exit 1
    """)
    pipeline = setup.pipeline([setup.middleware("needs-aws", "exec", command=failing, hooks=["before"])])
    with orchestrated(pipeline, env={"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}, stderr_file=tmp_path / "log") as emulator:
        result = emulator.invoke(b"{}")
    assert result.json()["errorType"] == "Middleware.ExitError"
    log = (tmp_path / "log").read_text()
    assert ("middleware 'needs-aws' failed and mentions credentials: it does not get the function's AWS "
            "credentials unless its pipeline entry says `aws_credentials: true`") in log


# -- payloads ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", [256, 5 * 1024 * 1024 - 256])
def test_binary_payloads_pass_both_ways_unchanged(setup: Setup, mode: str, size: int) -> None:
    # `outer` passes through; `flip` reverses in before and again in after: the handler sees
    # the exact reversed bytes and the caller gets the original back.
    pipeline = setup.pipeline([
        setup.middleware("outer", mode, hooks=["before", "after", "error"]),
        setup.middleware("flip", mode, env={"TMW_BEFORE": "reverse", "TMW_AFTER": "reverse"}),
    ], handler="app.echo")
    payload = bytes(range(256)) + random.Random(size).randbytes(size - 256)
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(payload, content_type="application/octet-stream")
    assert result.function_error is None, result.body[:500]
    assert len(result.body) == len(payload) and result.body == payload
    assert setup.handler_ran() == [hashlib.sha256(payload[::-1]).hexdigest()]
    types = {c["hook"]: c["content_type"] for c in setup.calls()}
    # The request's type in `before`; the runtime's for bytes (awslambdaric's) in `after`.
    assert types == {"before": "application/octet-stream", "after": "application/unknown"}


# -- state ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_state_from_before_reaches_after_and_error_and_does_not_leak(setup: Setup, mode: str) -> None:
    pipeline = setup.pipeline(three(setup, mode))
    with orchestrated(pipeline) as emulator:
        ok = emulator.invoke(b"{}")
        failed = emulator.invoke(b'{"boom": true}')
        short = emulator.invoke(b'{"cmd": "@c.before=respond@"}')
    for result in (ok, failed, short):
        calls = setup.calls(result.request_id)
        for call in calls:
            if call["hook"] == "before":
                assert call["state"] is None  # nothing carried over from an earlier invocation
                if mode == "exec":
                    assert call["state_file_at_start"] == ""  # it exists, empty
            else:
                assert call["state"] == {"set_by_before": result.request_id}, call
    assert [c["hook"] for c in setup.calls(failed.request_id)].count("error") == 3
    assert setup.order(short.request_id) == ["a.before", "b.before", "c.before", "b.after", "a.after"]


@pytest.mark.parametrize("mode", MODES)
def test_context_reaches_the_middleware_the_same_way_in_both_modes(setup: Setup, mode: str) -> None:
    pipeline = setup.pipeline([setup.middleware("ctx", mode)])
    with orchestrated(pipeline, timeout_s=30) as emulator:
        now_ms = int(time.time() * 1000)
        result = emulator.invoke(b"{}")
    (before, after) = setup.calls(result.request_id)
    for call in (before, after):
        assert call["middleware"] == "ctx" and call["content_type"] == "application/json"
        assert call["function_arn"].endswith(":function:test_function")
        assert now_ms + 29_000 <= call["deadline_ms"] <= now_ms + 31_000


# -- persistent specifics -----------------------------------------------------------------------------


def test_persistent_ready_hooks_narrow_what_is_sent(setup: Setup) -> None:
    pipeline = setup.pipeline([
        setup.middleware("narrow", "persistent", hooks=["before", "after", "error"], env={"TMW_HOOKS": "before"}),
        setup.middleware("wide", "persistent", hooks=["before", "after", "error"]),
    ])
    with orchestrated(pipeline) as emulator:
        ok = emulator.invoke(b"{}")
        failed = emulator.invoke(b'{"boom": true}')
    assert setup.order(ok.request_id) == ["narrow.before", "wide.before", "wide.after"]
    assert setup.order(failed.request_id) == ["narrow.before", "wide.before", "wide.error"]


def test_persistent_ready_hooks_cannot_widen_the_pipelines_hooks(setup: Setup) -> None:
    pipeline = setup.pipeline([setup.middleware("m", "persistent", hooks=["before"],
                                                env={"TMW_HOOKS": "before,after,error"})])
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(b"{}")
    assert setup.order(result.request_id) == ["m.before"]


def test_persistent_process_is_started_once(setup: Setup) -> None:
    pipeline = setup.pipeline([setup.middleware("once", "persistent", hooks=["before", "after", "error"])])
    with orchestrated(pipeline) as emulator:
        results = [emulator.invoke(b'{"boom": %d}' % (i % 3 == 0)) for i in range(25)]
    assert all(r.status == 200 for r in results)
    starts = setup.starts("once")
    assert len(starts) == 1
    assert {c["pid"] for c in setup.calls()} == {starts[0]}
    assert len(setup.calls()) == 50


def test_exec_mode_starts_a_process_per_call(setup: Setup) -> None:
    pipeline = setup.pipeline([setup.middleware("each", "exec")])
    with orchestrated(pipeline) as emulator:
        for _ in range(3):
            emulator.invoke(b"{}")
    assert len({c["pid"] for c in setup.calls()}) == 6


def test_persistent_middleware_that_cannot_start_is_an_init_error(setup: Setup) -> None:
    no_shebang = setup.tmp / "bin" / "text"
    no_shebang.write_text("just text\n")
    no_shebang.chmod(0o755)
    dies = write_executable(setup.tmp / "bin" / "dies", """
        #!/usr/bin/env python3
        import sys
        print("ImportError: no module named thing", file=sys.stderr)
        sys.exit(3)
    """)
    for command, error_type, expected in [(no_shebang, "Middleware.NotFound", "Exec format error"),
                                          (dies, "Middleware.Crashed", "no module named thing")]:
        pipeline = setup.pipeline([setup.middleware("broken", "persistent", command=command)])
        with orchestrated(pipeline) as emulator:
            result = emulator.invoke(b"{}")
        error = result.json()
        assert result.function_error == "Unhandled"
        assert error["errorType"] == error_type, error
        assert "'broken'" in error["errorMessage"] and expected in error["errorMessage"]
    assert setup.handler_ran() == []


# -- logs --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_middleware_stderr_is_tagged_with_name_and_request_id(setup: Setup, mode: str) -> None:
    pipeline = setup.pipeline([setup.middleware("chatty", mode)])
    stderr_file = setup.tmp / "orchestrator.stderr"
    with orchestrated(pipeline, stderr_file=stderr_file) as emulator:
        first = emulator.invoke(b"{}")
        second = emulator.invoke(b"{}")
        # Persistent STDERR is read by a thread: wait until its last line is logged.
        last = f"[chatty] {second.request_id} hello from chatty after\n"
        deadline = time.monotonic() + 5
        while last not in stderr_file.read_text() and time.monotonic() < deadline:
            time.sleep(0.01)
    text = stderr_file.read_text()
    for result in (first, second):
        for hook in ("before", "after"):
            assert f"[chatty] {result.request_id} hello from chatty {hook}\n" in text, text


# -- the same through the Python SDK -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_sdk_middleware_short_circuit_state_and_recovery(setup: Setup, mode: str) -> None:
    sdk = write_executable(setup.tmp / "bin" / "sdk", SDK_MW)
    pipeline = setup.pipeline([setup.middleware("sdk", mode, command=sdk, hooks=["before", "after", "error"])])
    with orchestrated(pipeline) as emulator:
        short = emulator.invoke(b'{"cmd": "@sdk.before=respond@"}')
        ok = emulator.invoke(b'{"n": 1}')
        failed = emulator.invoke(b'{"boom": true}')
    assert short.json() == {"respondedBy": "sdk"}
    assert setup.handler_ran() == [ok.request_id, failed.request_id]
    assert ok.json()["event"] == {"n": 1}
    assert failed.function_error is None
    assert failed.json() == {"recoveredBy": "sdk", "state": {"rid": failed.request_id}, "errorType": "ValueError"}
    assert setup.log.read_text().splitlines() == [f"after {ok.request_id} {{'rid': '{ok.request_id}'}}"]


@pytest.mark.parametrize("mode", MODES)
def test_sdk_middleware_binary_payload(setup: Setup, mode: str) -> None:
    sdk = write_executable(setup.tmp / "bin" / "sdk", SDK_MW)
    pipeline = setup.pipeline([setup.middleware("sdk", mode, command=sdk, env={"SDK_REVERSE": "1"})],
                              handler="app.echo")
    payload = bytes(range(256)) * 8192  # 2 MB
    with orchestrated(pipeline) as emulator:
        result = emulator.invoke(payload, content_type="application/octet-stream")
    assert result.body == payload
    assert setup.handler_ran() == [hashlib.sha256(payload[::-1]).hexdigest()]


def test_exec_middleware_that_leaves_a_child_holding_stdout_does_not_stall(setup: Setup) -> None:
    lingering = write_executable(setup.tmp / "bin" / "lingering", f"""
        #!/usr/bin/env bash
        sleep 300 &
        echo $! > {setup.pidfile}
        cat
    """)
    # Waiting for EOF on STDOUT would wait for the `sleep 300`, and end in Middleware.Timeout.
    pipeline = setup.pipeline([setup.middleware("lingering", "exec", command=lingering, hooks=["before"])])
    with orchestrated(pipeline, timeout_s=10) as emulator:
        result = emulator.invoke(b'{"n": 1}')
        assert wait_gone([int(setup.pidfile.read_text())]) == []  # and the child went with the group
    assert result.function_error is None, result.body
    assert result.json()["event"] == {"n": 1}


# -- `openruntime middleware run` ------------------------------------------------------------------------

OPENRUNTIME = [sys.executable, "-m", "openruntime"]


def middleware_run(*args: str, stdin: bytes = b"{}", env: dict[str, str] | None = None,
                   cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*OPENRUNTIME, "middleware", "run", *args], input=stdin, capture_output=True, check=False,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=60)


def stderr_fields(done: subprocess.CompletedProcess[bytes]) -> dict[str, str]:
    fields = {}
    for line in done.stderr.decode().splitlines():
        key, sep, value = line.partition(": ")
        if sep and " " not in key:
            fields[key] = value
    return fields


@pytest.mark.parametrize("mode", MODES)
def test_middleware_run_by_path_prints_payload_action_duration_and_state(setup: Setup, mode: str) -> None:
    done = middleware_run(str(setup.tmw), "--hook", "before", "--mode", mode, "--env", "TMW_BEFORE=tag",
                          "--env", f"TMW_LOG={setup.log}", stdin=b'{"a": 1}')
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout) == {"a": 1, "tmw.before": True}
    fields = stderr_fields(done)
    assert fields["action"] == "continue" and float(fields["duration_ms"]) > 0
    (call,) = setup.calls()
    assert json.loads(fields["state"]) == {"set_by_before": call["request_id"]}
    assert fields["request_id"] == call["request_id"] and call["mode"] == mode
    assert call["middleware"] == "tmw" and call["deadline_ms"] > time.time() * 1000 + 9_000
    assert f"[tmw] {call['request_id']} hello from tmw before" in done.stderr.decode()


@pytest.mark.parametrize("mode", MODES)
def test_middleware_run_from_a_pipeline_entry_respond_and_state_for_after(setup: Setup, mode: str) -> None:
    pipeline = setup.pipeline([setup.middleware("gate", mode, env={"TMW_BEFORE": "respond"})])
    done = middleware_run("gate", "--hook", "before", "--pipeline", str(pipeline))
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout) == {"respondedBy": "gate", "hook": "before"}
    assert stderr_fields(done)["action"] == "respond"
    done = middleware_run("gate", "--hook", "after", "--pipeline", str(pipeline), "--state", '{"from": "cli"}',
                          stdin=b'{"r": 1}')
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b'{"r": 1}'
    assert setup.calls()[-1]["state"] == {"from": "cli"}
    assert setup.calls()[-1]["mode"] == mode  # the entry's mode, without --mode


@pytest.mark.parametrize("mode", MODES)
def test_middleware_run_failure_exits_1_with_the_error_json(setup: Setup, mode: str) -> None:
    done = middleware_run(str(setup.tmw), "--hook", "error", "--mode", mode, "--env", "TMW_ERROR=fail",
                          stdin=b'{"errorType": "X", "errorMessage": "y"}')
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert error["middleware"] == {"name": "tmw", "hook": "error", **error["middleware"]}
    assert "tmw failed in error" in error["errorMessage"]
    assert stderr_fields(done)["action"] == "fail"


def test_middleware_run_finds_the_name_on_the_middleware_path_and_passes_binary_through(setup: Setup) -> None:
    folder = setup.tmp / "mwpath"
    write_executable(folder / "rev" / "rev", TMW)
    payload = bytes(range(256)) * 64
    for mode in MODES:
        done = middleware_run("rev", "--hook", "before", "--mode", mode, "--content-type", "application/octet-stream",
                              stdin=payload, env={"OPENRUNTIME_MIDDLEWARE_PATH": str(folder), "TMW_BEFORE": "reverse"})
        assert done.returncode == 0, done.stderr.decode()
        assert done.stdout == payload[::-1]


def test_middleware_run_unknown_name_and_bad_arguments(setup: Setup) -> None:
    done = middleware_run("no-such-mw", "--hook", "before", env={"OPENRUNTIME_MIDDLEWARE_PATH": str(setup.tmp)})
    assert done.returncode == 1
    assert json.loads(done.stdout)["errorType"] == "Middleware.NotFound"
    assert "'no-such-mw' not found" in done.stderr.decode()
    pipeline = setup.pipeline([setup.middleware("only", "exec")])
    done = middleware_run("other", "--hook", "before", "--pipeline", str(pipeline))
    assert done.returncode == 1 and "has no middleware 'other' (it has: only)" in done.stderr.decode()
    done = middleware_run(str(setup.tmw), "--hook", "before", "--env", "NOEQUALS")
    assert done.returncode == 1 and "--env expects NAME=VALUE" in done.stderr.decode()
    done = middleware_run(str(setup.tmw), "--hook", "sideways")
    assert done.returncode == 2 and "invalid choice" in done.stderr.decode()


def test_middleware_run_sees_what_invoke_gives_it_folder_and_function(tmp_path: Path) -> None:
    """With --pipeline, the middleware runs where `invoke` would run it (the pipeline's task
    root: a relative schema path means the same file), under the same function name."""
    project = tmp_path / "project"
    (project / "schemas").mkdir(parents=True)
    (project / "schemas" / "order.json").write_text(json.dumps({"type": "object", "required": ["id"]}))
    probe = project / "middlewares" / "probe" / "probe"
    probe.parent.mkdir(parents=True)
    probe.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                     "print(json.dumps({'schema': open('schemas/order.json').read() != '',"
                     " 'arn': os.environ['OPENRUNTIME_FUNCTION_ARN']}))\n")
    probe.chmod(0o755)
    (project / "pipeline.yml").write_text(
        "runtime: {name: python, handler: app.handler, task_root: .}\n"
        "middlewares:\n"
        "  - {name: validate, hooks: [before], env: {VALIDATE_SCHEMA: schemas/order.json, VALIDATE_ENVELOPE: none}}\n"
        "  - {name: probe, hooks: [before]}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    pipeline = str(project / "pipeline.yml")
    refused = middleware_run("validate", "--hook", "before", "--pipeline", pipeline, stdin=b'{"n": 1}', cwd=elsewhere)
    assert refused.returncode == 1 and b"Validation.Failed" in refused.stdout, refused.stderr.decode()
    passed = middleware_run("validate", "--hook", "before", "--pipeline", pipeline, stdin=b'{"id": 1}', cwd=elsewhere)
    assert passed.returncode == 0 and json.loads(passed.stdout) == {"id": 1}
    seen = json.loads(middleware_run("probe", "--hook", "before", "--pipeline", pipeline, cwd=elsewhere).stdout)
    assert seen["schema"] and seen["arn"].endswith(":function:test_function")  # the emulator's default name
