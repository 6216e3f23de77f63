"""Size and nesting limits, checked on the raw JSON before it is parsed or validated.

Python's JSON parser and the validator both recurse once per nesting level: an absurdly
deep document would end in a RecursionError (or, in the compiled validator, a stack
overflow that kills the process). Counting the depth first turns that into a clear
`Validation.Failed`. Most documents have fewer brackets than the limit, which proves
them shallow enough without a scan.
"""

from __future__ import annotations

import re
from array import array
from itertools import accumulate
from typing import Final

DEFAULT_MAX_BYTES: Final = 6 * 1024 * 1024  # Lambda's synchronous payload limit
DEFAULT_MAX_DEPTH: Final = 800  # below the ~990 levels Python's json module parses by default

# A JSON string, escapes included. One that never closes runs to the end of the text (a
# trailing lone backslash too): otherwise each `\"` inside it would start a new match that
# scans to the end again, quadratic time on a 40 KB body (the text is invalid JSON anyway).
_STRING: Final = re.compile(rb'(?s)"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)')
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_SIGNED: Final = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")  # +1 / -1 as signed bytes


def nesting_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in a JSON text (brackets inside strings ignored)."""
    brackets = _STRING.sub(b"", raw).translate(_SIGNED, _NOT_BRACKETS)
    return max(accumulate(array("b", brackets)), default=0)


def limit_problem(raw: bytes, max_bytes: int, max_depth: int) -> str | None:
    """Why `raw` is too big or too deep to validate, or None when it is within the limits."""
    if len(raw) > max_bytes:
        return f"is {len(raw)} bytes, more than the limit of {max_bytes} (VALIDATE_MAX_BYTES)"
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return None  # cannot nest deeper than it has brackets
    depth = nesting_depth(raw)
    if depth > max_depth:
        return f"nests {depth} levels deep, more than the limit of {max_depth} (VALIDATE_MAX_DEPTH)"
    return None
