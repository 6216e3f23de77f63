"""The middleware's configuration, from its pipeline entry's `env:` (see README.md).

Every problem is a ConfigError whose message names the variable, for a one-line failure
at start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from typing import TYPE_CHECKING

from .guard import Guard, Store
from event_path import KeyPath, KeyPathSyntaxError, compile_path

if TYPE_CHECKING:
    from .dynamodb_store import DynamoDBStore
    from .file_store import FileStore

# DynamoDB's item limit is 400 KB; the key, hashes and numbers take well under 50 KB of it.
DYNAMODB_MAX_RESPONSE_BYTES = 350_000
FILE_MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda's own response limit
DEFAULT_TIMEOUT_MS = 2000
# The DynamoDB item's attribute names (dynamodb_store.DEFAULT_ATTRIBUTES) and their variables.
ATTRIBUTE_VARIABLES = {f"IDEMPOTENCY_{name.upper()}_ATTR": name for name in (
    "key", "status", "expiry", "in_progress_expiry", "data", "validation", "content_type", "owner")}


class ConfigError(ValueError):
    pass


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ConfigError(f"{name}: expected a whole number from {low} to {high}, got {text!r}")
    return int(text)


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "").strip().lower()
    if text in ("", "false", "0", "no"):
        return False
    if text in ("true", "1", "yes"):
        return True
    raise ConfigError(f"{name}: expected true or false, got {env[name]!r}")


def _path(env: Mapping[str, str], name: str) -> KeyPath | None:
    text = env.get(name, "")
    if not text.strip():
        return None
    try:
        return compile_path(text)
    except KeyPathSyntaxError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def _file_store(env: Mapping[str, str]) -> FileStore:
    from .file_store import FileStore
    directory = env["IDEMPOTENCY_FILE_DIR"]
    if not os.path.isabs(directory) and env.get("LAMBDA_TASK_ROOT"):
        directory = os.path.join(env["LAMBDA_TASK_ROOT"], directory)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"IDEMPOTENCY_FILE_DIR: cannot create {directory!r}: {exc.strerror}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(f"IDEMPOTENCY_FILE_DIR: {directory!r} is not writable")
    return FileStore(directory)


def _dynamodb_store(env: Mapping[str, str]) -> DynamoDBStore:
    # Imported only for this store: http.client and ssl are 20 ms of an exec-mode spawn.
    from .dynamodb_client import DynamoDBClient, endpoint_for
    from .dynamodb_store import DynamoDBStore
    from .sigv4 import Credentials

    table = env["IDEMPOTENCY_TABLE"].strip()
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        raise ConfigError("AWS_REGION: not set (IDEMPOTENCY_TABLE needs the table's region)")
    access, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if not access or not secret:
        raise ConfigError("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: not set; IDEMPOTENCY_TABLE needs the "
                          "function's credentials (set `aws_credentials: true` on the pipeline entry)")
    endpoint_variable = "AWS_ENDPOINT_URL_DYNAMODB" if env.get("AWS_ENDPOINT_URL_DYNAMODB") else "AWS_ENDPOINT_URL"
    endpoint = env.get(endpoint_variable) or None
    try:
        endpoint_for(region, endpoint)
    except ValueError as exc:
        raise ConfigError(f"{endpoint_variable}: {exc}") from None
    attributes = {}
    for variable, name in ATTRIBUTE_VARIABLES.items():
        value = env.get(variable, "").strip()
        if value:
            attributes[name] = value
    client = DynamoDBClient(region, Credentials(access, secret, env.get("AWS_SESSION_TOKEN") or None), endpoint)
    return DynamoDBStore(client, table, attributes)


class Settings:
    __slots__ = ("guard", "key_prefix", "timeout_ms")

    def __init__(self, guard: Guard, key_prefix: str | None, timeout_ms: int) -> None:
        self.guard = guard
        self.key_prefix = key_prefix
        self.timeout_ms = timeout_ms


def load(env: Mapping[str, str]) -> Settings:
    has_table = bool(env.get("IDEMPOTENCY_TABLE", "").strip())
    has_dir = bool(env.get("IDEMPOTENCY_FILE_DIR", "").strip())
    if has_table == has_dir:
        raise ConfigError("IDEMPOTENCY_TABLE or IDEMPOTENCY_FILE_DIR: set exactly one "
                          f"({'both are' if has_table else 'neither is'} set)")
    # The cheap checks first, then the store (which may create a folder).
    key_path = _path(env, "IDEMPOTENCY_EVENT_KEY_JMESPATH")
    validation_path = _path(env, "IDEMPOTENCY_PAYLOAD_VALIDATION_JMESPATH")
    expires_after_s = _whole(env, "IDEMPOTENCY_EXPIRES_AFTER_SECONDS", 3600, 1, 10 * 365 * 86400)
    raise_on_no_key = _flag(env, "IDEMPOTENCY_RAISE_ON_NO_KEY")
    default_max = DYNAMODB_MAX_RESPONSE_BYTES if has_table else FILE_MAX_RESPONSE_BYTES
    max_response_bytes = _whole(env, "IDEMPOTENCY_MAX_RESPONSE_BYTES", default_max, 0, default_max)
    timeout_ms = _whole(env, "IDEMPOTENCY_TIMEOUT_MS", DEFAULT_TIMEOUT_MS, 1, 900_000)
    store: Store = _dynamodb_store(env) if has_table else _file_store(env)
    guard = Guard(store, key_path=key_path, validation_path=validation_path, expires_after_s=expires_after_s,
                  raise_on_no_key=raise_on_no_key, max_response_bytes=max_response_bytes)
    prefix = env.get("IDEMPOTENCY_KEY_PREFIX", "").strip() or env.get("AWS_LAMBDA_FUNCTION_NAME") or None
    return Settings(guard, prefix, timeout_ms)
