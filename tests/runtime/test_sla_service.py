"""SLA clocks on real tickets (SQLite and PostgreSQL), with the bundled repair template:
cn-workdays (09:00-12:00, 13:00-18:00 Asia/Shanghai), first response 4h and resolution
2d for normal priority, warnings 30 minutes ahead, escalations on breach and on steps
that stall. The worker's firing is driven by moving a clock, never by sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runtime.services import inbox, sla, tickets, timers
from tests.runtime.conftest import VALID_REPAIR, Seed

SHANGHAI_2PM_MONDAY = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def _new(seed: Seed, **values: Any) -> str:
    return tickets.create(seed.db, seed.request("li"), "repair",
                          {**VALID_REPAIR, **values}).number


def _clocks(seed: Seed, number: str, user: str = "wang") -> dict[str, sla.ClockView]:
    return {c.kind: c for c in tickets.get(seed.db, seed.request(user), number).sla}


def _pending(seed: Seed, number: str) -> dict[str, datetime]:
    with seed.db.read() as session:
        planned = timers.upcoming(session, f"sla:{number}:")
    return {item.key.removeprefix(f"sla:{number}:"): item.due_at for item in planned}


def _work(seed: Seed, **advance: float) -> timers.Pass:
    seed.clock.advance(**advance)
    return timers.run_due(seed.db, now=seed.clock(), owner="test-worker")


def _kinds(seed: Seed, number: str, user: str) -> list[str]:
    return [e.kind for e in tickets.timeline(seed.db, seed.request(user), number)]


def test_a_new_ticket_gets_its_clocks_and_their_timers(seed: Seed) -> None:
    number = _new(seed)
    clocks = _clocks(seed, number)
    # 09:00 Monday + 4 working hours, over the lunch break: 14:00 in Shanghai.
    assert clocks["first_response"].due_at == SHANGHAI_2PM_MONDAY
    assert clocks["first_response"].warn_at == SHANGHAI_2PM_MONDAY - timedelta(minutes=30)
    assert clocks["resolution"].status == "running"
    assert _clocks(seed, number, "li") == {}  # customers see progress, not deadlines
    pending = _pending(seed, number)
    assert pending["first_response:breach"] == SHANGHAI_2PM_MONDAY
    assert {"first_response:warning", "resolution:warning", "resolution:breach"} <= set(pending)


def test_a_public_staff_reply_meets_the_first_response(seed: Seed) -> None:
    number = _new(seed)
    seed.clock.advance(hours=1)
    tickets.comment(seed.db, seed.request("wang"), number, "Looking at it now.",
                    internal=False)
    assert _clocks(seed, number)["first_response"].status == "met"
    assert not any(key.startswith("first_response") for key in _pending(seed, number))


def test_an_internal_note_is_no_response(seed: Seed) -> None:
    number = _new(seed)
    tickets.comment(seed.db, seed.request("wang"), number, "note to self", internal=True)
    assert _clocks(seed, number)["first_response"].status == "running"


def test_waiting_for_the_customer_pauses_the_resolution_clock(seed: Seed) -> None:
    number = _new(seed)
    before = _clocks(seed, number)["resolution"].due_at
    seed.clock.advance(hours=1)
    tickets.fire(seed.db, seed.request("wang"), number, "ask_customer")
    assert _clocks(seed, number)["resolution"].status == "paused"
    assert not any(key.startswith("resolution") for key in _pending(seed, number))
    seed.clock.advance(hours=3)  # 13:00 to 16:00: three working hours paused
    tickets.fire(seed.db, seed.request("li"), number, "customer_replied")
    after = _clocks(seed, number)["resolution"]
    assert after.status == "running"
    assert after.due_at is not None
    assert before is not None
    assert after.due_at > before  # the three paused working hours are added back


def test_the_worker_warns_then_reports_the_breach_once(seed: Seed) -> None:
    number = _new(seed)
    assert _work(seed, hours=4, minutes=35).fired == 1  # 13:35: the first-response warning
    assert _work(seed, minutes=30).fired == 1  # 14:05: its breach
    assert _work(seed, minutes=1).fired == 0  # nothing fires twice
    staff_view = _kinds(seed, number, "wang")
    assert staff_view.count("sla_warning") == 1
    assert staff_view.count("sla_breached") == 1
    assert "sla_breached" not in _kinds(seed, number, "li")
    # Nobody holds it yet (it waits in repair's queue): the team's staff are told.
    told = [n.kind for n in inbox.list_notifications(seed.db, seed.request("wang")).items]
    assert told.count("sla_breach") == 1
    assert _clocks(seed, number)["first_response"].status == "breached"


def test_a_resolution_breach_escalates_and_raises_the_priority(seed: Seed) -> None:
    number = _new(seed)
    _work(seed, days=3)  # every normal-priority deadline is long past
    ticket = tickets.get(seed.db, seed.request("zhao"), number)
    assert ticket.values["priority"] == "urgent"  # raise_priority: the next option
    assert "escalated" in _kinds(seed, number, "zhao")
    supervisor = [n.kind for n in inbox.list_notifications(seed.db, seed.request("zhao")).items]
    assert "escalation" in supervisor


def test_a_resolved_ticket_left_alone_closes_itself(seed: Seed) -> None:
    number = _new(seed)
    tickets.claim(seed.db, seed.request("wang"), number)
    tickets.fire(seed.db, seed.request("wang"), number, "resolve", {"resolution": "done"})
    _work(seed, days=7)  # three working days in `resolved`: the stuck step fires
    closed = tickets.get(seed.db, seed.request("li"), number)
    assert closed.state == "closed"
    last = tickets.timeline(seed.db, seed.request("wang"), number)[-1]
    assert (last.kind, last.actor) == ("closed", None)


@pytest.mark.parametrize(("user", "listed"), [("zhao", True), ("admin", True),
                                              ("wang", False), ("li", False)])
def test_supervisors_see_breaches_and_near_breaches(seed: Seed, user: str,
                                                    listed: bool) -> None:
    number = _new(seed)
    seed.clock.advance(hours=4, minutes=35)  # 13:35: warned, the breach 25 minutes away
    found = sla.at_risk(seed.db, seed.request(user))
    assert [item.number for item in found] == ([number] if listed else [])
    if listed:
        assert (found[0].kind, found[0].status) == ("first_response", "warning")


def test_a_customer_reply_starts_the_next_response_clock(seed: Seed) -> None:
    from runtime.services import templates

    templates.install(seed.db, seed.request("admin"), "service")
    number = tickets.create(seed.db, seed.request("li"), "service", {
        "customer_name": "Wang Fang", "category": "complaint", "subject": "Rude delivery driver",
        "description": "The driver threw the parcel over the gate."}).number
    seed.clock.advance(minutes=20)
    tickets.comment(seed.db, seed.request("zhao"), number, "We are looking into it.")
    assert "next_response" not in _clocks(seed, number, "zhao")  # nobody replied yet
    seed.clock.advance(minutes=40)
    replied = seed.clock()
    tickets.comment(seed.db, seed.request("li"), number, "It happened again today.")
    clock = _clocks(seed, number, "zhao")["next_response"]
    assert clock.status == "running"
    assert clock.why is not None
    assert clock.why["started_at"] == replied.isoformat()
    # Complaints: 4 working hours; 10:00 in Shanghai, over the lunch hour, is 15:00.
    assert clock.due_at == replied + timedelta(hours=5)
    seed.clock.advance(minutes=30)
    tickets.comment(seed.db, seed.request("zhao"), number, "Driver spoken to.")
    assert _clocks(seed, number, "zhao")["next_response"].status == "met"
