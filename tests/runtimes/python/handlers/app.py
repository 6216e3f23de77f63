"""Handlers that the end-to-end tests run under both runtimes (ours and awslambdaric)."""

import json
import logging
import os
import time
from decimal import Decimal

logger = logging.getLogger(__name__)


def echo(event, context):
    return {"event": event}


def raw_event_type(event, context):
    return {"type": type(event).__name__, "value": event.decode() if isinstance(event, bytes) else event}


def context_fields(event, context):
    identity = context.identity
    client_context = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "tenant_id": context.tenant_id,
        "identity": {
            "cognito_identity_id": identity.cognito_identity_id,
            "cognito_identity_pool_id": identity.cognito_identity_pool_id,
        },
        "client_context": None
        if client_context is None
        else {
            "custom": client_context.custom,
            "env": client_context.env,
            "client": None
            if client_context.client is None
            else {"installation_id": client_context.client.installation_id, "app_title": client_context.client.app_title},
        },
        "trace_id_env": os.environ.get("_X_AMZN_TRACE_ID"),
    }


def remaining_time(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(event.get("sleep_s", 0))
    return {"first": first, "second": context.get_remaining_time_in_millis()}


def _helper(value):
    raise ValueError(f"bad value: {value}")


def raises(event, context):
    _helper(event.get("value"))


def returns_bytes(event, context):
    return b"\x00\x01raw bytes\xff"


def returns_decimal(event, context):
    return {"price": Decimal("19.990"), "qty": Decimal("3"), "big": Decimal("1E+3")}


def returns_unserializable(event, context):
    return {"when": object()}


def returns_unicode(event, context):
    return {"text": "héllo ☃"}


def logs(event, context):
    logger.warning("warned %s", event.get("n"))
    print("printed", json.dumps(event))
    return "ok"


not_callable = 42


def sys_path_info(event, context):
    import sys

    runtime_dirs = [p for p in sys.path if os.path.isdir(os.path.join(p or ".", "openruntime_python_runtime"))]
    return {"first": sys.path[0], "cwd": os.getcwd(), "runtime_dirs": runtime_dirs}


def big_response(event, context):
    return "x" * (7 * 1024 * 1024)


def deep_recursion(event, context):
    return deep_recursion(event, context)
