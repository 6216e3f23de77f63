"""A documented subset of JMESPath that picks a part of an event: the idempotency key
(`IDEMPOTENCY_EVENT_KEY_JMESPATH`), the log's correlation id (`LOG_CORRELATION_ID_PATH`).

Grammar (JMESPath's own spelling, so a Powertools `event_key_jmespath` or
`correlation_id_path` that stays within it means the same here)::

    expression  := path | "[" path ("," path)* "]"        # multi-select list
    path        := step ("." name | "[" integer "]")*
    step        := name ("[" integer "]")* | function "(" path ")"
    name        := identifier | "quoted \"name\""          # JSON string syntax
    function    := powertools_json | powertools_base64

Semantics are JMESPath's: a field of a non-object, or an index out of range or of a
non-list, is null (no error); a negative index counts from the end. `powertools_json(x)`
parses the string x as JSON and `powertools_base64(x)` decodes base64 to a UTF-8 string,
as Powertools' functions of those names do; they fail with KeyPathError when x is not
what they need. One difference, on purpose: of null or of an empty string they give null,
so an event without a body (a GET, a `body: null`) has no value rather than a broken one
(JMESPath would raise a type error there). The full JMESPath library is not used: it
costs 9–15 ms of import at every exec-mode spawn, and a path needs nothing beyond this.
Shared by the built-in middlewares (lib/python).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any

__all__ = ["KeyPath", "KeyPathError", "KeyPathSyntaxError", "compile_path"]

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<quoted>"(?:[^"\\]|\\.)*")
    | (?P<int>-?[0-9]+)
    | (?P<punct>[.\[\](),])
    )""", re.VERBOSE)
_FUNCTIONS = ("powertools_json", "powertools_base64")


class KeyPathSyntaxError(ValueError):
    """The expression is not in the supported subset (a configuration error)."""


class KeyPathError(ValueError):
    """The expression cannot be applied to this event (a function got the wrong input)."""


Step = Callable[[Any], Any]


class KeyPath:
    """A compiled expression: `search(event)` gives the selected value (None when absent)."""

    __slots__ = ("text", "_paths", "_multi")

    def __init__(self, text: str, paths: list[list[Step]], multi: bool) -> None:
        self.text = text
        self._paths = paths
        self._multi = multi

    def search(self, value: Any) -> Any:
        results = [_apply(steps, value) for steps in self._paths]
        if self._multi:
            # JMESPath: a multi-select on null is null.
            return None if value is None else results
        return results[0]

    def __repr__(self) -> str:
        return f"KeyPath({self.text!r})"


def _apply(steps: list[Step], value: Any) -> Any:
    for step in steps:
        value = step(value)
    return value


def _field(name: str) -> Step:
    return lambda value: value.get(name) if isinstance(value, dict) else None


def _index(position: int) -> Step:
    def step(value: Any) -> Any:
        if not isinstance(value, list) or not -len(value) <= position < len(value):
            return None
        return value[position]
    return step


def _function(name: str, inner: list[Step], text: str) -> Step:
    def step(value: Any) -> Any:
        argument = _apply(inner, value)
        if argument is None or argument == "":  # nothing to decode: no key (module docstring)
            return None
        if not isinstance(argument, str):
            raise KeyPathError(f"{text}: the argument is {_kind(argument)}, not a string")
        if name == "powertools_json":
            try:
                return json.loads(argument)
            except (ValueError, RecursionError) as exc:
                raise KeyPathError(f"{text}: the argument is not valid JSON ({exc})") from None
        try:
            return base64.b64decode(argument, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise KeyPathError(f"{text}: the argument is not base64 of UTF-8 text ({exc})") from None
    return step


def _kind(value: Any) -> str:
    return "null" if value is None else {dict: "an object", list: "an array", bool: "a boolean"}.get(
        type(value), "a number")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while position < len(text):
            if text[position:].strip() == "":
                break
            match = _TOKEN.match(text, position)
            if match is None or match.lastgroup is None:
                rest = text[position:]
                at = position + len(rest) - len(rest.lstrip())
                raise self.error(f"unexpected {text[at]!r}", at, outside=True)
            kind = match.lastgroup
            self.tokens.append((kind, match.group(kind), match.start(kind)))
            position = match.end()
        self.at = 0

    def error(self, message: str, position: int | None = None, outside: bool = False) -> KeyPathSyntaxError:
        if position is None:
            position = self.tokens[self.at][2] if self.at < len(self.tokens) else len(self.text)
        why = " (not in the supported subset of JMESPath)" if outside else ""
        return KeyPathSyntaxError(f"{message} at character {position + 1} of {self.text!r}{why}")

    def peek(self) -> tuple[str, str]:
        if self.at < len(self.tokens):
            kind, value, _ = self.tokens[self.at]
            return kind, value
        return "end", ""

    def take(self, kind: str, value: str | None = None) -> str:
        got_kind, got_value = self.peek()
        if got_kind != kind or (value is not None and got_value != value):
            wanted = repr(value) if value is not None else {"int": "an index"}.get(kind, kind)
            found = "the end" if got_kind == "end" else repr(got_value)
            raise self.error(f"expected {wanted}, found {found}")
        self.at += 1
        return got_value

    def expression(self) -> tuple[list[list[Step]], bool]:
        if self.peek() == ("punct", "["):
            self.at += 1
            paths = [self.path()]
            while self.peek() == ("punct", ","):
                self.at += 1
                paths.append(self.path())
            self.take("punct", "]")
            multi = True
        else:
            paths, multi = [self.path()], False
        if self.peek()[0] != "end":
            raise self.error(f"unexpected {self.peek()[1]!r}", outside=True)
        return paths, multi

    def name(self) -> str:
        kind, value = self.peek()
        if kind == "ident":
            self.at += 1
            return value
        if kind == "quoted":
            self.at += 1
            return str(json.loads(value))
        found = "the end" if kind == "end" else repr(value)
        raise self.error(f"expected a field name, found {found}")

    def indexes(self, steps: list[Step]) -> None:
        while self.peek() == ("punct", "["):
            self.at += 1
            steps.append(_index(int(self.take("int"))))
            self.take("punct", "]")

    def path(self) -> list[Step]:
        steps: list[Step] = []
        start = self.at
        kind, value = self.peek()
        if kind == "ident" and value in _FUNCTIONS and self.at + 1 < len(self.tokens) \
                and self.tokens[self.at + 1][1] == "(":
            self.at += 2
            inner = self.path()
            self.take("punct", ")")
            shown = self.text[self.tokens[start][2]:self.tokens[self.at - 1][2] + 1]
            steps.append(_function(value, inner, shown))
        else:
            steps.append(_field(self.name()))
        self.indexes(steps)
        while self.peek() == ("punct", "."):
            self.at += 1
            steps.append(_field(self.name()))
            self.indexes(steps)
        return steps


def compile_path(text: str) -> KeyPath:
    """Compile an expression; KeyPathSyntaxError says what is wrong and where."""
    if not text.strip():
        raise KeyPathSyntaxError("the expression is empty")
    parser = _Parser(text)
    paths, multi = parser.expression()
    return KeyPath(text, paths, multi)
