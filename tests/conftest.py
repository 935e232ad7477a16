"""Fixtures shared by every test: paths, definitions, compiled templates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.compile import load, loads
from engine.model import TicketType

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates_library"
DATA = Path(__file__).resolve().parent / "data"

MINIMAL = """\
ticket_type: demo
version: 1
name: {en: Demo, zh: 演示}
number_prefix: DEM
fields:
  - {id: title, type: string, required: true}
states:
  - {id: new, initial: true}
  - {id: done, final: true}
transitions:
  - {id: finish, from: new, to: done}
"""


@pytest.fixture(scope="session")
def repair() -> TicketType:
    """The bundled repair template, compiled."""
    return load(TEMPLATES / "repair.yaml")


@pytest.fixture(scope="session")
def repair_text() -> str:
    return (TEMPLATES / "repair.yaml").read_text(encoding="utf-8")


def with_fields(fields_yaml: str, extra: str = "") -> str:
    """The minimal definition with its fields replaced (YAML list items, 2-space indent)."""
    head, _, rest = MINIMAL.partition("fields:\n")
    _, _, tail = rest.partition("states:\n")
    return f"{head}fields:\n{fields_yaml.rstrip()}\nstates:\n{tail}{extra}"


@pytest.fixture
def compile_fields() -> Callable[..., TicketType]:
    """Compile the minimal definition with the given field list (and extra top-level YAML)."""

    def build(fields_yaml: str, extra: str = "") -> TicketType:
        return loads(with_fields(fields_yaml, extra), "test.yaml")

    return build
