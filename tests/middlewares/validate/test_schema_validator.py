"""The Draft 2020-12 subset validator: exact paths, rules and messages."""

from __future__ import annotations

from typing import Any

import pytest
from schema_validator import SchemaError, Validator


def errs(schema: Any, instance: Any) -> list[str]:
    return [str(e) for e in Validator(schema).errors(instance)]


ORDER = {
    "type": "object",
    "required": ["id", "customer", "items"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": "^ord-[0-9]+$"},
        "customer": {"$ref": "#/$defs/customer"},
        "items": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/item"}},
        "status": {"enum": ["new", "paid"]},
    },
    "$defs": {
        "customer": {
            "type": "object",
            "required": ["email"],
            "properties": {"email": {"type": "string", "minLength": 3}, "age": {"type": "integer", "minimum": 0}},
        },
        "item": {
            "type": "object",
            "required": ["sku", "qty"],
            "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1, "maximum": 99}},
        },
    },
}


def test_valid_order() -> None:
    order = {"id": "ord-1", "customer": {"email": "a@b.c", "age": 30}, "items": [{"sku": "x", "qty": 2}]}
    assert errs(ORDER, order) == []


def test_errors_name_the_path_and_rule_in_instance_order() -> None:
    order = {
        "id": "order-1",
        "customer": {"age": -1},
        "items": [{"sku": "x", "qty": 2}, {"sku": 5, "qty": 100}, {"qty": 1.5}],
        "status": "lost",
        "coupon": "FREE",
    }
    assert errs(ORDER, order) == [
        "$.id: must match pattern '^ord-[0-9]+$' (pattern)",
        "$.customer.email: is required (required)",
        "$.customer.age: must be >= 0 (minimum)",
        "$.items[1].sku: must be string, got integer (type)",
        "$.items[1].qty: must be <= 99 (maximum)",
        "$.items[2].sku: is required (required)",
        "$.items[2].qty: must be integer, got number (type)",
        "$.status: must be one of [\"new\", \"paid\"] (enum)",
        "$.coupon: is not allowed (additionalProperties)",
    ]


def test_missing_required_properties_at_the_root() -> None:
    assert errs(ORDER, {}) == ["$.id: is required (required)", "$.customer: is required (required)",
                               "$.items: is required (required)"]


def test_type_mismatch_is_reported_once() -> None:
    assert errs(ORDER, []) == ["$: must be object, got array (type)"]
    assert errs({"type": ["string", "null"], "minLength": 2}, 5) == ["$: must be string or null, got integer (type)"]


def test_json_numbers_and_booleans() -> None:
    assert errs({"type": "integer"}, 3.0) == []
    assert errs({"type": "integer"}, True) == ["$: must be integer, got boolean (type)"]
    assert errs({"type": "number"}, False) == ["$: must be number, got boolean (type)"]
    assert errs({"enum": [1, "a"]}, True) == ['$: must be one of [1, "a"] (enum)']
    assert errs({"const": 1}, 1.0) == []
    assert errs({"const": {"a": [1, True]}}, {"a": [1, 1]}) == ['$: must be {"a": [1, true]} (const)']


def test_number_bounds() -> None:
    schema = {"exclusiveMinimum": 0, "exclusiveMaximum": 10, "multipleOf": 0.1}
    assert errs(schema, 0.3) == []
    assert errs(schema, 0) == ["$: must be > 0 (exclusiveMinimum)"]
    assert errs(schema, 10) == ["$: must be < 10 (exclusiveMaximum)"]
    assert errs(schema, 0.35) == ["$: must be a multiple of 0.1 (multipleOf)"]


def test_string_lengths_count_characters_not_bytes() -> None:
    schema = {"minLength": 2, "maxLength": 3}
    assert errs(schema, "éé") == []
    assert errs(schema, "é") == ["$: must be at least 2 characters long (minLength)"]
    assert errs(schema, "abcd") == ["$: must be at most 3 characters long (maxLength)"]


def test_pattern_is_not_anchored() -> None:
    assert errs({"pattern": "b+"}, "abbc") == []
    assert errs({"pattern": "^b+$"}, "abbc") == ["$: must match pattern '^b+$' (pattern)"]


def test_odd_property_names_are_quoted_in_paths() -> None:
    schema = {"properties": {"a b": {"type": "string"}, "it's": {"type": "string"}}}
    assert errs(schema, {"a b": 1, "it's": 2}) == [
        "$['a b']: must be string, got integer (type)",
        "$['it\\'s']: must be string, got integer (type)",
    ]


def test_arrays() -> None:
    schema = {"prefixItems": [{"type": "string"}], "items": {"type": "integer"}, "maxItems": 3, "uniqueItems": True}
    assert errs(schema, ["a", 1, 2]) == []
    assert errs(schema, [1, "b", 2, 2]) == [
        "$: must have at most 3 items (maxItems)",
        "$[3]: duplicates item 2 (uniqueItems)",
        "$[0]: must be string, got integer (type)",
        "$[1]: must be integer, got string (type)",
    ]
    assert errs({"prefixItems": [True], "items": False}, [1, 2]) == ["$[1]: is not allowed (at most 1 item) (items)"]
    assert errs({"contains": {"const": 5}}, [1, 2]) == ["$: must contain at least 1 matching item, found 0 (contains)"]
    assert errs({"contains": {"const": 5}, "maxContains": 1}, [5, 5]) == [
        "$: must contain at most 1 matching item, found 2 (maxContains)"
    ]


def test_any_of_one_of_all_of_not() -> None:
    any_of = {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 10}]}
    assert errs(any_of, "x") == []
    assert errs(any_of, 5) == [
        "$: must match at least one schema in anyOf: [0] $: must be string, got integer (type); "
        "[1] $: must be >= 10 (minimum) (anyOf)"
    ]
    one_of = {"oneOf": [{"type": "integer"}, {"minimum": 0}]}
    assert errs(one_of, -1) == []
    assert errs(one_of, 5) == ["$: must match exactly one schema in oneOf, matched 0, 1 (oneOf)"]
    assert errs({"allOf": [{"required": ["a"]}, {"required": ["b"]}]}, {}) == [
        "$.a: is required (required)",
        "$.b: is required (required)",
    ]
    assert errs({"not": {"type": "null"}}, None) == ["$: must not match the schema in 'not' (not)"]


def test_if_then_else_and_dependent_required() -> None:
    schema = {
        "if": {"properties": {"kind": {"const": "card"}}},
        "then": {"required": ["cardNumber"]},
        "else": {"required": ["iban"]},
        "dependentRequired": {"billing": ["address"]},
    }
    assert errs(schema, {"kind": "card"}) == ["$.cardNumber: is required (required)"]
    assert errs(schema, {"kind": "sepa", "billing": True}) == [
        "$.address: is required when 'billing' is present (dependentRequired)",
        "$.iban: is required (required)",
    ]


def test_object_counts_pattern_properties_and_property_names() -> None:
    schema = {
        "minProperties": 1,
        "patternProperties": {"^x-": {"type": "string"}},
        "additionalProperties": {"type": "integer"},
        "propertyNames": {"maxLength": 5},
    }
    assert errs(schema, {}) == ["$: must have at least 1 property (minProperties)"]
    assert errs(schema, {"x-a": "s", "n": 1}) == []
    assert errs(schema, {"x-a": 1, "n": "s", "toolong": 1}) == [
        "$['x-a']: must be string, got integer (type)",
        "$.n: must be integer, got string (type)",
        "$.toolong: property name must be at most 5 characters long (propertyNames)",
    ]


def test_recursive_ref() -> None:
    tree = {
        "$ref": "#/$defs/node",
        "$defs": {"node": {
            "type": "object",
            "required": ["v"],
            "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
        }},
    }
    assert errs(tree, {"v": 1, "kids": [{"v": 2, "kids": [{"v": 3}]}]}) == []
    assert errs(tree, {"v": 1, "kids": [{"v": 2, "kids": [{"v": "3"}]}]}) == [
        "$.kids[0].kids[0].v: must be integer, got string (type)"
    ]


def test_boolean_schemas_and_annotations() -> None:
    assert errs(True, {"anything": 1}) == []
    assert errs({"properties": {"x": False}}, {"x": 1}) == ["$.x: no value is allowed here (false)"]
    annotated = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "t", "format": "email",
                 "description": "d", "examples": [1], "x-custom": 1}
    assert errs(annotated, "not an email") == []


def test_error_limit() -> None:
    schema = {"items": {"type": "string"}}
    assert len(Validator(schema).errors(list(range(100)), limit=5)) == 5


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"unevaluatedProperties": False}, "#: keyword 'unevaluatedProperties' is not supported"),
        ({"properties": {"a": {"dependentSchemas": {}}}}, "#/properties/a: keyword 'dependentSchemas'"),
        ({"$ref": "https://example.com/s.json"}, "only references inside the schema"),
        ({"$ref": "#/$defs/missing"}, "does not point into the schema"),
        ({"pattern": "("}, "#/pattern: invalid pattern '('"),
        ({"type": "int"}, "#/type: unknown type"),
        ({"required": "a"}, "#/required: must be an array of strings"),
        ({"minLength": -1}, "#/minLength: must be a non-negative integer"),
        ({"anyOf": []}, "#/anyOf: must be a non-empty array"),
        ([], "#: a schema must be an object or a boolean"),
    ],
)
def test_unusable_schemas_are_refused_at_load(schema: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message.replace("(", r"\(").replace("$", r"\$")):
        Validator(schema)


def test_ref_loop_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="recurses"):
        Validator({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}).errors(1)
