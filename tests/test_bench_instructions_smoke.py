"""The instruction-count benchmark's inner run creates tickets along both paths (valgrind
itself is not run here: counting takes minutes). Nothing is asserted about the count."""

from __future__ import annotations

import pytest

from tests.conftest import bench_script


@pytest.mark.parametrize("path", ["service", "app"])
def test_the_inner_run_creates_tickets(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "TICKETFLOW_INSTANCE"):  # the app run sets both
        monkeypatch.delenv(name, raising=False)
    with bench_script("instructions", "bench_create") as bench:
        monkeypatch.setattr(bench, "WARM_UP", 2)
        bench.create(path, 1)  # raises on any answer but 201


def test_a_failed_valgrind_run_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    with bench_script("instructions") as bench:
        monkeypatch.setattr(bench.subprocess, "run", lambda *a, **k: type(
            "Run", (), {"returncode": 1, "stderr": "valgrind: not found"})())
        with pytest.raises(SystemExit, match="valgrind run failed"):
            bench.instructions("service", 1)
