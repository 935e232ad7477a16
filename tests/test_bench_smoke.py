"""The engine benchmark runs (quick mode) and reports a successful decide.

Only that: timings depend on the machine and are never asserted.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    # bench/ is a folder of scripts, not a package: load the file under a name of its own
    # (registered while it runs: its dataclasses look their module up).
    spec = importlib.util.spec_from_file_location("bench_engine", ROOT / "bench" / "engine.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_quick_benchmark_reports_decide_ok(bench: ModuleType, capsys: pytest.CaptureFixture[str]):
    figures = bench.main(["--quick"])
    assert figures["decide_ok"] is True
    assert figures["invalid_problems"] >= len(bench.INVALID_FIELDS)
    assert figures["schema_errors"] > 0
    printed = capsys.readouterr().out
    for name in ("compile (loads)", "decide, valid", "decide, invalid", "jsonschema is_valid",
                 "fastjsonschema", "condition, pre-parsed"):
        assert name in printed
    assert "decide(valid) / fastjsonschema" in printed
