"""CORS (the Fetch standard's CORS protocol): which origin a response grants, the headers
of an answered preflight, and those of every other response.

The browser does the checking; the server only states its policy. So a request from an
origin that is not allowed still gets an answer, just without `Access-Control-Allow-Origin`.
"""

from __future__ import annotations

import re

# A token (RFC 9110): what method and header names are made of. Only such names are ever
# echoed from a request, so nothing the client sends can smuggle text into a header.
# Pattern strings, not compiled objects: re compiles (and caches) them on first use, so an
# exec-mode process that never checks a CORS request does not pay for them.
TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# A serialized origin as browsers send it: scheme "://" host [":" port], no path. `null`
# (sandboxed documents, file: URLs — any site can produce it) never matches.
ORIGIN = r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@\\,;]+"
ORIGIN_LIMIT = 1024  # far above scheme + 253-byte host + port; bounds what the state holds
DEFAULT_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"


class CorsPolicy:
    """What CORS allows. A plain slotted class: a NamedTuple costs exec-mode spawns ~0.15 ms."""

    __slots__ = ("any_origin", "credentials", "expose_headers", "headers", "max_age", "methods",
                 "origins", "patterns")

    def __init__(self, *, any_origin: bool = False, origins: frozenset[str] = frozenset(),
                 patterns: tuple[re.Pattern[str], ...] = (), credentials: bool = False,
                 methods: str = DEFAULT_METHODS, headers: str | None = None,
                 expose_headers: str | None = None, max_age: int | None = None) -> None:
        self.any_origin = any_origin          # `*` was configured
        self.origins = origins                # exact origins, lower-case
        self.patterns = patterns              # `https://*.example.com`: one label
        self.credentials = credentials
        self.methods = methods                # `*`: with credentials, the requested method
        self.headers = headers                # None (or `*` with credentials): the requested ones
        self.expose_headers = expose_headers
        self.max_age = max_age

    @property
    def varies(self) -> bool:
        """Whether the answer depends on the request's Origin (then caches must know)."""
        return not (self.any_origin and not self.credentials)


def origin_pattern(entry: str) -> re.Pattern[str]:
    scheme, _, host = entry.partition("://*.")
    return re.compile(re.escape(scheme) + r"://[a-z0-9-]+\." + re.escape(host))


def allowed_origin(policy: CorsPolicy, origin: str | None) -> str | None:
    """The `Access-Control-Allow-Origin` value for a request from `origin`, or None.

    `*` when any origin is allowed without credentials; otherwise the request's own
    origin, echoed exactly (the browser compares byte for byte), when it is allowed —
    with credentials a browser rejects `*`, so even "any origin" echoes."""
    if policy.any_origin and not policy.credentials:
        return "*"
    if origin is None or len(origin) > ORIGIN_LIMIT or not origin.isascii() or not re.fullmatch(ORIGIN, origin):
        return None  # browsers send origins in ASCII (punycode): str.lower() would fold 'K' (Kelvin) to 'k'

    if policy.any_origin:
        return origin
    folded = origin.lower()
    if folded in policy.origins or any(p.fullmatch(folded) for p in policy.patterns):
        return origin
    return None


def is_preflight(method: str, headers: dict[str, list[str]]) -> bool:
    """An OPTIONS request with `Origin` and `Access-Control-Request-Method` (Fetch §3.2.2)."""
    return method.upper() == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def _echo_tokens(values: list[str]) -> str | None:
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if not names or not all(re.fullmatch(TOKEN, name) for name in names):
        return None
    return ",".join(names)


def response_headers(policy: CorsPolicy, origin: str | None) -> list[tuple[str, str]]:
    """The CORS headers of an actual (not preflight) response."""
    out: list[tuple[str, str]] = []
    grant = allowed_origin(policy, origin)
    if grant is not None:
        out.append(("Access-Control-Allow-Origin", grant))
        if policy.credentials:
            out.append(("Access-Control-Allow-Credentials", "true"))
        if policy.expose_headers:
            out.append(("Access-Control-Expose-Headers", policy.expose_headers))
    if policy.varies:
        out.append(("Vary", "Origin"))
    return out


def preflight_headers(policy: CorsPolicy, headers: dict[str, list[str]]) -> list[tuple[str, str]]:
    """The headers of the answer to a preflight request with these (lower-case) headers."""
    origin = (headers.get("origin") or [None])[0]
    vary = ["Origin"] if policy.varies else []
    grant = allowed_origin(policy, origin)
    out: list[tuple[str, str]] = []
    if grant is not None:
        out.append(("Access-Control-Allow-Origin", grant))
        if policy.credentials:
            out.append(("Access-Control-Allow-Credentials", "true"))
        methods: str | None = policy.methods
        if methods == "*" and policy.credentials:
            # `*` is literal for a credentialed request: name the requested method instead.
            methods = _echo_tokens(headers["access-control-request-method"])
        if methods:
            out.append(("Access-Control-Allow-Methods", methods))
        allowed = policy.headers
        if allowed is None or (allowed == "*" and policy.credentials):
            vary.append("Access-Control-Request-Headers")
            allowed = _echo_tokens(headers.get("access-control-request-headers", []))
        if allowed:
            out.append(("Access-Control-Allow-Headers", allowed))
        if policy.max_age is not None:
            out.append(("Access-Control-Max-Age", str(policy.max_age)))
    if vary:
        out.append(("Vary", ", ".join(vary)))
    return out
