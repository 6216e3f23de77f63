"""Typed reads from an event object that remember their path, so errors name the field."""

from __future__ import annotations

from typing import Any

from .errors import InvalidRequestError


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else type(value).__name__


class Node:
    """A JSON object at `path` inside an event from `source`."""

    __slots__ = ("path", "source", "value")

    def __init__(self, value: dict[str, Any], path: str, source: str) -> None:
        self.value = value
        self.path = path
        self.source = source

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, problem: str) -> InvalidRequestError:
        return InvalidRequestError(self.source, self.where(key), problem)

    def raw(self, key: str) -> Any:
        return self.value.get(key)

    def obj(self, key: str) -> Node:
        value = self.value.get(key)
        if value is None:
            raise self.fail(key, "is missing")
        if not isinstance(value, dict):
            raise self.fail(key, f"must be an object, got {type_name(value)}")
        return Node(value, self.where(key), self.source)

    def text(self, key: str) -> str:
        value = self.value.get(key)
        if value is None:
            raise self.fail(key, "is missing")
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.value.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {type_name(value)}")
        return value

    def opt_map(self, key: str) -> dict[str, Any]:
        """An optional object; AWS sends null for an empty map."""
        value = self.value.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"must be an object or null, got {type_name(value)}")
        return value

    def opt_bool(self, key: str) -> bool:
        value = self.value.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(key, f"must be a boolean, got {value!r}")
        return value
