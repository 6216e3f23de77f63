"""Header values with parameters: `multipart/form-data; boundary="x"`,
`form-data; name="field"; filename="a.txt"` (RFC 9110 §5.6.6, RFC 7578 §4.2)."""

from __future__ import annotations

from urllib.parse import unquote


def parse_header(value: str) -> tuple[str, dict[str, str]]:
    """(lower-case main value, {lower-case parameter name: value}); quoted values are
    unquoted. Only `\\"` and `\\\\` are escapes: browsers send a Windows path's backslashes
    as they are. The first occurrence of a parameter wins. Raises ValueError for a
    quoted string that does not end."""
    main, _, rest = value.partition(";")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t;":
            i += 1
        if i >= n:
            break
        equals, semicolon = rest.find("=", i), rest.find(";", i)
        if equals < 0 or 0 <= semicolon < equals:  # a parameter without a value: skipped
            i = n if semicolon < 0 else semicolon
            continue
        name = rest[i:equals].strip().lower()
        i = equals + 1
        while i < n and rest[i] in " \t":
            i += 1
        if i < n and rest[i] == '"':
            chars, i = [], i + 1
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n and rest[i + 1] in '"\\':
                    i += 1
                chars.append(rest[i])
                i += 1
            if i >= n:
                raise ValueError(f"parameter {name!r} has a quoted value that does not end")
            i += 1
            text = "".join(chars)
        else:
            end = rest.find(";", i)
            end = n if end < 0 else end
            text, i = rest[i:end].strip(), end
        params.setdefault(name, text)
    return main.strip().lower(), params


def extended_value(value: str) -> str | None:
    """An RFC 8187 `filename*` value (`UTF-8''na%C3%AFve.txt`) decoded, or None."""
    charset, quote, rest = value.partition("'")
    _language, quote2, encoded = rest.partition("'")
    if not (quote and quote2) or charset.lower() not in ("utf-8", "iso-8859-1"):
        return None
    try:
        return unquote(encoded, encoding=charset, errors="strict")
    except UnicodeDecodeError:
        return None
