"""The UI benchmark runs (a few tickets, a few requests) and measures every page.

Only that: timings depend on the machine and are never asserted.
"""

from __future__ import annotations

import pytest

from tests.conftest import bench_script


def test_the_ui_benchmark_measures_every_page(capsys: pytest.CaptureFixture[str]) -> None:
    with bench_script("ui") as module:
        module.main(["--tickets", "4", "--stored", "200", "--events", "10", "--repeat", "2"])
    printed = capsys.readouterr().out
    for page in ("ticket page", "queue page", "queue, filtered + sorted",
                 "live step form (htmx)", "kanban board"):
        assert page in printed
