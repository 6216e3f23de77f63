"""The middleware's hook, independent of how it is called (exec or persistent mode).

There is no `after`: responses pass through, because CloudEvents describes the request
and the caller (SQS, API Gateway, Cognito, …) expects its own response shape back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from .convert import convert
from .options import Options


class HookOutput(NamedTuple):
    payload: bytes
    state: dict[str, Any]
    changed: bool  # False: pass the original payload on byte-identical


def before(payload: bytes, env: Mapping[str, str], *, request_id: str = "",
           function_arn: str = "") -> HookOutput:
    """AWS event → CloudEvent (object) or batch (array); raises InvalidEventError or
    OptionsError with a message that names the field or the variable."""
    conversion = convert(payload, Options.from_env(env), request_id=request_id,
                         function_arn=function_arn)
    return HookOutput(conversion.payload(payload), conversion.state(),
                      conversion.mode != "passthrough")
