"""Checks an EMF document against the published schema and the rules it cannot express."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA = json.loads((Path(__file__).resolve().parent / "emf-schema.json").read_text())
# The schema names no draft; its fragment `$id`s are draft-07 style (2020-12 refuses them).
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


def check_emf(document: dict[str, Any]) -> None:
    VALIDATOR.validate(document)
    for directive in document["_aws"]["CloudWatchMetrics"]:
        assert len(directive["Metrics"]) <= 100
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                assert isinstance(document[name], str) and 0 < len(document[name]) <= 1024, name
        for metric in directive["Metrics"]:
            value = document[metric["Name"]]
            assert isinstance(value, (int, float)) and not isinstance(value, bool), metric["Name"]


def emf_lines(stderr: str) -> list[dict[str, Any]]:
    """The EMF documents among a log's lines, each checked."""
    found = []
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            check_emf(document)
            found.append(document)
    return found
