"""What a hook call is and what a middleware may do: the contract both runners keep.

`Middleware` is the interface of a runner (exec.py, persistent.py); `HookResult` what one
call gives back; `InvocationScope` the state a middleware keeps across the hooks of one
invocation; `middleware_env` the environment a middleware may see (least privilege:
never the Runtime API, the AWS credentials only when granted). docs/middleware-protocol.md
is the same contract, written for middleware authors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from openruntime import errors
from openruntime.config import CREDENTIAL_ENV, MiddlewareConfig
from openruntime.errors import MiddlewareFailure
from openruntime.invocation import Invocation, is_json_type
from openruntime.locate import sdk_dir
from openruntime.middleware.state import remove_state_file, take_state_file

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    Protocol = object  # the class below is an interface for mypy; at run time, a plain base

# What a middleware may write to STDOUT: Lambda's payload limit (a request, or a buffered
# response, of 6 MB); the rest is never read. Streamed responses have their own limits.
MAX_OUTPUT_BYTES = errors.MAX_RESPONSE_BYTES

# Always passed through an env allow-list: without them nothing runs at all.
ESSENTIAL_ENV = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "TZ", "LD_LIBRARY_PATH", "PYTHONPATH")
# The function's variables a middleware must never see or use.
HIDDEN_ENV = ("AWS_LAMBDA_RUNTIME_API",)


class HookResult:
    """What one hook call gave: the payload and its type, and whether it answers now
    (`respond`: a short-circuit in `before`, a recovery in `error`)."""

    __slots__ = ("payload", "content_type", "respond")

    def __init__(self, payload: bytes, content_type: str, respond: bool = False) -> None:
        self.payload = payload
        self.content_type = content_type
        self.respond = respond  # short-circuit (before) or recover (error)


class InvocationScope:
    """Per-invocation state of every middleware (exec: files; persistent: JSON values), and
    the stages timed so far, which every hook call's context carries (`stages`)."""

    __slots__ = ("values", "_files", "stages", "outcome")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        # What was posted, for the `done` hooks: "response", "error" or "stream".
        self.outcome: str | None = None
        self._files: dict[str, str] = {}
        # Each a JSON array `[middleware or null, hook or "handler", start Unix µs, µs]`,
        # encoded once when the stage ends (add_stage).
        self.stages: list[str] = []

    def add_stage(self, middleware: str | None, stage: str, start_ns: int, duration_ns: int) -> None:
        name = "null" if middleware is None else _json_string(middleware)
        self.stages.append(f'[{name},"{stage}",{start_ns // 1000},{duration_ns // 1000}]')

    def stages_json(self) -> str:
        return "[" + ",".join(self.stages) + "]"

    def state_file(self, name: str) -> str:
        """The middleware's state file; it exists (empty) from its first hook call on, and
        is deleted when the invocation ends (state.py)."""
        path = self._files.get(name)
        if path is None:
            path = self._files[name] = take_state_file(name)
        return path

    def close(self) -> None:
        for name, path in self._files.items():
            remove_state_file(name, path)
        self._files.clear()


def _json_string(text: str) -> str:
    """`text` as a JSON string; the json module only for names that need escaping (the
    orchestrator's cold path does not import it)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    from json.encoder import encode_basestring_ascii

    return encode_basestring_ascii(text)


class Middleware(Protocol):
    """A runner: `start`/`await_ready` at init, `call` per hook, `stop` at shutdown."""

    config: MiddlewareConfig

    def start(self) -> None: ...

    def await_ready(self) -> None: ...

    def stop(self) -> None: ...

    def handles(self, hook: str) -> bool: ...

    def call(
        self, hook: str, payload: bytes, content_type: str, invocation: Invocation,
        scope: InvocationScope, timeout_s: float,
    ) -> HookResult: ...


def middleware_env(config: MiddlewareConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """The function's environment as this middleware may see it, plus its own `env`:
    never the Runtime API, and the AWS credentials only when its entry grants them."""
    hidden = HIDDEN_ENV if config.aws_credentials else CREDENTIAL_ENV | set(HIDDEN_ENV)
    visible = {k: v for k, v in environ.items() if k not in hidden}
    if config.env_allow is not None:
        allowed = set(config.env_allow) | set(ESSENTIAL_ENV)
        visible = {k: v for k, v in visible.items() if k in allowed}
    visible.update(config.env)
    visible["OPENRUNTIME_MIDDLEWARE"] = config.name
    # The SDKs, wherever this installation or the layers keep them: a middleware of your own
    # imports `openruntime_middleware` / requires `openruntime-middleware` as it is, and a
    # bash one sources "$OPENRUNTIME_SDK/bash/openruntime-middleware.sh". Last on the path:
    # what the middleware brings itself comes first.
    sdk = sdk_dir(environ)
    if sdk is not None:
        visible["OPENRUNTIME_SDK"] = sdk
        for name, folder in (("PYTHONPATH", "python"), ("NODE_PATH", "node")):
            visible[name] = ":".join(p for p in (visible.get(name, ""), os.path.join(sdk, folder)) if p)
    return visible


def context_env(
    hook: str, invocation: Invocation, content_type: str, stages_json: str = "[]", outcome: str | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables that tell an exec middleware about its call, after those of `base`."""
    env = {
        **(base or {}),
        "OPENRUNTIME_HOOK": hook,
        "OPENRUNTIME_STAGES": stages_json,
        "OPENRUNTIME_EVENT_BYTES": str(len(invocation.body)),
        "OPENRUNTIME_REQUEST_ID": invocation.request_id,
        "OPENRUNTIME_DEADLINE_MS": str(invocation.answer_by_ms),
        "OPENRUNTIME_FUNCTION_ARN": invocation.function_arn,
        "OPENRUNTIME_CONTENT_TYPE": content_type,
    }
    if invocation.trace_id:
        env["_X_AMZN_TRACE_ID"] = invocation.trace_id
    if invocation.tenant_id:
        env["OPENRUNTIME_TENANT_ID"] = invocation.tenant_id
    if outcome is not None:
        env["OPENRUNTIME_OUTCOME"] = outcome
    return env


def credentials_hint(config: MiddlewareConfig, failure: MiddlewareFailure) -> str | None:
    """A hint for a middleware that failed, it seems, for want of the AWS credentials it
    was not granted; None when that is not the story."""
    if config.aws_credentials:
        return None
    said = f"{failure.message} {failure.details.get('stderrTail', '')} {failure.extra}".lower()
    if not any(sign in said for sign in _NO_CREDENTIALS_SIGNS):
        return None
    return (f"middleware '{config.name}' failed and mentions credentials: it does not get the function's "
            "AWS credentials unless its pipeline entry says `aws_credentials: true`")


_NO_CREDENTIALS_SIGNS = ("credential", "security token", "unrecognizedclient", "invalidclienttokenid",
                         "missingauthenticationtoken", "signature")


def check_output(
    payload: bytes, content_type: str, name: str, hook: str
) -> None:
    """Where the payload is JSON, a middleware must have written JSON."""
    if not is_json_type(content_type):
        return
    import json

    try:
        json.loads(payload)
    except RecursionError:
        return  # nests deeper than Python's parser goes: not shown to be invalid; the runtime decides
    except ValueError as exc:
        preview = payload[:200].decode("utf-8", "replace")
        raise MiddlewareFailure(
            "Middleware.InvalidOutput",
            f"middleware '{name}' hook '{hook}' gave a payload that is not JSON though its content type is "
            f"{content_type} ({exc}): {preview!r}",
            name, hook,
        ) from None
