"""Unknown keywords in a schema, found when it is loaded.

JSON Schema ignores keywords it does not know, so a misspelt `requried` silently checks
nothing. The schema is walked once, following only the places that hold subschemas, and
every key that is not a keyword of the schema's draft is named with its location.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

DRAFT4: Final = "http://json-schema.org/draft-04/schema"
DRAFT6: Final = "http://json-schema.org/draft-06/schema"
DRAFT7: Final = "http://json-schema.org/draft-07/schema"
DRAFT2019: Final = "https://json-schema.org/draft/2019-09/schema"
DRAFT2020: Final = "https://json-schema.org/draft/2020-12/schema"

_ANNOTATIONS: Final = {"title", "description", "default", "examples", "format"}
_VALIDATION: Final = {
    "type", "enum", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "maxProperties", "minProperties", "required",
}
_APPLICATORS_OLD: Final = {
    "items", "additionalItems", "properties", "patternProperties", "additionalProperties",
    "dependencies", "allOf", "anyOf", "oneOf", "not",
}
_D4: Final = {"id", "$schema", "$ref", "definitions"} | _ANNOTATIONS | _VALIDATION | _APPLICATORS_OLD
_D6: Final = (_D4 - {"id"}) | {"$id", "const", "contains", "propertyNames"}
_D7: Final = _D6 | {"$comment", "if", "then", "else", "readOnly", "writeOnly", "contentMediaType",
                    "contentEncoding"}
_D2019: Final = (_D7 - {"dependencies"}) | {
    "$anchor", "$defs", "$vocabulary", "$recursiveRef", "$recursiveAnchor",
    "unevaluatedItems", "unevaluatedProperties", "dependentSchemas", "dependentRequired",
    "maxContains", "minContains", "deprecated", "contentSchema",
}
_D2020: Final = (_D2019 - {"additionalItems", "$recursiveRef", "$recursiveAnchor"}) | {
    "prefixItems", "$dynamicRef", "$dynamicAnchor",
}
# `definitions` stays usable as a $ref target in the newer drafts (their meta-schemas keep it).
KEYWORDS: Final[dict[str, frozenset[str]]] = {
    DRAFT4: frozenset(_D4), DRAFT6: frozenset(_D6), DRAFT7: frozenset(_D7),
    DRAFT2019: frozenset(_D2019 | {"definitions"}), DRAFT2020: frozenset(_D2020 | {"definitions"}),
}

# Where subschemas are: a map of them, a list of them, or one.
_SCHEMA_MAPS: Final = ("$defs", "definitions", "properties", "patternProperties", "dependentSchemas",
                       "dependencies")
_SCHEMA_LISTS: Final = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_SCHEMA_VALUES: Final = (
    "additionalProperties", "unevaluatedProperties", "unevaluatedItems", "propertyNames", "items",
    "additionalItems", "contains", "not", "if", "then", "else", "contentSchema",
)


def draft_of(schema: Any, default: str = DRAFT2020) -> str:
    """The draft a schema declares with `$schema` (trailing '#' ignored), else `default`."""
    declared = schema.get("$schema") if isinstance(schema, dict) else None
    if isinstance(declared, str):
        uri = declared.rstrip("#").replace("https://json-schema.org/draft-0",
                                           "http://json-schema.org/draft-0")
        if uri in KEYWORDS:
            return uri
    return default


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def unknown_keywords(schema: Any, draft: str = DRAFT2020) -> Iterator[tuple[str, str]]:
    """(JSON pointer of the schema object, keyword) for each key that is not a keyword of
    its draft. Keys starting with `x-` are taken as deliberate extensions."""
    stack: list[tuple[Any, str, str]] = [(schema, "#", draft)]
    while stack:
        node, where, outer = stack.pop()
        if not isinstance(node, dict):
            continue
        current = draft_of(node, outer)
        known = KEYWORDS[current]
        found = []
        for key, value in node.items():
            if key not in known and not key.startswith("x-"):
                found.append((where, key))
                continue
            here = f"{where}/{_escape(key)}"
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                stack.extend((sub, f"{here}/{_escape(name)}", current) for name, sub in value.items())
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                stack.extend((sub, f"{here}/{i}", current) for i, sub in enumerate(value))
            elif key in _SCHEMA_VALUES:
                stack.append((value, here, current))
        yield from found


def suggestion(keyword: str, draft: str) -> str:
    """' (did you mean 'required'?)' for a near miss, else ''."""
    import difflib  # only on this error path

    close = difflib.get_close_matches(keyword, sorted(KEYWORDS[draft]), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
