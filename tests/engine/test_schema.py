"""The meta-schema is a real draft 2020-12 schema, and validators never leave the process."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import _WrappedReferencingError

from engine.cases import CASES_SCHEMA_PATH
from engine.schema import make_validator, meta_schema
from engine.source import read_file
from tests.conftest import TEMPLATES


def test_meta_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(meta_schema())
    assert meta_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", sorted(p for p in TEMPLATES.glob("*.yaml")
                                         if not p.name.endswith(".cases.yaml")),
                         ids=lambda p: p.name)
def test_bundled_templates_satisfy_the_meta_schema(path):
    assert list(make_validator(meta_schema()).iter_errors(read_file(path).data)) == []


def test_the_golden_case_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(json.loads(CASES_SCHEMA_PATH.read_text("utf-8")))


@pytest.mark.parametrize("target", [
    "https://example.com/schema.json",
    "file:///etc/passwd",
    "other.schema.json",
], ids=["remote", "file", "relative"])
def test_refs_outside_our_registry_are_refused_not_fetched(target: str):
    validator = make_validator({"$ref": target})
    with pytest.raises(_WrappedReferencingError):
        validator.is_valid("anything")


@pytest.mark.parametrize(("fmt", "value", "valid"), [
    ("date", "2024-02-29", True),
    ("date", "2023-02-29", False),
    ("date-time", "2024-05-01T08:00:00+08:00", True),
    ("date-time", "2024-05-01 08:00", False),
    ("email", "li.lei@example.cn", True),
    ("email", "li.lei", False),
], ids=lambda v: str(v))
def test_format_checking_is_on(fmt: str, value: str, valid: bool):
    assert make_validator({"type": "string", "format": fmt}).is_valid(value) is valid


def test_patterns_run_in_linear_time():
    # With a backtracking engine this input takes longer than the age of the universe.
    validator = make_validator({"type": "string", "pattern": "^(a+)+$"})
    assert validator.is_valid("a" * 100_000 + "!") is False
