"""The engine benchmark runs (quick mode) and reports a successful decide.

Only that: timings depend on the machine and are never asserted.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.conftest import bench_script


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    with bench_script("engine") as module:
        yield module


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
