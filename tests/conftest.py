"""Fixtures shared by every test: paths, definitions, compiled templates."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

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


@contextmanager
def bench_script(name: str, *also_loaded: str) -> Iterator[ModuleType]:
    """bench/<name>.py loaded as a module. bench/ is a folder of scripts, not a package:
    each is loaded under a name of its own, registered while it runs (its dataclasses
    look their module up); `also_loaded` are names it registers in turn."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        for loaded in (spec.name, *also_loaded):
            sys.modules.pop(loaded, None)


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
