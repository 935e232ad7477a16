"""Every bundled template: valid, bilingual in every label, documented, and its golden
cases hold."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.cases import definition_path, read_cases, run_file
from engine.compile import load
from engine.source import read_file
from tests.conftest import TEMPLATES

NAMES = sorted(p.stem for p in TEMPLATES.glob("*.yaml") if not p.name.endswith(".cases.yaml"))


def test_the_library_has_the_five_templates() -> None:
    assert NAMES == ["after-sales", "it-support", "production-process", "repair", "service"]


def _labels(value: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("label", "name", "description", "help", "message"):
                yield f"{pointer}/{key}", item
            else:
                yield from _labels(item, f"{pointer}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _labels(item, f"{pointer}/{index}")


@pytest.mark.parametrize("name", NAMES)
def test_template_is_valid_bilingual_and_documented(name: str) -> None:
    ticket_type = load(TEMPLATES / f"{name}.yaml")
    assert ticket_type.id == name
    data = read_file(TEMPLATES / f"{name}.yaml").data
    labels = list(_labels(data))
    assert len(labels) > 40
    for pointer, label in labels:
        assert isinstance(label, dict), pointer
        assert set(label) == {"en", "zh"}, pointer
    assert ticket_type.assignment, "routing"
    assert ticket_type.sla is not None
    assert ticket_type.sla.get("targets")
    assert ticket_type.sla.get("escalate")
    page = (TEMPLATES / f"{name}.md").read_text(encoding="utf-8")
    assert ticket_type.name.text("zh") in page
    assert "## How to adapt it" in page


@pytest.mark.parametrize("name", NAMES)
def test_golden_cases_of_the_template_hold(name: str) -> None:
    path = TEMPLATES / f"{name}.cases.yaml"
    case_file = read_cases(path)
    assert len(case_file.cases) >= 4
    ticket_type = load(definition_path(path, case_file))
    failed = [result for result in run_file(ticket_type, case_file) if not result.passed]
    assert failed == []
