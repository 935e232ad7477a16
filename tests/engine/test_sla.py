"""SLA clocks: targets by condition, business time, pauses, warnings, breaches,
escalations and stuck steps.

The calendar here works Monday to Friday, 09:00-17:00 UTC (a working day is 8 hours);
2024-06-03 is a Monday. Instants are written `Mon 09:00`, `Tue 10:30`, ... of that week.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendar import BusinessCalendar
from engine.calendar_compile import load_calendar, loads_calendar
from engine.compile import loads
from engine.model import TicketType
from engine.sla import (
    ClockStatus,
    SlaKind,
    TicketTimes,
    TimerKind,
    raised_priority,
    schedule,
    select_target,
)
from tests.conftest import TEMPLATES

DEFINITION = """\
ticket_type: svc
version: 7
name: Service
number_prefix: SVC
fields:
  - {id: title, type: string}
  - {id: priority, type: choice, options: [low, normal, high]}
  - {id: tier, type: choice, options: [basic, gold]}
states:
  - {id: new, initial: true}
  - {id: review}
  - {id: waiting, sla: pause}
  - {id: solved, sla: stop}
  - {id: done, final: true}
transitions:
  - {id: submit, from: new, to: review}
  - {id: ask, from: review, to: waiting}
  - {id: answer, from: waiting, to: review}
  - {id: solve, from: review, to: solved}
  - {id: reopen, from: solved, to: review}
  - {id: auto_close, from: waiting, to: done}
  - {id: close, from: [new, solved], to: done}
sla:
  calendar: office
  targets:
    - {when: "priority == 'high'", first_response: 30m, resolution: 4h}
    - {when: "tier == 'gold'", first_response: 1h, next_response: 2h, resolution: 1d}
    - {first_response: 4h, next_response: 8h, resolution: 2d}
  warn_before: 30m
  escalate:
    - {on: resolution_breach, notify: [supervisor], raise_priority: true}
    - {on: resolution_breach, after: 2h, reassign_to: senior}
    - {on: warning, notify: [assignee]}
    - {on: stuck, in_state: waiting, after: 3d, transition: auto_close}
    - {on: stuck, after: 1d, notify: [assignee]}
"""

OFFICE = """\
calendar: office
timezone: UTC
hours: {mon: ["09:00-17:00"], tue: ["09:00-17:00"], wed: ["09:00-17:00"],
        thu: ["09:00-17:00"], fri: ["09:00-17:00"]}
"""

DAYS = {"Mon": 3, "Tue": 4, "Wed": 5, "Thu": 6, "Fri": 7, "Sat": 8, "Sun": 9, "Mon2": 10,
        "Tue2": 11, "Wed2": 12, "Thu2": 13, "Fri2": 14}


def t(text: str) -> datetime:
    day, clock = text.split()
    hours, minutes = clock.split(":")
    return datetime(2024, 6, DAYS[day], int(hours), int(minutes), tzinfo=UTC)


def times(*history: tuple[str, str], **instants: str) -> TicketTimes:
    return TicketTimes.of(t(history[0][1]), [(state, t(at)) for state, at in history],
                          **{key: t(value) for key, value in instants.items()})


@pytest.fixture(scope="module")
def svc() -> TicketType:
    return loads(DEFINITION, "svc.yaml")


@pytest.fixture(scope="module")
def office() -> BusinessCalendar:
    return loads_calendar(OFFICE, "office.yaml")


NORMAL = {"priority": "normal"}
HIGH = {"priority": "high"}


@pytest.mark.parametrize(("values", "target"), [
    ({"priority": "high", "tier": "gold"}, 0),
    ({"priority": "normal", "tier": "gold"}, 1),
    ({"priority": "low"}, 2),
    ({}, 2),
], ids=["priority", "customer-tier", "default", "empty"])
def test_the_first_target_whose_condition_holds_applies(svc: TicketType, values: dict[str, Any],
                                                        target: int):
    chosen = select_target(svc, values)
    assert chosen is not None
    assert chosen.index == target


# (id, values, history, instants, clock, status, due, warn)
CLOCKS = [
    ("first-response-due-with-warning", NORMAL, [("new", "Mon 09:00")], {},
     SlaKind.FIRST_RESPONSE, ClockStatus.RUNNING, "Mon 13:00", "Mon 12:30"),
    ("no-warning-when-the-target-is-shorter", HIGH, [("new", "Mon 09:00")], {},
     SlaKind.FIRST_RESPONSE, ClockStatus.RUNNING, "Mon 09:30", None),
    ("created-at-night-counts-from-opening", NORMAL, [("new", "Mon 20:00")], {},
     SlaKind.FIRST_RESPONSE, ClockStatus.RUNNING, "Tue 13:00", "Tue 12:30"),
    ("two-working-days-skip-the-weekend", NORMAL, [("new", "Thu 15:00")], {},
     SlaKind.RESOLUTION, ClockStatus.RUNNING, "Mon2 15:00", "Mon2 14:30"),
    ("first-response-met", NORMAL, [("new", "Mon 09:00")], {"first_response_at": "Mon 10:00"},
     SlaKind.FIRST_RESPONSE, ClockStatus.MET, None, None),
    ("first-response-met-late", NORMAL, [("new", "Mon 09:00")],
     {"first_response_at": "Mon 15:00"},
     SlaKind.FIRST_RESPONSE, ClockStatus.MET_LATE, "Mon 13:00", None),
    ("a-pause-pushes-the-due-instant", HIGH,
     [("new", "Mon 09:00"), ("waiting", "Mon 10:00"), ("review", "Tue 09:00")], {},
     SlaKind.RESOLUTION, ClockStatus.RUNNING, "Tue 12:00", "Tue 11:30"),
    ("paused-now-has-no-due-instant", HIGH,
     [("new", "Mon 09:00"), ("waiting", "Mon 10:00")], {},
     SlaKind.RESOLUTION, ClockStatus.PAUSED, None, None),
    ("resolved-on-time", HIGH, [("new", "Mon 09:00"), ("solved", "Mon 11:00")], {},
     SlaKind.RESOLUTION, ClockStatus.MET, None, None),
    ("resolved-late", HIGH, [("new", "Mon 09:00"), ("solved", "Tue 11:00")], {},
     SlaKind.RESOLUTION, ClockStatus.MET_LATE, "Mon 13:00", None),
    ("reopened-continues-where-it-stopped", HIGH,
     [("new", "Mon 09:00"), ("solved", "Mon 11:00"), ("review", "Tue 09:00")], {},
     SlaKind.RESOLUTION, ClockStatus.RUNNING, "Tue 11:00", "Tue 10:30"),
    ("closed-without-a-response", NORMAL, [("new", "Mon 09:00"), ("done", "Mon 10:00")], {},
     SlaKind.FIRST_RESPONSE, ClockStatus.STOPPED, None, None),
    ("next-response-after-a-customer-reply", NORMAL, [("new", "Mon 09:00")],
     {"first_response_at": "Mon 09:10", "responded_at": "Mon 09:10",
      "customer_replied_at": "Tue 10:00"},
     SlaKind.NEXT_RESPONSE, ClockStatus.RUNNING, "Wed 10:00", "Wed 09:30"),
    ("next-response-answered", NORMAL, [("new", "Mon 09:00")],
     {"customer_replied_at": "Tue 10:00", "responded_at": "Tue 11:00"},
     SlaKind.NEXT_RESPONSE, ClockStatus.MET, None, None),
]


@pytest.mark.parametrize(("values", "history", "instants", "kind", "status", "due", "warn"),
                         [c[1:] for c in CLOCKS], ids=[c[0] for c in CLOCKS])
def test_clocks(svc: TicketType, office: BusinessCalendar, values: dict[str, Any],
                history: list[tuple[str, str]], instants: dict[str, str], kind: SlaKind,
                status: ClockStatus, due: str | None, warn: str | None):
    result = schedule(svc, office, values, times(*history, **instants))
    clock = result.clock(kind)
    assert clock is not None
    assert clock.status is status
    assert clock.due_at == (t(due) if due else None)
    assert clock.warn_at == (t(warn) if warn else None)


def test_a_next_response_clock_needs_a_customer_reply(svc: TicketType, office: BusinessCalendar):
    result = schedule(svc, office, NORMAL, times(("new", "Mon 09:00")))
    assert result.clock(SlaKind.NEXT_RESPONSE) is None
    assert schedule(svc, office, HIGH, times(("new", "Mon 09:00"), customer_replied_at="Mon 10:00")
                    ).clock(SlaKind.NEXT_RESPONSE) is None, "the high target has none"


def test_a_priority_change_recomputes_the_due_instants(svc: TicketType, office: BusinessCalendar):
    history = times(("new", "Mon 09:00"), ("review", "Mon 09:05"))
    before = schedule(svc, office, NORMAL, history).clock(SlaKind.RESOLUTION)
    after = schedule(svc, office, HIGH, history).clock(SlaKind.RESOLUTION)
    assert before is not None
    assert after is not None
    assert (before.due_at, after.due_at) == (t("Tue 17:00"), t("Mon 13:00"))
    assert (before.why.target, after.why.target) == (2, 0)


def test_the_why_of_a_due_instant(svc: TicketType, office: BusinessCalendar):
    history = times(("new", "Mon 09:00"), ("waiting", "Mon 10:00"), ("review", "Tue 09:00"))
    clock = schedule(svc, office, HIGH, history).clock(SlaKind.RESOLUTION)
    assert clock is not None
    why = clock.why
    assert (why.ticket_type, why.version, why.target, why.target_pointer) == (
        "svc", 7, 0, "/sla/targets/0")
    assert (why.target_when, why.duration, why.target_minutes) == ("priority == 'high'", "4h", 240)
    assert (why.calendar, why.timezone, why.started_at) == ("office", "UTC", t("Mon 09:00"))
    assert [(s.state, s.start, s.end, s.minutes) for s in why.counted] == [
        ("new", t("Mon 09:00"), t("Mon 10:00"), 60.0),
        ("review", t("Tue 09:00"), t("Tue 12:00"), 180.0),
    ]
    assert why.business_minutes == 240
    assert [(p.state, p.start, p.end) for p in why.pauses] == [
        ("waiting", t("Mon 10:00"), t("Tue 09:00"))]
    json.dumps(clock.to_dict())  # stored as JSON with the timer and the event


def test_the_why_lists_public_holidays_skipped(svc: TicketType):
    cn = load_calendar(TEMPLATES / "calendars" / "cn-workdays.yaml")
    created = datetime(2025, 9, 30, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai, before National Day
    clock = schedule(svc, cn, HIGH, TicketTimes.of(created, [("new", created)])
                     ).clock(SlaKind.RESOLUTION)
    assert clock is not None
    assert clock.due_at == datetime(2025, 10, 9, 4, 0, tzinfo=UTC)  # 12:00 on Oct 9 local
    assert [d.date.isoformat() for d in clock.why.days_off] == [
        "2025-10-01", "2025-10-02", "2025-10-03", "2025-10-06", "2025-10-07", "2025-10-08"]


def test_timers_for_a_running_ticket(svc: TicketType, office: BusinessCalendar):
    result = schedule(svc, office, HIGH, times(("new", "Mon 09:00"), ("review", "Mon 09:00")))
    # the stuck step of `after: 1d` is one working day: it falls due at the close
    rows = [(timer.kind, timer.key, timer.due_at, [e.index for e in timer.escalations])
            for timer in result.timers]
    assert rows == [
        (TimerKind.BREACH, "first_response:breach", t("Mon 09:30"), []),
        (TimerKind.WARNING, "resolution:warning", t("Mon 12:30"), [2]),
        (TimerKind.BREACH, "resolution:breach", t("Mon 13:00"), [0]),
        (TimerKind.ESCALATION, "resolution:breach:escalate1", t("Mon 15:00"), [1]),
        (TimerKind.STUCK, "stuck:review@2024-06-03T09:00:00+00:00:escalate4", t("Mon 17:00"),
         [4]),
    ]
    json.dumps(result.to_dict())


def test_stuck_timers_follow_the_current_state(svc: TicketType, office: BusinessCalendar):
    result = schedule(svc, office, NORMAL, times(("new", "Mon 09:00"), ("waiting", "Mon 10:00")))
    stuck = [(timer.state, timer.due_at, timer.escalations[0].transition)
             for timer in result.timers if timer.kind is TimerKind.STUCK]
    assert stuck == [("waiting", t("Tue 10:00"), None), ("waiting", t("Thu 10:00"), "auto_close")]
    assert not [timer for timer in result.timers if timer.kind is TimerKind.BREACH], \
        "paused clocks have no breach timer"
    closed = schedule(svc, office, NORMAL, times(("new", "Mon 09:00"), ("done", "Mon 10:00")))
    assert closed.timers == ()


def test_next_response_timers_are_keyed_by_the_reply(svc: TicketType, office: BusinessCalendar):
    result = schedule(svc, office, {"tier": "gold"},
                      times(("new", "Mon 09:00"), first_response_at="Mon 09:05",
                            responded_at="Mon 09:05", customer_replied_at="Mon 16:00"))
    keys = [timer.key for timer in result.timers if timer.clock is SlaKind.NEXT_RESPONSE]
    assert keys == ["next_response@2024-06-03T16:00:00+00:00:warning",
                    "next_response@2024-06-03T16:00:00+00:00:breach"]


def test_no_sla_block_no_clocks():
    plain = loads(DEFINITION[:DEFINITION.index("sla:\n")], "plain.yaml")
    result = schedule(plain, loads_calendar(OFFICE), {}, times(("new", "Mon 09:00")))
    assert (result.target, result.clocks, result.timers) == (None, (), ())


@pytest.mark.parametrize(("priority", "raised"), [
    ("low", "normal"), ("normal", "high"), ("high", None), (None, None),
], ids=["low", "normal", "highest", "unset"])
def test_raise_priority_takes_the_next_option(svc: TicketType, priority: str | None,
                                              raised: str | None):
    assert raised_priority(svc, {"priority": priority}) == raised


@settings(max_examples=80, deadline=None)
@given(created=st.integers(0, 7 * 24 * 60), pause_at=st.integers(0, 3 * 24 * 60),
       pause_for=st.integers(1, 3 * 24 * 60))
def test_a_pause_never_brings_the_due_instant_forward(
    svc: TicketType, office: BusinessCalendar, created: int, pause_at: int, pause_for: int
):
    start = datetime(2024, 6, 3, tzinfo=UTC) + timedelta(minutes=created)
    paused = start + timedelta(minutes=pause_at)
    resumed = paused + timedelta(minutes=pause_for)
    plain = schedule(svc, office, NORMAL, TicketTimes.of(start, [("review", start)]))
    with_pause = schedule(svc, office, NORMAL, TicketTimes.of(
        start, [("review", start), ("waiting", paused), ("review", resumed)]))
    before = plain.clock(SlaKind.RESOLUTION)
    after = with_pause.clock(SlaKind.RESOLUTION)
    assert before is not None
    assert after is not None
    assert before.due_at is not None
    assert after.due_at is not None
    assert after.due_at >= before.due_at
    assert after.why.business_minutes == after.why.target_minutes == 960
    counted = sum(office.business_minutes_between(s.start, s.end) for s in after.why.counted
                  if s.end is not None)
    assert counted == 960


def test_the_two_parts_of_a_schedule_are_its_dict(svc: TicketType, office: BusinessCalendar):
    result = schedule(svc, office, {"tier": "gold"},
                      times(("new", "Mon 09:00"), ("waiting", "Mon 10:00"), ("review", "Tue 09:00"),
                            customer_replied_at="Tue 10:00"))
    clocks, timers = result.to_dicts()
    assert {**clocks, "timers": timers} == result.to_dict()
    assert list(result.to_dict()) == ["target", "clocks", "timers"]
    assert clocks["clocks"] == [clock.to_dict() for clock in result.clocks]
    assert timers == [timer.to_dict() for timer in result.timers]


def test_equal_instants_in_two_zones_keep_their_own_text(svc: TicketType,
                                                        office: BusinessCalendar):
    # An instant is formatted once per dict; equal instants of two zones are two texts.
    clock = schedule(svc, office, HIGH, times(("new", "Mon 09:00"))).clocks[0]
    shanghai = clock.started_at.astimezone(ZoneInfo("Asia/Shanghai"))
    data = replace(clock, met_at=shanghai).to_dict()
    assert (data["started_at"], data["met_at"]) == ("2024-06-03T09:00:00+00:00",
                                                    "2024-06-03T17:00:00+08:00")
