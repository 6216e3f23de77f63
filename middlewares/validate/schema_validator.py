"""A small JSON Schema validator for the Draft 2020-12 subset listed in README.md.

Compiled once (persistent mode reuses it for every event); errors carry the JSON path of
the failing value, the keyword that failed and a sentence, in instance order.
Keywords the validator does not implement raise SchemaError when the schema is loaded,
so a schema never passes silently because of a rule that was not checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from urllib.parse import unquote

SUPPORTED: Final = frozenset({
    "$ref", "$defs", "definitions",
    "type", "enum", "const",
    "properties", "patternProperties", "additionalProperties", "required",
    "minProperties", "maxProperties", "propertyNames", "dependentRequired",
    "items", "prefixItems", "minItems", "maxItems", "uniqueItems",
    "contains", "minContains", "maxContains",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "pattern",
    "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
})
# Annotations: no effect on validity in 2020-12 (format is annotation-only by default).
ANNOTATIONS: Final = frozenset({
    "$schema", "$id", "$anchor", "$comment", "$vocabulary", "title", "description",
    "default", "examples", "deprecated", "readOnly", "writeOnly", "format",
    "contentEncoding", "contentMediaType", "contentSchema",
})
# Real keywords this validator does not implement: refusing them beats ignoring them.
UNSUPPORTED: Final = frozenset({
    "unevaluatedProperties", "unevaluatedItems", "dependentSchemas", "dependencies",
    "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor",
})
_SCHEMA_MAPS: Final = ("$defs", "definitions", "properties", "patternProperties", "dependentSchemas")
_SCHEMA_LISTS: Final = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_VALUES: Final = (
    "additionalProperties", "propertyNames", "items", "contains", "not", "if", "then", "else",
)
_TYPES: Final = frozenset({"null", "boolean", "object", "array", "number", "integer", "string"})
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MAX_BRANCH_DETAIL: Final = 3


@dataclass(frozen=True, slots=True)
class ValidationError:
    path: str  # JSON path of the failing value: $, $.user.name, $.items[2], $['a b']
    rule: str  # the keyword that failed: type, required, minimum, ...
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} ({self.rule})"

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "rule": self.rule, "message": self.message}


class SchemaError(ValueError):
    """The schema cannot be used (bad JSON, unsupported keyword, dangling $ref, ...)."""


def child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{path}.{key}"
    quoted = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{quoted}']"


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "integer" if isinstance(value, int) else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_type(value: Any, name: str) -> bool:
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return json_type(value) == name


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true != 1 (Python says True == 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _show(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _is_multiple(value: float, divisor: float) -> bool:
    try:  # decimal arithmetic: 0.3 is a multiple of 0.1, which float division denies
        return Decimal(repr(value)) % Decimal(repr(divisor)) == 0
    except (InvalidOperation, OverflowError):
        return float(value) % float(divisor) == 0


class Validator:
    def __init__(self, schema: Any) -> None:
        self.root = schema
        self._patterns: dict[str, re.Pattern[str]] = {}
        self._refs: dict[str, Any] = {}
        self._check(schema, "#")

    # ------------------------------------------------------------------ schema checks

    def _pattern(self, pattern: str) -> re.Pattern[str]:
        compiled = self._patterns.get(pattern)
        if compiled is None:
            compiled = self._patterns[pattern] = re.compile(pattern)
        return compiled

    def _check(self, schema: Any, where: str) -> None:
        if isinstance(schema, bool):
            return
        if not isinstance(schema, dict):
            raise SchemaError(f"{where}: a schema must be an object or a boolean")
        for key in schema:
            if key in UNSUPPORTED:
                raise SchemaError(f"{where}: keyword {key!r} is not supported by this validator")
        self._check_values(schema, where)
        for key in _SCHEMA_MAPS:
            if key in schema:
                if not isinstance(schema[key], dict):
                    raise SchemaError(f"{where}/{key}: must be an object")
                for name, sub in schema[key].items():
                    if key == "patternProperties":
                        self._compile(name, f"{where}/{key}")
                    self._check(sub, f"{where}/{key}/{name}")
        for key in _SCHEMA_LISTS:
            if key in schema:
                if not isinstance(schema[key], list) or not schema[key]:
                    raise SchemaError(f"{where}/{key}: must be a non-empty array")
                for i, sub in enumerate(schema[key]):
                    self._check(sub, f"{where}/{key}/{i}")
        for key in _SCHEMA_VALUES:
            if key in schema:
                self._check(schema[key], f"{where}/{key}")
        if "$ref" in schema:
            self._resolve(schema["$ref"], where)

    def _check_values(self, schema: dict[str, Any], where: str) -> None:
        types = schema.get("type")
        if types is not None:
            names = types if isinstance(types, list) else [types]
            if not names or any(t not in _TYPES for t in names):
                raise SchemaError(f"{where}/type: unknown type in {_show(types)}")
        if "enum" in schema and not isinstance(schema["enum"], list):
            raise SchemaError(f"{where}/enum: must be an array")
        if "required" in schema and not (
            isinstance(schema["required"], list) and all(isinstance(k, str) for k in schema["required"])
        ):
            raise SchemaError(f"{where}/required: must be an array of strings")
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
            if key in schema and not _is_type(schema[key], "number"):
                raise SchemaError(f"{where}/{key}: must be a number")
        for key in ("minLength", "maxLength", "minItems", "maxItems", "minProperties",
                    "maxProperties", "minContains", "maxContains"):
            if key in schema and not (_is_type(schema[key], "integer") and schema[key] >= 0):
                raise SchemaError(f"{where}/{key}: must be a non-negative integer")
        if "pattern" in schema:
            self._compile(schema["pattern"], f"{where}/pattern")

    def _compile(self, pattern: Any, where: str) -> None:
        if not isinstance(pattern, str):
            raise SchemaError(f"{where}: a pattern must be a string")
        try:
            self._pattern(pattern)
        except re.error as exc:
            raise SchemaError(f"{where}: invalid pattern {pattern!r}: {exc}") from None

    def _resolve(self, ref: Any, where: str) -> Any:
        if isinstance(ref, str) and ref in self._refs:
            return self._refs[ref]
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"{where}/$ref: only references inside the schema ('#/...') are supported, got {ref!r}")
        node = self.root
        pointer = unquote(ref[1:])
        if pointer and not pointer.startswith("/"):
            raise SchemaError(f"{where}/$ref: anchors are not supported: {ref!r}")
        for token in pointer.split("/")[1:] if pointer else []:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise SchemaError(f"{where}/$ref: {ref!r} does not point into the schema")
        self._refs[ref] = node
        return node

    # ------------------------------------------------------------------ validation

    def errors(self, instance: Any, limit: int = 20) -> list[ValidationError]:
        """Up to `limit` errors, in instance order; an empty list means valid."""
        out: list[ValidationError] = []
        try:
            for err in self._iter(self.root, instance, "$"):
                out.append(err)
                if len(out) >= limit:
                    break
        except RecursionError:
            raise SchemaError("the schema recurses without consuming the value ($ref loop?)") from None
        return out

    def is_valid(self, instance: Any) -> bool:
        return not self.errors(instance, limit=1)

    def _first(self, schema: Any, instance: Any, path: str) -> ValidationError | None:
        return next(self._iter(schema, instance, path), None)

    def _iter(self, schema: Any, value: Any, path: str) -> Iterator[ValidationError]:
        if schema is True:
            return
        if schema is False:
            yield ValidationError(path, "false", "no value is allowed here")
            return
        s: dict[str, Any] = schema
        if "$ref" in s:
            yield from self._iter(self._resolve(s["$ref"], "#"), value, path)
        if "type" in s:
            names = s["type"] if isinstance(s["type"], list) else [s["type"]]
            if not any(_is_type(value, t) for t in names):
                want = " or ".join(names)
                yield ValidationError(path, "type", f"must be {want}, got {json_type(value)}")
                return  # the other keywords would only repeat the type mismatch
        if "enum" in s and not any(json_equal(value, e) for e in s["enum"]):
            yield ValidationError(path, "enum", f"must be one of {_show(s['enum'])}")
        if "const" in s and not json_equal(value, s["const"]):
            yield ValidationError(path, "const", f"must be {_show(s['const'])}")
        if isinstance(value, dict):
            yield from self._object(s, value, path)
        elif isinstance(value, list):
            yield from self._array(s, value, path)
        elif isinstance(value, str):
            yield from self._string(s, value, path)
        elif _is_type(value, "number"):
            yield from self._number(s, value, path)
        yield from self._combinators(s, value, path)

    def _object(self, s: dict[str, Any], value: dict[str, Any], path: str) -> Iterator[ValidationError]:
        for key in s.get("required", ()):
            if key not in value:
                yield ValidationError(child_path(path, key), "required", "is required")
        for key, needs in s.get("dependentRequired", {}).items():
            if key in value:
                for need in needs:
                    if need not in value:
                        yield ValidationError(
                            child_path(path, need), "dependentRequired", f"is required when {key!r} is present"
                        )
        if "minProperties" in s and len(value) < s["minProperties"]:
            yield ValidationError(path, "minProperties", f"must have at least {_count(s['minProperties'], 'property')}")
        if "maxProperties" in s and len(value) > s["maxProperties"]:
            yield ValidationError(path, "maxProperties", f"must have at most {_count(s['maxProperties'], 'property')}")
        props: dict[str, Any] = s.get("properties", {})
        patterns: dict[str, Any] = s.get("patternProperties", {})
        extra = s.get("additionalProperties", True)
        names = s.get("propertyNames", True)
        for key, item in value.items():
            where = child_path(path, key)
            if names is not True:
                bad = self._first(names, key, where)
                if bad is not None:
                    yield ValidationError(where, "propertyNames", f"property name {bad.message}")
            matched = False
            if key in props:
                matched = True
                yield from self._iter(props[key], item, where)
            for pattern, sub in patterns.items():
                if self._pattern(pattern).search(key):
                    matched = True
                    yield from self._iter(sub, item, where)
            if not matched and extra is not True:
                if extra is False:
                    yield ValidationError(where, "additionalProperties", "is not allowed")
                else:
                    yield from self._iter(extra, item, where)

    def _array(self, s: dict[str, Any], value: list[Any], path: str) -> Iterator[ValidationError]:
        if "minItems" in s and len(value) < s["minItems"]:
            yield ValidationError(path, "minItems", f"must have at least {_count(s['minItems'], 'item')}")
        if "maxItems" in s and len(value) > s["maxItems"]:
            yield ValidationError(path, "maxItems", f"must have at most {_count(s['maxItems'], 'item')}")
        if s.get("uniqueItems") is True:
            for j in range(len(value)):
                i = next((i for i in range(j) if json_equal(value[i], value[j])), None)
                if i is not None:
                    yield ValidationError(child_path(path, j), "uniqueItems", f"duplicates item {i}")
        prefix: list[Any] = s.get("prefixItems", [])
        for i, item in enumerate(value):
            if i < len(prefix):
                yield from self._iter(prefix[i], item, child_path(path, i))
            elif "items" in s:
                if s["items"] is False:
                    limit = _count(len(prefix), "item")
                    yield ValidationError(child_path(path, i), "items", f"is not allowed (at most {limit})")
                else:
                    yield from self._iter(s["items"], item, child_path(path, i))
        if "contains" in s:
            hits = sum(1 for item in value if self._first(s["contains"], item, path) is None)
            low = s.get("minContains", 1)
            high = s.get("maxContains")
            if hits < low:
                want = _count(low, "matching item")
                yield ValidationError(path, "contains", f"must contain at least {want}, found {hits}")
            elif high is not None and hits > high:
                want = _count(high, "matching item")
                yield ValidationError(path, "maxContains", f"must contain at most {want}, found {hits}")

    def _string(self, s: dict[str, Any], value: str, path: str) -> Iterator[ValidationError]:
        if "minLength" in s and len(value) < s["minLength"]:
            yield ValidationError(path, "minLength", f"must be at least {_count(s['minLength'], 'character')} long")
        if "maxLength" in s and len(value) > s["maxLength"]:
            yield ValidationError(path, "maxLength", f"must be at most {_count(s['maxLength'], 'character')} long")
        if "pattern" in s and not self._pattern(s["pattern"]).search(value):
            yield ValidationError(path, "pattern", f"must match pattern {s['pattern']!r}")

    def _number(self, s: dict[str, Any], value: float, path: str) -> Iterator[ValidationError]:
        if "minimum" in s and value < s["minimum"]:
            yield ValidationError(path, "minimum", f"must be >= {s['minimum']}")
        if "maximum" in s and value > s["maximum"]:
            yield ValidationError(path, "maximum", f"must be <= {s['maximum']}")
        if "exclusiveMinimum" in s and value <= s["exclusiveMinimum"]:
            yield ValidationError(path, "exclusiveMinimum", f"must be > {s['exclusiveMinimum']}")
        if "exclusiveMaximum" in s and value >= s["exclusiveMaximum"]:
            yield ValidationError(path, "exclusiveMaximum", f"must be < {s['exclusiveMaximum']}")
        if "multipleOf" in s and not _is_multiple(value, s["multipleOf"]):
            yield ValidationError(path, "multipleOf", f"must be a multiple of {s['multipleOf']}")

    def _combinators(self, s: dict[str, Any], value: Any, path: str) -> Iterator[ValidationError]:
        for sub in s.get("allOf", ()):
            yield from self._iter(sub, value, path)
        if "anyOf" in s:
            firsts = [self._first(sub, value, path) for sub in s["anyOf"]]
            if all(f is not None for f in firsts):
                yield ValidationError(path, "anyOf", "must match at least one schema in anyOf: " + _branches(firsts))
        if "oneOf" in s:
            firsts = [self._first(sub, value, path) for sub in s["oneOf"]]
            matched = [i for i, f in enumerate(firsts) if f is None]
            if not matched:
                yield ValidationError(path, "oneOf", "must match exactly one schema in oneOf: " + _branches(firsts))
            elif len(matched) > 1:
                yield ValidationError(
                    path, "oneOf", f"must match exactly one schema in oneOf, matched {', '.join(map(str, matched))}"
                )
        if "not" in s and self._first(s["not"], value, path) is None:
            yield ValidationError(path, "not", "must not match the schema in 'not'")
        if "if" in s:
            branch = "then" if self._first(s["if"], value, path) is None else "else"
            if branch in s:
                yield from self._iter(s[branch], value, path)


def _branches(firsts: list[ValidationError | None]) -> str:
    parts = [f"[{i}] {e}" for i, e in enumerate(firsts) if e is not None]
    more = len(parts) - _MAX_BRANCH_DETAIL
    text = "; ".join(parts[:_MAX_BRANCH_DETAIL])
    return text + (f"; ... {more} more" if more > 0 else "")
