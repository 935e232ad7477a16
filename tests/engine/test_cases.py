"""Golden cases: a mismatch is a readable difference, a broken file is located, routing
and SLA checks are notes until their engine parts are plugged in (and real checks then)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.case_hooks import case_calendars, engine_extensions
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
candidates: {{teams: {{repair: [{{id: wang}}]}}}}
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

    def route(ticket_type, simulation, case):
        seen.append((simulation.values["device"], case.created_at))
        return Routing("repair", "chen")

    def deadlines(ticket_type, simulation, case):
        return {"resolution": case.created_at + timedelta(days=2)}

    [result] = _run(path, Extensions(route=route, deadlines=deadlines)).results
    assert seen[0] == ("LAP-0107", created)
    assert result.notes == ()
    assert [line for m in result.mismatches for line in m.render()] == [
        "assignee: expected 'wang', got 'chen'"]


# Repair on cn-workdays (09:00-12:00, 13:00-18:00, Monday 2026-11-23 is a working day):
# normal priority answers in 4h and resolves in 2d (two 8-hour days), urgent in 30m / 4h.
ENGINE = engine_extensions(case_calendars(TEMPLATES))
CREATED = '    created_at: "2026-11-23T09:00:00+08:00"\n'
URGENT = SOFTWARE + "      priority: urgent\n"
CANDIDATES = """\
    candidates:
      teams:
        repair: [{id: wang, open_tickets: 3, skills: [laptop, software]},
                 {id: chen, open_tickets: 1, skills: [printer]}]
        senior: [{id: zhao, capacity: 2, open_tickets: 2}]
      pointers: {repair: chen}
"""
ROUTED = [
    # (values, extra case lines, expectations, the differences rendered)
    (SOFTWARE, CREATED, "team: repair\n      due: {first_response: \"2026-11-23T14:00:00+08:00\", "
     "resolution: \"2026-11-24T18:00:00+08:00\"}", []),
    (URGENT, CREATED, "team: repair\n      due: {first_response: \"2026-11-23T09:30:00+08:00\", "
     "resolution: \"2026-11-23T14:00:00+08:00\"}", []),
    (URGENT, CREATED, "team: repair\n      due: {resolution: \"2026-11-23T13:00:00+08:00\"}",
     ["due.resolution: expected 2026-11-23T13:00:00+08:00, got 2026-11-23T14:00:00+08:00"]),
    (SOFTWARE, CREATED, "team: senior", ["team: expected 'senior', got 'repair'"]),
    (SOFTWARE.replace("laptop", "printer"), CREATED + CANDIDATES, "assignee: wang",
     ["assignee: expected 'wang', got 'chen'"]),
    (SOFTWARE, CREATED + CANDIDATES, "team: repair\n      assignee: wang", []),
    (SOFTWARE + "      priority: critical\n", CREATED + CANDIDATES,
     "team: senior\n      assignee: null", []),
    (SOFTWARE, '    created_at: "2026-11-23T11:00:00Z"\n',
     "due: {first_response: \"2026-11-24T14:00:00+08:00\"}", []),
]


@pytest.mark.parametrize(("values", "extra", "expect", "differences"), ROUTED, ids=[
    "normal-due-over-lunch", "urgent-due", "wrong-due-shown-in-the-case-zone",
    "wrong-team", "skills-tie-goes-to-the-less-loaded", "most-skills-wins",
    "nobody-free-in-senior", "created-after-hours-starts-next-morning"])
def test_routing_and_due_instants_are_checked_by_the_engine(
        tmp_path: Path, values: str, extra: str, expect: str,
        differences: list[str]) -> None:
    path = _cases(tmp_path, f"""\
cases:
  - name: routed
{extra}    values:
{values}    expect:
      {expect}
""")
    [result] = _run(path, ENGINE).results
    assert [line for m in result.mismatches for line in m.render()] == differences
    assert result.notes == ()


def test_step_instants_make_the_sla_history(tmp_path: Path) -> None:
    """Waiting for the customer pauses resolution: 1h used on Monday, paused a day,
    15h left from Tuesday 10:00 → Wednesday 18:00."""
    path = _cases(tmp_path, f"""\
cases:
  - name: paused while waiting
    created_at: "2026-11-23T09:00:00+08:00"
    create:
      transition: submit
      values:
{SOFTWARE.replace("      ", "        ")}    steps:
      - {{transition: ask_customer, as: agent, at: "2026-11-23T10:00:00+08:00"}}
      - {{transition: customer_replied, as: requester, at: "2026-11-24T10:00:00+08:00"}}
    expect:
      path: [new, repairing, waiting_customer, repairing]
      due: {{resolution: "2026-11-25T18:00:00+08:00"}}
""")
    [result] = _run(path, ENGINE).results
    assert [line for m in result.mismatches for line in m.render()] == []


def test_a_calendar_nobody_has_is_a_clear_failure(tmp_path: Path) -> None:
    path = _cases(tmp_path, f"""\
cases:
  - name: timed
    values:
{SOFTWARE}    expect:
      due: {{resolution: "2026-11-24T18:00:00+08:00"}}
""")
    [result] = _run(path, engine_extensions({})).results
    assert [line for m in result.mismatches for line in m.render()] == [
        "due: the definition's calendar 'cn-workdays' is neither in a calendars/ folder "
        "beside the cases nor bundled (known: 24x7)"]


def test_calendars_beside_the_cases_win_over_the_bundled_ones(tmp_path: Path) -> None:
    (tmp_path / "calendars").mkdir()
    (tmp_path / "calendars" / "cn-workdays.yaml").write_text(
        "calendar: cn-workdays\ntimezone: Asia/Shanghai\nhours: {mon: [\"09:00-10:00\"]}\n",
        encoding="utf-8")
    calendars = case_calendars(tmp_path, TEMPLATES / "calendars")
    assert set(calendars) == {"24x7", "cn-workdays", "us-business"}
    assert calendars["cn-workdays"].is_working(datetime(2026, 11, 23, 3, 0, tzinfo=UTC)) is False


@pytest.mark.parametrize(("body", "code", "line"), [
    ("cases:\n  - name: x\n    expect: {pth: [new]}\n", "unknown-key", 3),
    ("cases:\n  - name: x\n    values: {}\n    create: {}\n    expect: {state: new}\n",
     "bad-value", 4),
    ("cases:\n  - name: x\n    created_at: 2026-11-23\n    expect: {state: new}\n",
     "bad-value", 3),
    ("cases: []\n", "bad-value", 1),
    ("cases:\n  - {name: x, expect: {refused: nope}}\n", "not-allowed-value", 2),
    ("cases:\n  - name: x\n    expect:\n      assignee: wang\n", "bad-value", 4),
    ("cases:\n  - name: x\n    candidates: {teams: {repair: [{id: wang, mood: ok}]}}\n"
     "    expect: {team: repair}\n", "unknown-key", 3),
    ("cases:\n  - name: x\n    steps: [{at: tomorrow}]\n    expect: {state: new}\n",
     "bad-value", 3),
], ids=["unknown-expectation", "values-and-create", "instant-without-zone", "no-cases",
        "unknown-refusal", "assignee-without-candidates", "unknown-candidate-key",
        "step-instant-not-an-instant"])
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
