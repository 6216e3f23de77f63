"""The pipeline entry's `env:` options, read once at start."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NamedTuple

Decode = Literal["none", "text", "json"]
Unreported = Literal["fail", "succeed"]
AllFailed = Literal["error", "report"]
FifoScope = Literal["batch", "group"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "BATCH_DECODE": ("none", "text", "json"),
    "BATCH_UNREPORTED": ("fail", "succeed"),
    "BATCH_ALL_FAILED": ("error", "report"),
    "BATCH_FIFO_SCOPE": ("batch", "group"),
    "BATCH_LOG_FAILURES": ("true", "false"),
}


class ConfigError(ValueError):
    """A bad `env:` value; the message names the variable."""


class BatchConfig(NamedTuple):  # not a dataclass: `dataclasses` costs ~10 ms to import
    decode: Decode = "none"
    unreported: Unreported = "fail"
    all_failed: AllFailed = "error"
    fifo_scope: FifoScope = "batch"
    log_failures: bool = True


def _choice(env: Mapping[str, str], name: str) -> str:
    allowed = _CHOICES[name]
    value = env.get(name, "").strip().lower()
    if not value:
        return allowed[0]
    if value not in allowed:
        raise ConfigError(f"{name}={env[name]!r} is not one of {', '.join(allowed)}")
    return value


def load_config(env: Mapping[str, str]) -> BatchConfig:
    return BatchConfig(
        decode=_choice(env, "BATCH_DECODE"),  # type: ignore[arg-type]
        unreported=_choice(env, "BATCH_UNREPORTED"),  # type: ignore[arg-type]
        all_failed=_choice(env, "BATCH_ALL_FAILED"),  # type: ignore[arg-type]
        fifo_scope=_choice(env, "BATCH_FIFO_SCOPE"),  # type: ignore[arg-type]
        log_failures=_choice(env, "BATCH_LOG_FAILURES") == "true",
    )
