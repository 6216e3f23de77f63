"""Header and query maps as {name: [values]}, from either AWS single- or multi-value maps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_events import type_name

from .fields import Node


def _values(node: Node, key: str, name: str, value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, str):
            raise node.fail(f"{key}.{name}", f"must hold strings, got {type_name(item)}")
    return items


def collect(
    node: Node, multi_key: str, single_key: str, fold: Callable[[str], str] = str,
    decode: Callable[[str], str] = str,
) -> dict[str, list[str]]:
    """The multi-value map when the event has one, else the single-value map.

    `fold` normalises names (lower-case for headers, so `Content-Type` and
    `content-type` merge); `decode` undoes URL-encoding where the source left it.
    """
    key = multi_key if node.raw(multi_key) is not None else single_key
    out: dict[str, list[str]] = {}
    for name, value in node.opt_map(key).items():
        if value is None:
            continue
        values = [decode(v) for v in _values(node, key, name, value)]
        out.setdefault(fold(decode(name)), []).extend(values)
    return out


def lower(name: str) -> str:
    return name.lower()


def cookies_from_headers(headers: dict[str, list[str]]) -> list[str]:
    """`cookie: a=1; b=2` → ['a=1', 'b=2']."""
    return [
        part.strip()
        for value in headers.get("cookie", [])
        for part in value.split(";")
        if part.strip()
    ]
