"""The handler's `context`: same attributes, values and failures as awslambdaric's."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from awslambdaric import bootstrap as ric
from awslambdaric.lambda_runtime_exception import FaultException
from openruntime_python_runtime.context import create_context
from openruntime_python_runtime.errors import FaultError

ARN = "arn:aws:lambda:us-east-1:012345678912:function:fn:live"
PUBLIC = (
    "aws_request_id",
    "function_name",
    "function_version",
    "invoked_function_arn",
    "memory_limit_in_mb",
    "log_group_name",
    "log_stream_name",
    "tenant_id",
)

CLIENT_CONTEXT = json.dumps(
    {
        "client": {"installation_id": "inst-1", "app_title": "App", "app_version_code": "7"},
        "custom": {"k": "v"},
        "env": {"platform": "Android"},
        "w3c": {"traceparent": "00-abc-def-01", "tracestate": 5, "other": "x"},
    }
)
COGNITO = json.dumps({"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"})


@pytest.fixture(autouse=True)
def function_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fn")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
    monkeypatch.setenv("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/fn")
    monkeypatch.setenv("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]abc")


def both(client_context: str | None, cognito: str | None, deadline: int, tenant: str | None) -> tuple[Any, Any]:
    ours = create_context("req-1", client_context, cognito, deadline, ARN, tenant)
    theirs = ric.create_lambda_context(client_context, cognito, deadline, "req-1", ARN, tenant)
    return ours, theirs


@pytest.mark.parametrize(
    ("client_context", "cognito", "tenant"),
    [(None, None, None), (CLIENT_CONTEXT, COGNITO, "tenant-9"), (json.dumps({"custom": {"a": 1}}), None, None)],
)
def test_attributes_match_awslambdaric(client_context: str | None, cognito: str | None, tenant: str | None) -> None:
    ours, theirs = both(client_context, cognito, int(time.time() * 1000) + 10_000, tenant)
    for name in PUBLIC:
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.memory_limit_in_mb == "512"  # a string, as in awslambdaric
    assert ours.identity.cognito_identity_id == theirs.identity.cognito_identity_id
    assert ours.identity.cognito_identity_pool_id == theirs.identity.cognito_identity_pool_id
    assert (ours.client_context is None) == (theirs.client_context is None)
    if ours.client_context is not None:
        for name in ("custom", "env"):
            assert getattr(ours.client_context, name) == getattr(theirs.client_context, name)
        assert repr(ours.client_context.client) == repr(theirs.client_context.client)
    assert ours.w3c() == theirs.w3c()
    assert repr(ours) == repr(theirs)


def test_full_client_context_values() -> None:
    ctx = create_context("req-1", CLIENT_CONTEXT, COGNITO, 0, ARN, "tenant-9")
    assert ctx.client_context.custom == {"k": "v"}
    assert ctx.client_context.env == {"platform": "Android"}
    assert ctx.client_context.client.installation_id == "inst-1"
    assert ctx.client_context.client.app_package_name is None
    assert ctx.identity.cognito_identity_pool_id == "pool-1"
    assert ctx.tenant_id == "tenant-9"
    # w3c is taken out of the client context and only its allowed string fields are kept.
    assert ctx.w3c() == {"traceparent": "00-abc-def-01"}
    assert not hasattr(ctx.client_context, "w3c")


def test_identity_exists_without_cognito_header() -> None:
    ctx = create_context("req-1", None, None, 0, ARN, None)
    assert ctx.identity.cognito_identity_id is None
    assert ctx.identity.cognito_identity_pool_id is None
    assert ctx.client_context is None


def test_remaining_time_counts_down_to_the_deadline() -> None:
    ctx = create_context("req-1", None, None, int(time.time() * 1000) + 1500, ARN, None)
    first = ctx.get_remaining_time_in_millis()
    assert 1300 < first <= 1500
    time.sleep(0.05)
    assert 0 < ctx.get_remaining_time_in_millis() <= first - 40


@pytest.mark.parametrize("deadline", [0, int(time.time() * 1000) - 5000], ids=["zero", "five-seconds-ago"])
def test_remaining_time_is_never_negative(deadline: int) -> None:
    assert create_context("req-1", None, None, deadline, ARN, None).get_remaining_time_in_millis() == 0


@pytest.mark.parametrize(
    ("client_context", "cognito"),
    [("{bad", None), (None, "not json"), ("", "[1,")],
)
def test_bad_header_json_is_a_context_unmarshal_error(client_context: str | None, cognito: str | None) -> None:
    with pytest.raises(FaultError) as ours:
        create_context("req-1", client_context, cognito, 0, ARN, None)
    with pytest.raises(FaultException) as theirs:
        ric.create_lambda_context(client_context, cognito, 0, "req-1", ARN, None)
    assert ours.value.error_type == theirs.value.exception_type == "Runtime.LambdaContextUnmarshalError"
    assert ours.value.msg == theirs.value.msg
