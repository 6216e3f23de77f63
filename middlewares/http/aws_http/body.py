"""Bodies across the base64 boundary: AWS flags binary bodies with isBase64Encoded."""

from __future__ import annotations

import base64
import binascii


class NotBase64(ValueError):
    pass


def strict_b64decode(text: str) -> bytes:
    """Decode, rejecting anything that is not canonical-alphabet base64 (a body like
    'Hello from Lambda!' must fail, not decode to garbage)."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise NotBase64(str(exc)) from None


def request_body(body: str, is_base64: bool) -> tuple[str, bool]:
    """(body, isBase64Encoded) for the normalized request: text whenever the bytes are
    UTF-8, the original base64 (flag kept) only for real binary."""
    if not is_base64:
        return body, False
    raw = strict_b64decode(body)
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return body, True


def encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
