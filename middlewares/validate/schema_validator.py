"""JSON Schema validation on jsonschema-rs (see README.md for why that library).

`Validator` compiles a schema once (persistent mode reuses it for every event) and gives
errors that carry the JSON path of the failing value, the keyword that failed and a
sentence. Draft 2020-12 unless the schema's `$schema` names another draft; patterns have
ECMA-262 semantics (the library translates them); `format` is an annotation unless
assertion is asked for; remote `$ref`s are never fetched; keywords the draft does not
have are refused at load (or warned about), so a misspelt rule never passes silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import jsonschema_rs

from schema_keywords import DRAFT4, DRAFT6, DRAFT7, DRAFT2019, DRAFT2020, draft_of, suggestion, unknown_keywords

_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MAX_BRANCH_DETAIL: Final = 3
MAX_ERRORS: Final = 20
_OUR_REFUSAL: Final = re.compile(r"SchemaError: (.*)")
Retriever = Callable[[str], Any]
_COMPILERS: Final[dict[str, Any]] = {
    DRAFT4: jsonschema_rs.Draft4Validator, DRAFT6: jsonschema_rs.Draft6Validator,
    DRAFT7: jsonschema_rs.Draft7Validator, DRAFT2019: jsonschema_rs.Draft201909Validator,
    DRAFT2020: jsonschema_rs.Draft202012Validator,
}


@dataclass(frozen=True, slots=True)
class ValidationError:
    path: str  # JSON path of the failing value: $, $.user.name, $.items[2], $['a b']
    rule: str  # the keyword that failed: type, required, minimum, ...
    message: str
    record: str | None = None  # the batch record whose body this is (messageId, sequence number)

    def __str__(self) -> str:
        where = f"record {self.record}: " if self.record is not None else ""
        return f"{where}{self.path}: {self.message} ({self.rule})"

    def to_json(self) -> dict[str, str]:
        named = {"record": self.record} if self.record is not None else {}
        return {**named, "path": self.path, "rule": self.rule, "message": self.message}


class SchemaError(ValueError):
    """The schema cannot be used (not a schema, unknown keyword, dangling $ref, ...)."""


def child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{path}.{key}"
    quoted = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{quoted}']"


def json_path(parts: Iterable[str | int], root: str = "$") -> str:
    path = root
    for part in parts:
        path = child_path(path, part)
    return path


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _count(n: Any, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s" if noun != "property" else f"{n} properties"


def _pointer(parts: Iterable[str | int]) -> str:
    return "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def refuse_remote(uri: str) -> Any:
    """The retriever the middleware uses: a Lambda must not fetch schemas while it runs."""
    raise SchemaError(f"remote $ref {uri!r} is not fetched: put that schema in $defs")


_UNKNOWN_FORMAT = re.compile(r"Unknown format: '([^']*)'")
KNOWN_FORMATS = (
    "date", "date-time", "duration", "email", "hostname", "idn-email", "idn-hostname", "ipv4", "ipv6",
    "iri", "iri-reference", "json-pointer", "regex", "relative-json-pointer", "time", "uri", "uri-reference",
    "uri-template", "uuid",
)


def _format_suggestion(name: str) -> str:
    import difflib  # only on this error path

    close = difflib.get_close_matches(name, KNOWN_FORMATS, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Validator:
    def __init__(self, schema: Any, *, assert_formats: bool = False, unknown: str = "error",
                 warn: Callable[[str], None] | None = None, retriever: Retriever = refuse_remote,
                 default_draft: str = DRAFT2020) -> None:
        """`unknown`: what an unknown keyword is, 'error' (SchemaError), 'warn' (passed to
        `warn`) or 'ignore' (as the specification itself does). `default_draft` applies when
        the schema has no `$schema`."""
        if not isinstance(schema, (dict, bool)):
            raise SchemaError("#: a schema must be an object or a boolean")
        declared = schema.get("$schema") if isinstance(schema, dict) else None
        draft = draft_of(schema, default_draft)
        # A custom meta-schema (not one of the drafts) is left to the library to resolve.
        custom = isinstance(declared, str) and draft_of({"$schema": declared}, "") == ""
        if unknown != "ignore" and not custom:
            for where, keyword in unknown_keywords(schema, draft):
                problem = f"{where}: unknown keyword {keyword!r}{suggestion(keyword, draft)}"
                if unknown == "error":
                    raise SchemaError(problem + " (a validator ignores it, so it would check nothing)")
                if warn is not None:
                    warn(problem + ": ignored")
        try:
            compiler = jsonschema_rs.validator_for if custom else _COMPILERS[draft]
            self._compiled = compiler(
                schema, validate_formats=assert_formats, ignore_unknown_formats=not assert_formats,
                retriever=retriever)
        except jsonschema_rs.ValidationError as exc:
            # The schema broke its meta-schema, or a $ref does not resolve.
            message = str(exc.message)
            unknown_format = _UNKNOWN_FORMAT.search(message)
            if unknown_format:  # the library's words name no way out
                name = unknown_format[1]
                message = (f"unknown format {name!r}{_format_suggestion(name)}; VALIDATE_FORMATS=assert "
                           "checks only the formats it knows (annotate, the default, takes any)")
            ours = _OUR_REFUSAL.search(message)  # our retriever's words, without the library's wrapping
            raise SchemaError(f"{_pointer(exc.instance_path)}: {ours[1] if ours else message}") from None
        except SchemaError:
            raise
        except ValueError as exc:
            raise SchemaError(str(exc).splitlines()[0]) from None

    def is_valid(self, instance: Any) -> bool:
        return bool(self._compiled.is_valid(instance))

    def errors(self, instance: Any, limit: int = MAX_ERRORS, root: str = "$") -> list[ValidationError]:
        """At most `limit` errors, paths starting at `root`; [] when the instance is valid."""
        try:
            if self._compiled.is_valid(instance):  # the common case, without building errors
                return []
            found: list[ValidationError] = []
            for error in self._compiled.iter_errors(instance):
                found.extend(_convert(error, instance, root))
                if len(found) >= limit:
                    break
            return found[:limit]
        except UnicodeEncodeError as exc:  # "\ud800" parses in Python but is no Unicode text
            bad = exc.object[exc.start:exc.end].encode("unicode_escape", "backslashreplace").decode()
            return [ValidationError(root, "json", f"contains {bad}, a lone UTF-16 surrogate, which is not Unicode text")]
        except (ValueError, RecursionError) as exc:
            # The library builds each error's anyOf/oneOf context recursively and gives up
            # on a deep one ("Recursion limit reached"), as would our duplicate search on
            # very deep items: the verdict stands, without detail.
            return [ValidationError(root, "schema", f"does not match the schema (no detail: {exc})")]


def _convert(error: Any, instance: Any, root: str, detail_branches: bool = True) -> list[ValidationError]:
    """Our (path, rule, message) for one library error; some become one per property."""
    kind = error.kind
    name = kind.name
    detail = kind.as_dict()
    path = json_path(error.instance_path, root)
    last = error.schema_path[-1] if error.schema_path else ""
    if name in ("additionalProperties", "unevaluatedProperties"):
        return [ValidationError(child_path(path, key), name, "is not allowed") for key in detail["unexpected"]]
    if name == "required":
        rule = "dependentRequired" if last == "dependentRequired" else "required"
        return [ValidationError(child_path(path, detail["property"]), rule, "is required")]
    if name == "uniqueItems":
        first, second = _first_duplicate(error.instance)
        return [ValidationError(child_path(path, second), name, f"duplicates item {first}")]
    if name == "propertyNames":
        inner = detail["error"]
        [sub] = _convert(inner, instance, root)
        return [ValidationError(child_path(path, inner.instance), name, f"property name {sub.message}")]
    if name == "contains" and last in ("minContains", "maxContains"):
        name = last
    rule = "false" if name == "falseSchema" else name
    return [ValidationError(path, rule, _message(name, detail, error, instance, root, detail_branches))]


def _message(name: str, detail: dict[str, Any], error: Any, instance: Any, root: str,
             detail_branches: bool) -> str:
    limit = detail.get("limit")
    match name:
        case "type":
            return f"must be {' or '.join(detail['types'])}, got {json_type(error.instance)}"
        case "minLength" | "maxLength":
            return f"must be {'at least' if name == 'minLength' else 'at most'} {_count(limit, 'character')} long"
        case "minItems" | "maxItems":
            return f"must have {'at least' if name == 'minItems' else 'at most'} {_count(limit, 'item')}"
        case "minProperties" | "maxProperties":
            return f"must have {'at least' if name == 'minProperties' else 'at most'} {_count(limit, 'property')}"
        case "minimum":
            return f"must be >= {limit}"
        case "maximum":
            return f"must be <= {limit}"
        case "exclusiveMinimum":
            return f"must be > {limit}"
        case "exclusiveMaximum":
            return f"must be < {limit}"
        case "multipleOf":
            return f"must be a multiple of {detail['multiple_of']}"
        case "pattern":
            return f"must match pattern '{detail['pattern']}'"  # as written in the schema, not repr()'d
        case "enum":
            return f"must be one of {_show(detail['options'])}"
        case "const":
            return f"must be {_show(detail['expected_value'])}"
        case "falseSchema":
            return "no value is allowed here"
        case "not":
            return "must not match the schema in 'not'"
        case "format":
            return f"must be a valid {detail['format']}"
        case "contains":
            return "must contain an item that matches 'contains'"
        case "anyOf":
            if not detail_branches:
                return "must match at least one schema in anyOf"
            return "must match at least one schema in anyOf: " + _branches(detail["context"], instance, root)
        case "oneOf":
            branches = detail["context"]
            matched = [str(i) for i, errors in enumerate(branches) if not errors]
            if len(matched) > 1:
                return f"must match exactly one schema in oneOf, matched {', '.join(matched)}"
            if not detail_branches:
                return "must match exactly one schema in oneOf"
            return "must match exactly one schema in oneOf: " + _branches(branches, instance, root)
    return str(error.message)


def _branches(context: list[list[Any]], instance: Any, root: str) -> str:
    """The first error of the first few branches of anyOf / oneOf (one level: a nested
    anyOf is named, not detailed, so a message stays short on recursive schemas)."""
    parts = []
    for i, errors in enumerate(context[:_MAX_BRANCH_DETAIL]):
        if errors:
            parts.append(f"[{i}] {_convert(errors[0], instance, root, detail_branches=False)[0]}")
    more = len(context) - _MAX_BRANCH_DETAIL
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _canonical(value: Any) -> Any:
    """A hashable form under JSON equality: 1 == 1.0, true != 1, key order ignored."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, list):
        return ("array", tuple(_canonical(v) for v in value))
    return ("object", frozenset((k, _canonical(v)) for k, v in value.items()))


def _first_duplicate(items: list[Any]) -> tuple[int, int]:
    """Indexes of the first item that repeats an earlier one (linear: a dict of seen items)."""
    seen: dict[Any, int] = {}
    for i, item in enumerate(items):
        key = _canonical(item)
        if key in seen:
            return seen[key], i
        seen[key] = i
    return 0, 0
