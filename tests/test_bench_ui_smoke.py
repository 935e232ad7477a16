"""The UI benchmark runs (a few tickets, a few requests) and measures every page.

Only that: timings depend on the machine and are never asserted.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.conftest import ROOT


def test_the_ui_benchmark_measures_every_page(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_ui", ROOT / "bench" / "ui.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        module.main(["--tickets", "4", "--repeat", "2"])
    finally:
        sys.modules.pop(spec.name, None)
    printed = capsys.readouterr().out
    for page in ("ticket page", "queue page", "queue, filtered + sorted",
                 "live step form (htmx)", "kanban board"):
        assert page in printed
