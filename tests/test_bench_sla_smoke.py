"""The SLA benchmark runs (quick mode, SQLite only): every due timer of a sweep fires
through the real worker path, an assignment is made among 500 agents and the calendar
figures are printed.

Only that: timings depend on the machine and are never asserted.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.conftest import bench_script


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    with bench_script("sla", "bench_create") as module:
        yield module


def test_quick_benchmark_sweeps_every_due_timer_once(bench: ModuleType,
                                                     capsys: pytest.CaptureFixture[str]):
    figures = bench.main(["--quick", "--skip-pg", "--runs", "20"])
    assert [(s.database, s.n, s.fired) for s in figures.sweeps] == [
        ("sqlite", 2_000, bench.DUE), ("sqlite", 10_000, bench.DUE)]
    assert all(s.floor > 0 for s in figures.sweeps)
    assert set(figures.latencies) == {
        "assign, 500 candidates", "add_business_time 4h", "add_business_time 2d",
        "engine.sla.schedule, one repair ticket", "schedule + to_dicts, one repair ticket"}
    printed = capsys.readouterr().out
    assert "assign: assigned agent-" in printed
    assert "the eve of National Day" in printed
    assert "postgresql: skipped (--skip-pg)" in printed
