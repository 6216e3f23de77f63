"""The official JSON-Schema-Test-Suite, run in-process through validate's own Validator.

Every required test (the files directly in each draft's folder) of each draft we claim
must pass. The suite's remote references (http://localhost:1234/…) are answered from its
`remotes/` folder, offline. Unknown keywords are ignored here as the specification says
(the middleware's refusal of them is its own choice, tested in test_schema_validator.py).
A few optional groups are run too: they are the ECMA-262 regex and format behaviour the
README promises.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from schema_keywords import DRAFT4, DRAFT6, DRAFT7, DRAFT2019, DRAFT2020
from schema_validator import Validator

SUITE = Path(__file__).resolve().parents[2] / "fixtures" / "json-schema-test-suite"
DRAFTS = {"draft4": DRAFT4, "draft6": DRAFT6, "draft7": DRAFT7, "draft2019-09": DRAFT2019,
          "draft2020-12": DRAFT2020}
REMOTE = "http://localhost:1234/"


def from_remotes(uri: str) -> Any:
    """The suite's remote documents, from its remotes/ folder: never the network."""
    if not uri.startswith(REMOTE):
        raise ValueError(f"the suite refers to {uri}, which is not in its remotes/")
    return json.loads((SUITE / "remotes" / uri.removeprefix(REMOTE).split("#")[0]).read_bytes())


def run_file(path: Path, draft: str, **options: Any) -> tuple[int, list[str]]:
    """(tests run, descriptions of the failures) for one suite file."""
    ran, failed = 0, []
    for group in json.loads(path.read_bytes()):
        where = f"{path.parent.name}/{path.name}: {group['description']}"
        try:
            validator = Validator(group["schema"], unknown="ignore", retriever=from_remotes,
                                  default_draft=draft, **options)
        except ValueError as exc:
            failed.append(f"{where}: refused at load: {exc}")
            continue
        for test in group["tests"]:
            ran += 1
            if validator.is_valid(test["data"]) != test["valid"]:
                failed.append(f"{where} / {test['description']}: expected valid={test['valid']}")
            # errors() must agree with is_valid() and not crash on any instance.
            elif bool(validator.errors(test["data"], limit=3)) == test["valid"]:
                failed.append(f"{where} / {test['description']}: errors() disagrees")
    return ran, failed


@pytest.mark.parametrize("folder", sorted(DRAFTS))
def test_required_tests_of_each_claimed_draft_pass(folder: str) -> None:
    files = sorted((SUITE / "tests" / folder).glob("*.json"))
    assert len(files) > 25, f"suite not vendored at {SUITE}"
    total, failures = 0, []
    for path in files:
        ran, failed = run_file(path, DRAFTS[folder])
        total += ran
        failures += failed
    assert failures == [], f"{len(failures)} of {total} failed"
    assert total > 500


@pytest.mark.parametrize("name", ["ecmascript-regex.json", "non-bmp-regex.json", "bignum.json",
                                  "float-overflow.json"])
def test_optional_regex_and_number_groups_of_2020_12(name: str) -> None:
    ran, failed = run_file(SUITE / "tests" / "draft2020-12" / "optional" / name, DRAFT2020)
    assert ran > 0 and failed == []


def test_format_assertion_when_asked() -> None:
    folder = SUITE / "tests" / "draft2020-12" / "optional" / "format"
    for name in ("date-time.json", "date.json", "email.json", "ipv4.json", "uuid.json", "uri.json"):
        ran, failed = run_file(folder / name, DRAFT2020, assert_formats=True)
        assert ran > 0 and failed == [], name
