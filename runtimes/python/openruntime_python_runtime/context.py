"""The `context` handed to handlers, attribute for attribute like awslambdaric's LambdaContext."""

from __future__ import annotations

import json
import logging
import os
import sys
import time

from openruntime_python_runtime.errors import LAMBDA_CONTEXT_UNMARSHAL_ERROR, FaultError

# typing is not imported at run time: it would add milliseconds to every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Only these W3C trace-context fields (string values) are exposed through `context.w3c()`.
W3C_ALLOWED_FIELDS = ("traceparent", "tracestate", "baggage")


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __init__(self) -> None:
        self.cognito_identity_id: str | None = None
        self.cognito_identity_pool_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(["
            f"cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}"
            "])"
        )


class Client:
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]
    installation_id: Any
    app_title: Any
    app_version_name: Any
    app_version_code: Any
    app_package_name: Any

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(["
            f"installation_id={self.installation_id},"
            f"app_title={self.app_title},"
            f"app_version_name={self.app_version_name},"
            f"app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}"
            "])"
        )


class ClientContext:
    __slots__ = ["custom", "env", "client"]
    custom: Any
    env: Any
    client: Any

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}([custom={self.custom},env={self.env},client={self.client}])"


def _from_dict(cls: type, values: Any) -> Any:
    """An instance of a __slots__ class with every slot taken from `values` (None if absent)."""
    if values is None:
        return None
    obj = cls()
    for name in getattr(cls, "__slots__"):
        # `.get` on a non-dict raises AttributeError, as it does in awslambdaric.
        setattr(obj, name, values.get(name, None))
    return obj


class LambdaContext:
    def __init__(
        self,
        invoke_id: str,
        client_context: Any,
        cognito_identity: Any,
        epoch_deadline_time_in_ms: int,
        invoked_function_arn: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        env = os.environ
        self.aws_request_id = invoke_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self._w3c_fields = _pop_w3c(client_context)

        self.client_context = _from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _from_dict(Client, self.client_context.client)

        self.identity = CognitoIdentity()
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")

        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self) -> int:
        delta_ms = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta_ms if delta_ms > 0 else 0

    def w3c(self) -> dict[str, str]:
        """The W3C trace context the caller sent in the client context, if any."""
        return dict(self._w3c_fields)

    def log(self, msg: Any) -> None:
        # Straight to the log sink when the runtime's handler is installed (no
        # formatting), else stdout: awslambdaric's behaviour.
        for handler in logging.getLogger().handlers:
            sink = getattr(handler, "log_sink", None)
            if sink is not None:
                sink.log(str(msg))
                return
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(["
            f"aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}"
            "])"
        )


def _pop_w3c(client_context: Any) -> dict[str, str]:
    """Take `w3c` out of the client context (it is not visible there) and keep its allowed string fields."""
    if not isinstance(client_context, dict) or "w3c" not in client_context:
        return {}
    raw = client_context.pop("w3c")
    if not isinstance(raw, dict):
        return {}
    return {key: value for key in W3C_ALLOWED_FIELDS if isinstance(value := raw.get(key), str)}


def _parse_json_header(value: str, name: str) -> Any:
    try:
        return json.loads(value)
    except Exception as exc:
        raise FaultError(LAMBDA_CONTEXT_UNMARSHAL_ERROR, f"Unable to parse {name} JSON: {exc}") from None


def create_context(
    invoke_id: str,
    client_context_json: str | None,
    cognito_identity_json: str | None,
    deadline_ms: int,
    invoked_function_arn: str | None,
    tenant_id: str | None,
) -> LambdaContext:
    client_context = _parse_json_header(client_context_json, "Client Context") if client_context_json else None
    cognito_identity = (
        _parse_json_header(cognito_identity_json, "Cognito Identity") if cognito_identity_json else None
    )
    return LambdaContext(invoke_id, client_context, cognito_identity, deadline_ms, invoked_function_arn, tenant_id)
