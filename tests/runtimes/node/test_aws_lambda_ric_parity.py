"""The bundled Node runtime against AWS's own client (npm aws-lambda-ric), side by side.

Both run the same handler fixtures behind the same emulator; what a caller sees must
match. aws-lambda-ric builds a native addon at install time, so it is not installed by
the test suite: run tests/runtimes/node/install-aws-lambda-ric.sh once (see its header),
or point $OPENRUNTIME_AWS_LAMBDA_RIC at an installed package directory.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from node_fixtures import NODE, node_function, requires_node


def _ric_package() -> Path | None:
    explicit = os.environ.get("OPENRUNTIME_AWS_LAMBDA_RIC")
    cache = Path(os.environ.get("OPENRUNTIME_CACHE", Path.home() / ".cache" / "openruntime"))
    candidates = [Path(explicit)] if explicit else []
    candidates.append(cache / "aws-lambda-ric" / "node_modules" / "aws-lambda-ric")
    for pkg in candidates:
        if (pkg / "bin" / "index.mjs").is_file() and (pkg / "dist" / "rapid-client.node").is_file():
            return pkg
    return None


RIC = _ric_package()

pytestmark = [
    requires_node,
    pytest.mark.skipif(
        RIC is None,
        reason="aws-lambda-ric is not installed (it needs a native build): run "
        "tests/runtimes/node/install-aws-lambda-ric.sh or set OPENRUNTIME_AWS_LAMBDA_RIC",
    ),
]


def _run(runtime: str, fixture: str, handler: str, events: list[bytes], **invoke_kwargs):
    command = None
    if runtime == "official":
        assert RIC is not None
        command = [NODE or "node", str(RIC / "bin" / "index.mjs"), handler]
    results = []
    with node_function(fixture, handler, command=command) as emu:
        for event in events:
            began = time.monotonic()
            result = emu.invoke(event, **invoke_kwargs)
            results.append((result, time.monotonic() - began))
        arn = emu.function.arn
    return results, arn


def _both(fixture, handler, events, **invoke_kwargs):
    ours, arn1 = _run("ours", fixture, handler, events, **invoke_kwargs)
    theirs, arn2 = _run("official", fixture, handler, events, **invoke_kwargs)
    assert arn1 == arn2
    return ours, theirs


@pytest.mark.parametrize(
    ("handler", "event"),
    [
        ("app.echo", {"x": 1, "s": "héllo ✓"}),
        ("app.promise", {"n": 21}),
        ("app.callback", {"n": 1}),
        ("app.contextSucceed", {}),
        ("app.contextDone", {}),
        ("app.noResult", {}),
        ("app.syncReturn", {}),
        ("app.neverSettles", {}),
        ("app.returnsUndefined", {}),
        ("app.callbackTwice", {}),
        ("app.nested.deeper.handler", {}),
        ("sub/dir/mod.handler", {"a": [1, 2]}),
    ],
)
def test_same_responses(handler, event):
    events = [json.dumps(event).encode()] * 2
    ours, theirs = _both("cjs", handler, events)
    for (mine, _), (official, _) in zip(ours, theirs):
        assert mine.function_error == official.function_error is None
        assert mine.body == official.body


@pytest.mark.parametrize(
    ("fixture", "handler"),
    [
        ("cjs", "app.throws"),
        ("cjs", "app.syncThrows"),
        ("cjs", "app.customError"),
        ("cjs", "app.callbackError"),
        ("cjs", "app.contextFail"),
        ("cjs", "app.rejectsString"),
        ("cjs", "app.unicodeError"),
        ("esm", "app.throws"),
    ],
)
def test_same_invocation_errors(fixture, handler):
    ours, theirs = _both(fixture, handler, [b"{}"])
    mine, official = ours[0][0], theirs[0][0]
    assert mine.function_error == official.function_error == "Unhandled"
    a, b = mine.json(), official.json()
    assert set(a) == set(b) == {"errorType", "errorMessage", "trace"}
    assert a["errorType"] == b["errorType"]
    assert a["errorMessage"] == b["errorMessage"]
    # the first trace lines are the user's: same message line, same handler frame
    assert a["trace"][:2] == b["trace"][:2]


def test_same_error_for_an_event_that_is_not_json():
    ours, theirs = _both("cjs", "app.echo", [b"{oops", b'{"fine": 1}'], content_type="text/plain")
    assert ours[0][0].json()["errorType"] == theirs[0][0].json()["errorType"] == "SyntaxError"
    assert ours[0][0].json()["errorMessage"] == theirs[0][0].json()["errorMessage"]
    assert ours[1][0].body == theirs[1][0].body


@pytest.mark.parametrize(
    ("fixture", "handler"),
    [
        ("cjs", "missing.handler"),
        ("cjs", "app.nothere"),
        ("cjs", "app.notAFunction"),
        ("cjs", "app"),
        ("syntax", "app.handler"),
        ("initthrow", "app.handler"),
        ("esm", "app.nothere"),
    ],
)
def test_same_init_errors(fixture, handler):
    ours, theirs = _both(fixture, handler, [b"{}"])
    a, b = ours[0][0].json(), theirs[0][0].json()
    assert ours[0][0].function_error == theirs[0][0].function_error == "Unhandled"
    assert a["errorType"] == b["errorType"]
    if a["errorType"] == "Runtime.ImportModuleError":
        # "Require stack" names each runtime's own files; the first line must agree
        assert a["errorMessage"].split("\n")[0] == b["errorMessage"].split("\n")[0]
    elif a["errorType"] != "Runtime.UserCodeSyntaxError":
        assert a["errorMessage"] == b["errorMessage"]


def test_same_context():
    client_context = {"client": {"app_title": "t"}, "custom": {"a": 1}, "env": {"locale": "en"}}
    identity = {"cognitoIdentityId": "i", "cognitoIdentityPoolId": "p"}
    kwargs = dict(
        client_context=json.dumps(client_context),
        cognito_identity=json.dumps(identity),
        trace_id="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        tenant_id="tenant-1",
    )
    ours, theirs = _both("cjs", "app.context", [b"{}"], **kwargs)
    (mine, _), (official, _) = ours[0], theirs[0]
    a, b = mine.json(), official.json()
    assert a.pop("awsRequestId") == mine.request_id
    assert b.pop("awsRequestId") == official.request_id
    assert abs(a.pop("remaining") - b.pop("remaining")) < 2000
    a.pop("logStreamName"), b.pop("logStreamName")  # random per emulator
    assert a == b


def test_same_callback_wait_semantics():
    events = [b'{"timerMs": 1}', b'{"timerMs": 1000}']
    ours, theirs = _both("cjs", "app.callbackWaits", events)
    assert ours[1][0].body == theirs[1][0].body == b'"waited"'
    assert ours[1][1] >= 0.9 and theirs[1][1] >= 0.9
    ours, theirs = _both("cjs", "app.callbackNoWait", events)
    assert ours[1][0].body == theirs[1][0].body == b'"did not wait"'
    assert ours[1][1] < 0.8 and theirs[1][1] < 0.8


@pytest.mark.parametrize("handler", ["app.uncaughtInTimer", "app.unhandledRejection"])
def test_same_errors_for_failures_outside_the_handler_call(handler):
    ours, theirs = _both("cjs", handler, [b"{}"])
    a, b = ours[0][0].json(), theirs[0][0].json()
    assert a["errorType"] == b["errorType"]
    assert a["errorMessage"] == b["errorMessage"]
    assert a["trace"][0] == b["trace"][0]


def test_same_streamed_response():
    ours, theirs = _both("streaming", "app.handler", [b'{"chunks": 3}', b'{"chunks": 1}'])
    for (mine, _), (official, _) in zip(ours, theirs):
        assert mine.function_error == official.function_error is None
        assert mine.body == official.body
        assert mine.headers["content-type"] == official.headers["content-type"] == "text/plain"


@pytest.mark.parametrize("handler", ["app.echo", "app.callback", "app.throws"])
def test_same_results_behind_the_orchestrator(tmp_path, handler):
    """The official client as `runtime.command` behind openruntime, against runtime `node`."""
    import sys

    import yaml

    from openruntime.emulator.sandbox import Emulator, FunctionSettings
    from node_fixtures import HANDLERS

    task_root = HANDLERS / "cjs"
    bodies = []
    for label, runtime in (("ours", {"name": "node"}),
                           ("official", {"command": [NODE or "node", str(RIC / "bin" / "index.mjs")]})):
        pipeline = tmp_path / f"{label}.yml"
        pipeline.write_text(yaml.safe_dump({"runtime": {**runtime, "handler": handler, "task_root": str(task_root)}}))
        with Emulator(command=[sys.executable, "-m", "openruntime", "bootstrap"], cwd=task_root,
                      env={"OPENRUNTIME_PIPELINE": str(pipeline)}, function=FunctionSettings(timeout_s=20),
                      log=lambda _: None) as emu:
            result = emu.invoke(json.dumps({"x": 1}).encode())
        bodies.append((result.function_error, json.loads(result.body)))
    (our_error, ours), (their_error, theirs) = bodies
    assert our_error == their_error, bodies
    if our_error:
        assert (ours["errorType"], ours["errorMessage"]) == (theirs["errorType"], theirs["errorMessage"])
        assert ours["trace"][0] == theirs["trace"][0]
    else:
        assert ours == theirs
