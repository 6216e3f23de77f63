"""Security headers: a default set for API responses (OWASP's REST Security Cheat Sheet,
the core of helmet's and Middy's http-security-headers defaults), each replaceable or
removable; added only where the handler did not set the header itself."""

from __future__ import annotations

from collections.abc import Mapping

# Name → value. Only headers that help whatever the body is: no script-blocking CSP (it
# would break an HTML page a handler serves), only `frame-ancestors`.
DEFAULT_SECURITY_HEADERS: dict[str, str] = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
HEADER_PREFIX = "HTTP_SECURITY_HEADER_"


def header_name(variable: str) -> str:
    """`HTTP_SECURITY_HEADER_X_FRAME_OPTIONS` → `X-Frame-Options` (a default's spelling
    when it is one, else each word capitalised)."""
    words = variable[len(HEADER_PREFIX):].split("_")
    name = "-".join(word.capitalize() for word in words)
    known = {default.lower(): default for default in DEFAULT_SECURITY_HEADERS}
    return known.get(name.lower(), name)


def security_headers(defaults_on: bool, env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The headers to add: the defaults when `defaults_on`, then each
    `HTTP_SECURITY_HEADER_<NAME>` variable, which replaces a default or adds a header;
    an empty value removes it. Raises ValueError naming a variable with a bad value."""
    headers = {name.lower(): (name, value) for name, value in DEFAULT_SECURITY_HEADERS.items()} if defaults_on else {}
    for variable in sorted(env):
        if not variable.startswith(HEADER_PREFIX) or variable == HEADER_PREFIX:
            continue
        name, value = header_name(variable), env[variable].strip()
        if not all(part.isascii() and part.isalnum() for part in name.split("-")):
            raise ValueError(f"{variable}: {name!r} is not a header name (letters, digits and _ only)")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ValueError(f"{variable} must be one line of printable text, got {value!r}")
        if value:
            headers[name.lower()] = (name, value)
        else:
            headers.pop(name.lower(), None)
    return tuple(headers.values())
