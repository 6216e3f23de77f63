"""Typed reads from parsed JSON that remember their path, so errors can name the field."""

from __future__ import annotations

from typing import Any

from .errors import InvalidEventError


def _type_name(value: Any) -> str:
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
    """A JSON object at `path` inside an event of kind `kind`."""

    __slots__ = ("kind", "path", "value")

    def __init__(self, value: dict[str, Any], path: str, kind: str) -> None:
        self.value = value
        self.path = path
        self.kind = kind

    @classmethod
    def root(cls, value: Any, kind: str) -> Node:
        if not isinstance(value, dict):
            raise InvalidEventError(kind, "", f"must be a JSON object, got {_type_name(value)}")
        return cls(value, "", kind)

    def where(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str | int, problem: str) -> InvalidEventError:
        return InvalidEventError(self.kind, self.where(key), problem)

    def invalid(self, problem: str) -> InvalidEventError:
        """An error about this node itself."""
        return InvalidEventError(self.kind, self.path, problem)

    def has(self, key: str) -> bool:
        return self.value.get(key) is not None

    def raw(self, key: str) -> Any:
        return self.value.get(key)

    def obj(self, key: str) -> Node:
        value = self.value.get(key)
        if value is None:
            raise self.fail(key, "is missing")
        if not isinstance(value, dict):
            raise self.fail(key, f"must be an object, got {_type_name(value)}")
        return Node(value, self.where(key), self.kind)

    def opt_obj(self, key: str) -> Node | None:
        return self.obj(key) if self.value.get(key) is not None else None

    def text(self, key: str) -> str:
        """A required, non-empty string (CloudEvents forbids empty id/source/type)."""
        value = self.value.get(key)
        if value is None:
            raise self.fail(key, "is missing")
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {_type_name(value)}")
        if not value:
            raise self.fail(key, "must not be empty")
        return value

    def opt_text(self, key: str) -> str | None:
        """A string when present and non-empty; None when absent, null or empty."""
        value = self.value.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {_type_name(value)}")
        return value

    def number(self, key: str) -> int | float | str:
        """A number, or a string of digits (SQS sends epoch times as strings)."""
        value = self.value.get(key)
        if value is None:
            raise self.fail(key, "is missing")
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self.fail(key, f"must be a number, got {_type_name(value)}")
        return value

    def opt_number(self, key: str) -> int | float | str | None:
        return self.number(key) if self.value.get(key) is not None else None

    def array(self, key: str) -> list[Any]:
        value = self.value.get(key)
        if value is None:
            raise self.fail(key, "is missing")
        if not isinstance(value, list):
            raise self.fail(key, f"must be an array, got {_type_name(value)}")
        return value

    def items(self, key: str) -> list[Node]:
        """The objects of a required array, each as a Node."""
        out: list[Node] = []
        path = self.where(key)
        for index, item in enumerate(self.array(key)):
            if not isinstance(item, dict):
                raise InvalidEventError(
                    self.kind, f"{path}[{index}]", f"must be an object, got {_type_name(item)}"
                )
            out.append(Node(item, f"{path}[{index}]", self.kind))
        return out
