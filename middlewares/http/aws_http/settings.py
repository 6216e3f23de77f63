"""The middleware's configuration, read once from its environment (the pipeline entry's
`env:`). A bad value raises ConfigError naming the variable; the executable exits with it
before serving, so a misconfigured pipeline fails at start, not on the first request."""

from __future__ import annotations

import re
from collections.abc import Mapping

from . import negotiate
from .cors import DEFAULT_METHODS, ORIGIN, TOKEN, CorsPolicy, origin_pattern
from .failure import CLIENT_ERROR_TYPES, client_error_types_from, error_statuses_from
from .security import security_headers

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
_WILDCARD_ORIGIN = r"[a-z][a-z0-9+.-]*://\*\.[a-z0-9.-]+(:[0-9]+)?"
CORS_OPTIONS = ("HTTP_CORS_CREDENTIALS", "HTTP_CORS_METHODS", "HTTP_CORS_HEADERS",
                "HTTP_CORS_EXPOSE_HEADERS", "HTTP_CORS_MAX_AGE")
FORM_OPTIONS = ("HTTP_FORM_MAX_FIELDS", "HTTP_FORM_MAX_FILE_BYTES")


class FormLimits:
    __slots__ = ("max_fields", "max_file_bytes")

    def __init__(self, max_fields: int = 1000, max_file_bytes: int = 4 * 1024 * 1024) -> None:
        self.max_fields = max_fields          # fields (urlencoded) or parts (multipart)
        self.max_file_bytes = max_file_bytes  # per file: its base64 must fit Lambda's 6 MB too


class ConfigError(ValueError):
    """A configuration variable with a value the middleware cannot use."""


class Settings:
    """Plain slotted classes here, not NamedTuples: each of those costs exec-mode spawns ~0.15 ms."""

    __slots__ = ("client_error_types", "cors", "error_media_types", "error_statuses", "expose", "forms",
                 "security_headers")

    def __init__(self, *, expose: bool | None = None, client_error_types: frozenset[str] = CLIENT_ERROR_TYPES,
                 cors: CorsPolicy | None = None, security_headers: tuple[tuple[str, str], ...] = (),
                 forms: FormLimits | None = None,
                 error_media_types: tuple[str, ...] = (negotiate.JSON, negotiate.PLAIN),
                 error_statuses: dict[str, int] | None = None) -> None:
        self.expose = expose  # None: a 4xx's errorType and errorMessage only (failure.error_body)
        self.client_error_types = client_error_types
        self.error_statuses = error_statuses or {}
        self.cors = cors
        self.security_headers = security_headers
        self.forms = forms
        self.error_media_types = error_media_types  # the first is the default and the fallback


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name)
    value = (raw or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be 1 or 0 (or true/false, yes/no, on/off), got {raw!r}")


def _integer(env: Mapping[str, str], name: str, default: int | None, minimum: int) -> int | None:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {raw!r}")
    return value


def _items(raw: str) -> list[str]:
    return [item for item in re.split(r"[\s,]+", raw) if item]


def _tokens(env: Mapping[str, str], name: str, what: str) -> str | None:
    """A comma-separated list of method or header names (or `*`) as one header value."""
    raw = env.get(name)
    if raw is None:
        return None
    items = _items(raw)
    for item in items:
        if item != "*" and not re.fullmatch(TOKEN, item):
            raise ConfigError(f"{name}: {item!r} is not a {what} name")
    return ",".join(items)


def _origins(raw: str) -> tuple[bool, frozenset[str], tuple[re.Pattern[str], ...]]:
    any_origin, exact, patterns = False, set(), []
    for entry in _items(raw):
        folded = entry.lower()
        if entry == "*":
            any_origin = True
        elif folded == "null":
            raise ConfigError("HTTP_CORS_ORIGINS: 'null' cannot be allowed: sandboxed pages and "
                              "file: URLs of any site send it")
        elif "*" in entry:
            if not re.fullmatch(_WILDCARD_ORIGIN, folded):
                raise ConfigError(f"HTTP_CORS_ORIGINS: {entry!r}: a wildcard only stands for the first "
                                  f"label of the host, as in https://*.example.com")
            patterns.append(origin_pattern(folded))
        elif not re.fullmatch(ORIGIN, entry):
            raise ConfigError(f"HTTP_CORS_ORIGINS: {entry!r} is not an origin: scheme://host[:port], "
                              f"without a path or a trailing /")
        else:
            exact.add(folded)
    return any_origin, frozenset(exact), tuple(patterns)


def cors_from(env: Mapping[str, str]) -> CorsPolicy | None:
    raw = (env.get("HTTP_CORS_ORIGINS") or "").strip()
    if not raw:
        stray = [name for name in CORS_OPTIONS if env.get(name)]
        if stray:
            raise ConfigError(f"{stray[0]} is set but HTTP_CORS_ORIGINS is not: CORS stays off without "
                              f"allowed origins")
        return None
    any_origin, exact, patterns = _origins(raw)
    credentials = _flag(env, "HTTP_CORS_CREDENTIALS")
    expose = _tokens(env, "HTTP_CORS_EXPOSE_HEADERS", "header")
    if credentials and expose and "*" in expose.split(","):
        raise ConfigError("HTTP_CORS_EXPOSE_HEADERS: '*' exposes nothing to a request with credentials "
                          "(browsers read it as a header named *): list the headers")
    return CorsPolicy(
        any_origin=any_origin, origins=exact, patterns=patterns, credentials=credentials,
        methods=_tokens(env, "HTTP_CORS_METHODS", "method") or DEFAULT_METHODS,
        headers=_tokens(env, "HTTP_CORS_HEADERS", "header"),
        expose_headers=expose or None,
        max_age=_integer(env, "HTTP_CORS_MAX_AGE", None, 0),
    )


def forms_from(env: Mapping[str, str]) -> FormLimits | None:
    if not _flag(env, "HTTP_PARSE_FORMS"):
        stray = [name for name in FORM_OPTIONS if env.get(name)]
        if stray:
            raise ConfigError(f"{stray[0]} is set but HTTP_PARSE_FORMS is not on")
        return None
    defaults = FormLimits()
    return FormLimits(
        max_fields=_integer(env, "HTTP_FORM_MAX_FIELDS", defaults.max_fields, 1) or defaults.max_fields,
        max_file_bytes=_integer(env, "HTTP_FORM_MAX_FILE_BYTES", defaults.max_file_bytes, 0) or 0,
    )


def error_media_types_from(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("HTTP_ERROR_MEDIA_TYPES")
    if raw is None or not raw.strip():
        return Settings().error_media_types
    items = [item.lower() for item in _items(raw)]
    for item in items:
        if item not in negotiate.ERROR_MEDIA_TYPES:
            raise ConfigError(f"HTTP_ERROR_MEDIA_TYPES: {item!r} is not one of "
                              f"{', '.join(negotiate.ERROR_MEDIA_TYPES)}")
    return tuple(dict.fromkeys(items))


def settings_from(env: Mapping[str, str]) -> Settings:
    try:
        headers = security_headers(_flag(env, "HTTP_SECURITY_HEADERS"), env)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(str(exc)) from None
    try:
        statuses = error_statuses_from(env.get("HTTP_ERROR_STATUS"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Settings(
        # strict: a typo stops the start, not a silent off; unset: a 4xx's detail only
        expose=_flag(env, "HTTP_EXPOSE_ERRORS") if (env.get("HTTP_EXPOSE_ERRORS") or "").strip() else None,
        client_error_types=client_error_types_from(env.get("HTTP_CLIENT_ERROR_TYPES")),
        error_statuses=statuses,
        cors=cors_from(env),
        security_headers=headers,
        forms=forms_from(env),
        error_media_types=error_media_types_from(env),
    )
