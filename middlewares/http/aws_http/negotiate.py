"""Content negotiation for the error responses the middleware makes (RFC 9110 §12.5.1).

The media type is chosen from `Accept` among the offered ones; when none is acceptable
the first offered (JSON) is sent anyway — RFC 9110 lets a server disregard `Accept`, and
an error must never turn into a `406` that hides it.
"""

from __future__ import annotations

import json
from typing import Any

JSON = "application/json"
PLAIN = "text/plain"
HTML = "text/html"
ERROR_MEDIA_TYPES = (JSON, PLAIN, HTML)
CONTENT_TYPES = {JSON: "application/json", PLAIN: "text/plain; charset=utf-8", HTML: "text/html; charset=utf-8"}
ACCEPT_LIMIT = 4096  # characters of Accept read; a real one is under 300
RANGES_LIMIT = 64


def _quality(params: list[str]) -> float | None:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return None
            return q if 0 <= q <= 1 else None
    return 1.0


def parse_accept(accept: str) -> list[tuple[str, str, float]]:
    """(type, subtype, q) of each well-formed media range; malformed ones are skipped."""
    ranges = []
    for item in accept[:ACCEPT_LIMIT].split(",")[:RANGES_LIMIT]:
        media, *params = item.split(";")
        kind, slash, subtype = media.strip().lower().partition("/")
        q = _quality(params)
        if slash and kind and subtype and q is not None and (kind != "*" or subtype == "*"):
            ranges.append((kind, subtype, q))
    return ranges


def _quality_of(media_type: str, ranges: list[tuple[str, str, float]]) -> float:
    """The q of the most specific range that matches (type/subtype > type/* > */*)."""
    kind, _, subtype = media_type.partition("/")
    best, specificity = 0.0, -1
    for r_kind, r_subtype, q in ranges:
        if r_kind == kind and r_subtype == subtype:
            rank = 2
        elif r_kind == kind and r_subtype == "*":
            rank = 1
        elif r_kind == "*":
            rank = 0
        else:
            continue
        if rank > specificity:
            best, specificity = q, rank
    return best


def choose(accept: str | None, offered: tuple[str, ...]) -> str:
    """The offered media type the client prefers; ties go to the earlier offered one;
    no Accept, or nothing acceptable: the first offered."""
    if not accept or not accept.strip():
        return offered[0]
    ranges = parse_accept(accept)
    best, best_q = offered[0], 0.0
    for media_type in offered:
        q = _quality_of(media_type, ranges)
        if q > best_q:
            best, best_q = media_type, q
    return best


def render(media_type: str, status_line: str, fields: dict[str, Any]) -> tuple[str, str]:
    """(body, Content-Type) of an error response: `fields` (message, requestId, and maybe
    errorType and errorMessage) as JSON, as `key: value` lines, or as a small HTML page."""
    shown = {k: v for k, v in fields.items() if v is not None}  # JSON keeps null, text omits it
    if media_type == PLAIN:
        lines = [str(fields["message"])] + [f"{k}: {v}" for k, v in shown.items() if k != "message"]
        return "\n".join(lines) + "\n", CONTENT_TYPES[PLAIN]
    if media_type == HTML:
        from html import escape  # only when an HTML error is asked for: exec mode pays per spawn
        rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in shown.items() if k != "message")
        page = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(status_line)}</title></head>'
                f"<body><h1>{escape(str(fields['message']))}</h1><dl>{rows}</dl></body></html>\n")
        return page, CONTENT_TYPES[HTML]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")), CONTENT_TYPES[JSON]
