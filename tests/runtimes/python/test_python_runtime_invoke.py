"""One invocation through our runtime and through awslambdaric, in process, side by side:
the posted bodies, content types, X-Ray causes and error log lines must be the same."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from awslambdaric import bootstrap as ric
from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller
from openruntime_python_runtime.client import Invocation

ARN = "arn:aws:lambda:us-east-1:012345678912:function:fn"


@dataclass
class RicRecorder:
    """The part of awslambdaric's LambdaRuntimeClient that handle_event_request uses."""

    marshaller: LambdaMarshaller = field(default_factory=LambdaMarshaller)
    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def post_invocation_result(self, invoke_id: str, result: Any, content_type: str, invocation_id: Any = None) -> None:
        body = result if isinstance(result, bytes) else result.encode("utf-8")
        self.posts.append(("response", {"request_id": invoke_id, "body": body, "content_type": content_type, "invocation_id": invocation_id}))

    def post_invocation_error(self, invoke_id: str, error: str, xray: str, invocation_id: Any = None) -> None:
        self.posts.append(("error", {"request_id": invoke_id, "body": error.encode("utf-8"), "xray_cause": xray, "invocation_id": invocation_id}))


@dataclass
class Case:
    body: bytes = b'{"value": 7}'
    content_type: str | None = "application/json"
    client_context: str | None = None
    cognito_identity: str | None = None


def run_both(
    make_runtime: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    handler: Callable[[Any, Any], Any],
    case: Case,
) -> tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]], str, str]:
    deadline = int(time.time() * 1000) + 60_000
    runtime, ours = make_runtime()
    capsys.readouterr()
    runtime.handle(
        handler,
        Invocation(
            request_id="req-1",
            deadline_ms=deadline,
            invoked_function_arn=ARN,
            trace_id=None,
            client_context=case.client_context,
            cognito_identity=case.cognito_identity,
            tenant_id=None,
            invocation_id="inv-1",
            content_type=case.content_type,
            body=case.body,
        ),
    )
    our_log = capsys.readouterr().out
    theirs = RicRecorder()
    ric.handle_event_request(
        theirs,
        handler,
        "req-1",
        case.body,
        case.content_type,
        case.client_context,
        case.cognito_identity,
        ARN,
        deadline,
        None,
        ric.StandardLogSink(),
        "inv-1",
    )
    their_log = capsys.readouterr().out
    [our_post] = ours.posts
    [their_post] = theirs.posts
    return our_post, their_post, our_log, their_log


def assert_same_response(ours: tuple[str, dict[str, Any]], theirs: tuple[str, dict[str, Any]]) -> None:
    assert ours == theirs


def assert_same_error(ours: tuple[str, dict[str, Any]], theirs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    assert ours[0] == theirs[0] == "error"
    our_body = json.loads(ours[1]["body"])
    assert ours[1]["body"] == theirs[1]["body"], "error bodies differ byte for byte"
    assert list(our_body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert ours[1]["request_id"] == theirs[1]["request_id"] == "req-1"
    assert ours[1]["invocation_id"] == theirs[1]["invocation_id"] == "inv-1"
    # We also send the error type header (awslambdaric does not on invoke errors).
    assert ours[1]["error_type"] == our_body["errorType"]
    our_cause, their_cause = json.loads(ours[1]["xray_cause"]), json.loads(theirs[1]["xray_cause"])
    assert set(our_cause.pop("paths")) == set(their_cause.pop("paths"))
    assert our_cause == their_cause
    return our_body  # type: ignore[no-any-return]


# -- handlers (their frames are what the stack traces must show) ----------------------


def echo(event: Any, context: Any) -> Any:
    return {"event": event, "arn": context.invoked_function_arn}


def event_type(event: Any, context: Any) -> Any:
    return {"type": type(event).__name__, "len": len(event)}


def _inner(value: Any) -> None:
    raise ValueError(f"bad value {value}")


def raises(event: Any, context: Any) -> Any:
    _inner(event["value"])


def raises_without_message(event: Any, context: Any) -> Any:
    raise RuntimeError


def returns_bytes(event: Any, context: Any) -> Any:
    return b"\x00raw\xff"


def returns_decimals(event: Any, context: Any) -> Any:
    return {"price": Decimal("19.990"), "n": [Decimal("1E+3"), Decimal("-0"), Decimal("NaN")], "f": 1.5}


def returns_unserializable(event: Any, context: Any) -> Any:
    return {"x": {1, 2}}


def returns_unicode(event: Any, context: Any) -> Any:
    return {"text": "héllo ☃ 😀"}


def raises_unicode(event: Any, context: Any) -> Any:
    raise KeyError("clé ☃")


def returns_nested_bytes(event: Any, context: Any) -> Any:
    return {"b": b"abc", b"key": 1}


# -- tests ---------------------------------------------------------------------------------


def test_success(make_runtime, capsys) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, _, _ = run_both(make_runtime, capsys, echo, Case())
    assert_same_response(ours, theirs)
    assert ours[1]["body"] == b'{"event": {"value": 7}, "arn": "' + ARN.encode() + b'"}'
    assert ours[1]["content_type"] == "application/json"
    assert ours[1]["invocation_id"] == "inv-1"


@pytest.mark.parametrize("content_type", ["text/plain", "application/json; charset=utf-8", None])
def test_event_is_raw_bytes_unless_content_type_is_exactly_json(make_runtime, capsys, content_type) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, _, _ = run_both(make_runtime, capsys, event_type, Case(body=b"not json", content_type=content_type))
    assert_same_response(ours, theirs)
    assert json.loads(ours[1]["body"]) == {"type": "bytes", "len": 8}


def test_utf8_bom_is_accepted(make_runtime, capsys) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, _, _ = run_both(make_runtime, capsys, echo, Case(body=b'\xef\xbb\xbf{"a": 1}'))
    assert_same_response(ours, theirs)


def test_handler_exception(make_runtime, capsys) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, our_log, their_log = run_both(make_runtime, capsys, raises, Case())
    body = assert_same_error(ours, theirs)
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad value 7"
    # The first frame is the user's handler, not the runtime.
    assert body["stackTrace"][0].startswith(f'  File "{__file__}", line ')
    assert "in raises\n" in body["stackTrace"][0]
    assert "in _inner\n" in body["stackTrace"][1]
    assert len(body["stackTrace"]) == 2
    assert our_log == their_log
    assert our_log.startswith("[ERROR] ValueError: bad value 7\rTraceback (most recent call last):\r\u00a0\u00a0File ")


def test_exception_without_message(make_runtime, capsys) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, our_log, their_log = run_both(make_runtime, capsys, raises_without_message, Case())
    assert assert_same_error(ours, theirs)["errorMessage"] == ""
    assert our_log == their_log


def test_bytes_result_is_sent_as_is(make_runtime, capsys) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, _, _ = run_both(make_runtime, capsys, returns_bytes, Case())
    assert_same_response(ours, theirs)
    assert ours[1]["body"] == b"\x00raw\xff"
    assert ours[1]["content_type"] == "application/unknown"


def test_decimals_keep_their_digits(make_runtime, capsys) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, _, _ = run_both(make_runtime, capsys, returns_decimals, Case())
    assert_same_response(ours, theirs)
    assert ours[1]["body"] == b'{"price": 19.990, "n": [1E+3, -0, NaN], "f": 1.5}'


def test_bytes_inside_the_result_are_decoded(make_runtime, capsys) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, _, _ = run_both(make_runtime, capsys, returns_nested_bytes, Case())
    assert_same_response(ours, theirs)
    assert json.loads(ours[1]["body"]) == {"b": "abc", "key": 1}


def test_unserializable_result_is_a_marshal_error(make_runtime, capsys) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, our_log, their_log = run_both(make_runtime, capsys, returns_unserializable, Case())
    body = assert_same_error(ours, theirs)
    assert body["errorType"] == "Runtime.MarshalError"
    assert body["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
    assert body["stackTrace"] == []
    assert our_log == their_log


@pytest.mark.parametrize("event", [b'{"value": ', b'{"value": NaN}', b"[1, -Infinity]", b""])
def test_bad_json_event_is_an_unmarshal_error(make_runtime, capsys, event) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, our_log, their_log = run_both(make_runtime, capsys, echo, Case(body=event))
    body = json.loads(ours[1]["body"])
    assert body["errorType"] == json.loads(theirs[1]["body"])["errorType"] == "Runtime.UnmarshalError"
    assert body["errorMessage"].startswith("Unable to unmarshal input: Expecting ")
    if event != b'{"value": ':  # simplejson words the truncated-object case differently
        assert_same_error(ours, theirs)
        assert our_log == their_log


@pytest.mark.parametrize(
    ("client_context", "cognito_identity"),
    [("{not json", None), (None, "{'single': 'quotes'}")],
)
def test_bad_context_header_json(make_runtime, capsys, client_context, cognito_identity) -> None:  # type: ignore[no-untyped-def]
    case = Case(client_context=client_context, cognito_identity=cognito_identity)
    ours, theirs, our_log, their_log = run_both(make_runtime, capsys, echo, case)
    body = assert_same_error(ours, theirs)
    assert body["errorType"] == "Runtime.LambdaContextUnmarshalError"
    assert body["errorMessage"].startswith("Unable to parse ")
    assert our_log == their_log


@pytest.mark.parametrize("execution_env", [None, "AWS_Lambda_python3.12", "AWS_Lambda_python3.11"])
@pytest.mark.parametrize("handler", [returns_unicode, raises_unicode])
def test_non_ascii_escaping_follows_the_execution_env(
    make_runtime, capsys, monkeypatch, execution_env, handler  # type: ignore[no-untyped-def]
) -> None:
    if execution_env is None:
        monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)
    else:
        monkeypatch.setenv("AWS_EXECUTION_ENV", execution_env)
    ours, theirs, _, _ = run_both(make_runtime, capsys, handler, Case())
    assert ours[1]["body"] == theirs[1]["body"]
    escaped = execution_env != "AWS_Lambda_python3.12"
    assert (b"\\u2603" in ours[1]["body"]) is escaped
    assert ("☃".encode() in ours[1]["body"]) is not escaped


def test_trace_id_is_set_then_cleared(make_runtime, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "stale")
    runtime, _ = make_runtime()
    seen: list[str | None] = []

    def handler(event: Any, context: Any) -> None:
        seen.append(os.environ.get("_X_AMZN_TRACE_ID"))

    for trace_id in ("Root=1-abc;Parent=def;Sampled=1", None):
        runtime.handle(
            handler,
            Invocation("r", 0, ARN, trace_id, None, None, None, None, "application/json", b"{}"),
        )
    assert seen == ["Root=1-abc;Parent=def;Sampled=1", None]


def test_no_invocation_id_is_echoed_when_none_came(make_runtime) -> None:  # type: ignore[no-untyped-def]
    runtime, client = make_runtime()
    runtime.handle(echo, Invocation("r", 0, ARN, None, None, None, None, None, "application/json", b"{}"))
    runtime.handle(raises, Invocation("r2", 0, ARN, None, None, None, None, None, "application/json", b'{"value": 1}'))
    assert [post["invocation_id"] for _, post in client.posts] == [None, None]
