"""Golden cases: a mismatch is a readable difference, a broken file is located, routing
and SLA checks are notes until their engine parts are plugged in (and real checks then)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.cases import Extensions, Report, Routing, read_cases, render, run_file
from engine.compile import load
from engine.errors import DefinitionError
from tests.conftest import TEMPLATES

REPAIR = load(TEMPLATES / "repair.yaml")
SOFTWARE = """\
      device: LAP-0107
      category: laptop
      fault: software
      description: Blue screen after the latest update.
      contact_phone: "+86 138 0013 8000"
"""


def _cases(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "repair.cases.yaml"
    path.write_text(body, encoding="utf-8")
    (tmp_path / "repair.yaml").write_text((TEMPLATES / "repair.yaml").read_text("utf-8"),
                                          encoding="utf-8")
    return path


def _run(path: Path, extensions: Extensions | None = None) -> Report:
    return Report(str(path), tuple(run_file(REPAIR, read_cases(path), extensions)))


def test_a_mismatch_is_a_readable_difference(tmp_path: Path) -> None:
    path = _cases(tmp_path, f"""\
cases:
  - name: software goes through the check
    values:
{SOFTWARE}      resolution: Rolled back.
      confirmed: true
    expect:
      path: [new, hardware_check, repairing, resolved, closed]
      values: {{repeat_repair: true, device: LAP-0107}}
""")
    report = _run(path)
    assert not report.passed
    assert render(report).splitlines() == [
        f"{path}:",
        f"  FAIL  software goes through the check   ({path}:2)",
        "        path: expected new → hardware_check → repairing → resolved → closed",
        "                   got new → repairing → resolved → closed",
        "        values.repeat_repair: expected true, got null",
    ]


def test_a_run_that_stops_unexpectedly_says_where_and_why(tmp_path: Path) -> None:
    path = _cases(tmp_path, f"""\
cases:
  - name: resolving needs a resolution
    values:
{SOFTWARE}    steps:
      - {{transition: resolve, as: agent}}
    expect:
      state: resolved
""")
    lines = render(_run(path)).splitlines()
    assert lines[2:] == [
        "        step 2 (resolve): expected 'to succeed', got 'resolution: required'",
        "        state: expected 'resolved', got 'repairing'",
    ]


def test_team_assignee_and_due_are_notes_until_plugged_in(tmp_path: Path) -> None:
    path = _cases(tmp_path, f"""\
cases:
  - name: routed and timed
    created_at: "2026-11-23T09:00:00+08:00"
    create:
      transition: submit
      values:
{SOFTWARE.replace("      ", "        ")}    expect:
      team: repair
      assignee: wang
      due: {{resolution: "2026-11-25T09:00:00+08:00"}}
""")
    [result] = _run(path).results
    assert result.passed
    assert [note.split(":")[0] for note in result.notes] == ["team", "assignee", "due"]

    created = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    seen: list[tuple[str, datetime]] = []

    def route(ticket_type, values, at):
        seen.append((values["device"], at))
        return Routing("repair", "chen")

    def deadlines(ticket_type, simulation, at):
        return {"resolution": at + timedelta(days=2)}

    [result] = _run(path, Extensions(route=route, deadlines=deadlines)).results
    assert seen[0] == ("LAP-0107", created)
    assert result.notes == ()
    assert [line for m in result.mismatches for line in m.render()] == [
        "assignee: expected 'wang', got 'chen'"]


@pytest.mark.parametrize(("body", "code", "line"), [
    ("cases:\n  - name: x\n    expect: {pth: [new]}\n", "unknown-key", 3),
    ("cases:\n  - name: x\n    values: {}\n    create: {}\n    expect: {state: new}\n",
     "bad-value", 4),
    ("cases:\n  - name: x\n    created_at: 2026-11-23\n    expect: {state: new}\n",
     "bad-value", 3),
    ("cases: []\n", "bad-value", 1),
    ("cases:\n  - {name: x, expect: {refused: nope}}\n", "not-allowed-value", 2),
], ids=["unknown-expectation", "values-and-create", "instant-without-zone", "no-cases",
        "unknown-refusal"])
def test_a_broken_cases_file_is_located(tmp_path: Path, body: str, code: str,
                                        line: int) -> None:
    path = _cases(tmp_path, body)
    with pytest.raises(DefinitionError) as raised:
        read_cases(path)
    assert [(issue.code, issue.line) for issue in raised.value.issues] == [(code, line)]


def test_earlier_tickets_need_a_duplicate_check(tmp_path: Path) -> None:
    path = tmp_path / "demo.cases.yaml"
    path.write_text("""\
definition: ../demo.yaml
cases:
  - name: no repeat detection here
    earlier: [{number: D-1, created_at: "2026-01-01T00:00:00Z", values: {}}]
    values: {title: Hello}
    expect: {path: [new, done]}
""", encoding="utf-8")
    from engine.compile import loads
    from tests.conftest import MINIMAL

    [result] = run_file(loads(MINIMAL), read_cases(path))
    assert result.passed
    assert result.notes == ("earlier: ignored — the definition has no duplicate_check",)
