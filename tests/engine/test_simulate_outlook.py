"""Dry runs report the routing decision and the SLA clocks a ticket would get."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.assignment import Outcome
from engine.calendar_compile import load_calendar
from engine.model import TicketType
from engine.simulate import (
    SimulationInputError,
    StepRequest,
    describe_outlook,
    outlook,
    parse_candidates,
    run_auto,
    run_steps,
)
from engine.sla import ClockStatus, SlaKind
from tests.conftest import TEMPLATES

TICKET = {
    "device": "PRN-7", "category": "printer", "symptom": "paper_jam", "fault": "hardware",
    "priority": "normal", "description": "Jams on every page.", "contact_phone": "13800138000",
    "photos": [{"name": "a.jpg", "size": 1000, "content_type": "image/jpeg"}],
    "check_result": "worn roller", "resolution": "replaced the roller", "confirmed": True,
}
CANDIDATES = {
    "teams": {"repair": [
        {"id": "wang", "open_tickets": 2, "skills": ["printer", "hardware"]},
        {"id": "sun", "skills": ["laptop"], "on_shift": False},
    ]},
    "pointers": {"repair": "sun"},
}
CREATED = datetime(2025, 6, 9, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


def test_auto_run_reports_routing_and_the_clocks_of_the_new_ticket(repair: TicketType):
    simulation = run_auto(repair, TICKET)
    teams, pointers = parse_candidates(CANDIDATES)
    cn = load_calendar(TEMPLATES / "calendars" / "cn-workdays.yaml")
    result = outlook(repair, simulation, candidates=teams, pointers=pointers, calendar=cn,
                     created_at=CREATED)
    assert result.assignment is not None
    assert (result.assignment.outcome, result.assignment.winner) == (Outcome.ASSIGNED, "wang")
    assert result.sla is not None
    resolution = result.sla.clock(SlaKind.RESOLUTION)
    assert resolution is not None
    assert resolution.status is ClockStatus.RUNNING
    assert resolution.due_at == datetime(2025, 6, 10, 10, 0, tzinfo=UTC)  # 2d = 16 working hours
    text = describe_outlook(result)
    assert "routing: rule 1 (/assignment/1) → team repair, skill_match: assigned to wang" in text
    assert "   sun: off_shift (load 0)" in text
    assert "resolution: running, due 2025-06-10T18:00+08:00" in text


def test_steps_with_instants_make_the_sla_history(repair: TicketType):
    intake = {k: v for k, v in TICKET.items()
              if k not in ("check_result", "resolution", "confirmed")}
    simulation = run_steps(repair, StepRequest("submit", intake, at=CREATED), [
        StepRequest("ask_customer", {}, frozenset({"agent"}),
                    at=datetime(2025, 6, 9, 2, 0, tzinfo=UTC)),
    ])
    result = outlook(repair, simulation)
    assert result.sla is not None
    clock = result.sla.clock(SlaKind.RESOLUTION)
    assert clock is not None
    assert clock.status is ClockStatus.PAUSED
    assert clock.remaining_minutes == 2 * 24 * 60 - 60  # round the clock by default
    assert [p.state for p in clock.why.pauses] == ["waiting_customer"]


def test_nothing_to_report_without_candidates_or_instants(repair: TicketType):
    result = outlook(repair, run_auto(repair, TICKET))
    assert (result.assignment, result.sla) == (None, None)
    assert describe_outlook(result) == ""


@pytest.mark.parametrize(("data", "message"), [
    ([], "expected {teams"),
    ({"teams": {"repair": {}}}, "/teams: each team maps to a list"),
    ({"teams": {"repair": [{"name": "x"}]}}, "/teams/repair/0: expected a map with at least an id"),
    ({"teams": {"repair": [{"id": "x", "load": 3}]}}, "/teams/repair/0/load: unknown key"),
    ({"teams": {"repair": [{"id": "x", "open_tickets": True}]}},
     "/teams/repair/0/open_tickets: expected int"),
], ids=["not-a-map", "team-not-a-list", "no-id", "unknown-key", "wrong-type"])
def test_bad_candidate_files_say_where(data: object, message: str):
    with pytest.raises(SimulationInputError, match=message.replace("{", r"\{")):
        parse_candidates(data)
