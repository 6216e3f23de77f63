"""Redaction and previews for `log`: secrets never reach a log line, even truncated.

A key is sensitive when its name contains one of the configured words, case-insensitively
("token" covers access_token and X-Amz-Security-Token; "cookie" covers Set-Cookie and the
v2 `cookies` list). Redaction happens before truncation, at any depth, inside header maps,
inside string values that hold JSON (an HTTP event's `body`) and inside `name=value`
text (query strings, form bodies).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

DEFAULT_WORDS: Final = ("password", "token", "secret", "authorization", "cookie", "x-api-key")
MASK: Final = "[REDACTED]"


class Redactor:
    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(w.strip().lower() for w in words if w.strip())
        self._keys: dict[str, bool] = {}  # memo: events repeat the same key names
        # The words a raw-bytes search can rule out: ASCII, and nothing JSON would escape.
        plain = all(w.isascii() and w.isprintable() and not set(w) & set('"\\/') for w in self.words)
        self._plain_words = tuple(w.encode() for w in self.words) if plain else ()
        if self.words:
            alternatives = "|".join(re.escape(w) for w in self.words)
            name = rf"[\w.\-]*(?:{alternatives})[\w.\-]*"
            # name=value pairs in query strings, form bodies and cookies
            self._pairs: re.Pattern[str] | None = re.compile(rf"(?i)\b({name})=([^&;\s]*)")
            # "Name: value" header lines in non-JSON text
            self._lines: re.Pattern[str] | None = re.compile(rf"(?im)^({name})(:[ \t]*)(\S[^\r\n]*)")
        else:
            self._pairs = self._lines = None

    @classmethod
    def from_env(cls, value: str | None) -> Redactor:
        """LOG_REDACT: comma-separated words; unset means the defaults, empty means none."""
        return cls(DEFAULT_WORDS if value is None else value.split(","))

    def sensitive(self, key: str) -> bool:
        hit = self._keys.get(key)
        if hit is None:
            if len(self._keys) > 4096:  # keys made of ids would grow the memo forever
                self._keys.clear()
            low = key.lower()
            hit = self._keys[key] = any(w in low for w in self.words)
        return hit

    def value(self, value: Any) -> Any:
        """A redacted copy of a parsed JSON value."""
        if not self.words:
            return value
        if isinstance(value, str):
            return self._string(value)
        return self._walk(value) if isinstance(value, (dict, list)) else value

    def cannot_hide_anything(self, payload: bytes) -> bool:
        """True when no key, pair or embedded document of this JSON text can be sensitive:
        it is ASCII (so Python's `lower()` of its keys is ASCII's: a Kelvin sign cannot
        become a `k`), has no `\\u` escape (which could spell a word) and holds none of the
        words, case-insensitively. Most events outside HTTP (SQS, S3, EventBridge) do."""
        if not self._plain_words or not payload.isascii() or b"\\u" in payload:
            return False
        lowered = payload.lower()
        return not any(word in lowered for word in self._plain_words)

    def _walk(self, value: dict[str, Any] | list[Any]) -> Any:
        # The hot loop of every `log` hook on an HTTP event: a string goes through
        # `_string` only when it could hold a pair or a document (a C substring test).
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            known = self._keys
            for key, item in value.items():
                hit = known.get(key)  # the memo, without a method call per key
                if hit if hit is not None else self.sensitive(key):
                    # Nothing to hide in an empty value, and `cookies: []` says more than a mask.
                    out[key] = item if item is None or item == "" or item == [] or item == {} else MASK
                elif isinstance(item, str):
                    out[key] = self._string(item) if ("=" in item or "{" in item or "[" in item) else item
                elif isinstance(item, (dict, list)):
                    out[key] = self._walk(item)
                else:
                    out[key] = item
            return out
        return [self._string(item) if isinstance(item, str) and ("=" in item or "{" in item or "[" in item)
                else self._walk(item) if isinstance(item, (dict, list)) else item for item in value]

    def _string(self, text: str) -> str:
        head = text.lstrip()[:1]
        if head in ("{", "["):  # JSON inside a string, e.g. an API Gateway body
            try:
                inner = json.loads(text)
            except (ValueError, RecursionError):
                pass
            else:
                redacted = self.value(inner)
                # Nothing to hide: the text as it was (as the fast path shows it), not re-encoded.
                return text if redacted == inner else json.dumps(redacted, separators=(",", ":"), ensure_ascii=False)
        if "=" in text and self._pairs is not None:
            return self._pairs.sub(lambda m: f"{m.group(1)}={MASK}", text)
        return text

    def text(self, text: str) -> str:
        """Redact a non-JSON text payload (form body, raw headers)."""
        if self._pairs is None or self._lines is None:
            return text
        text = self._lines.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
        return self._pairs.sub(lambda m: f"{m.group(1)}={MASK}", text)


@dataclass(frozen=True, slots=True)
class Preview:
    text: str | None  # None: binary payload, nothing readable to show
    truncated: bool


def truncate_utf8(text: str, max_bytes: int) -> tuple[str, bool]:
    data = text.encode(errors="replace")  # lone surrogates from "\ud800" escapes
    if len(data) <= max_bytes:
        return text, False
    return data[:max_bytes].decode(errors="ignore"), True  # never split a character


def preview(payload: bytes, is_json: bool, redactor: Redactor, max_bytes: int) -> Preview:
    """At most `max_bytes` bytes of UTF-8 showing the redacted payload."""
    if is_json:
        try:
            value = json.loads(payload)
        except (ValueError, RecursionError):
            pass
        else:
            if not redactor.cannot_hide_anything(payload):
                value = redactor.value(value)
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
            return Preview(*truncate_utf8(text, max_bytes))
    try:
        text = payload.decode()
    except UnicodeDecodeError:
        return Preview(None, False)
    return Preview(*truncate_utf8(redactor.text(text), max_bytes))
