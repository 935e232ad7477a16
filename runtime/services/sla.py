"""SLA clocks of tickets: the runtime half of `engine.sla`.

Whenever something a clock depends on changes — a ticket is created, changes state,
gets a staff response or a customer reply, or has its fields changed (a priority) —
the ticket's services call `refresh` in the same transaction. It asks the engine for the
clocks (due instants with their why: the target, the calendar, the business minutes
counted, the pauses and the days off) and for the timers that should be pending, stores
the clocks on the ticket (`tickets.sla`, and the earliest breach instant still to come
in `tickets.sla_due_at`, indexed for breach views) and makes the ticket's timers that
set, as a sequence: one armed row carrying the rest (`timers.sync`: a fired key stays
fired, so nothing fires twice).

The worker fires the timers through the handlers at the bottom: a warning or a breach
is an event on the timeline and a notice to whoever holds the ticket; escalation steps
notify or copy roles, raise the priority (the clocks are then recomputed), move the
ticket to another team's queue, or fire a named transition as the system.

Keys are `sla:<number>:<engine key>`; the timer's payload keeps the engine's timer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, select
from sqlalchemy.orm import Session

from engine.calendar import ALWAYS, BusinessCalendar
from engine.model import Escalation, TicketType
from engine.sla import ClockStatus, SlaSchedule, TicketTimes, raised_priority, schedule
from engine.sla import TimerKind as EngineTimer
from runtime import policy
from runtime.catalog import compiled_version
from runtime.context import Request
from runtime.db import Database
from runtime.models import (
    Event,
    EventKind,
    NoticeKind,
    Role,
    Team,
    Ticket,
    Timer,
    TimerKind,
    TimerState,
    User,
)
from runtime.prepared import Prepared
from runtime.services import notify, timers
from runtime.services.calendars import calendar_for
from runtime.services.errors import NotFound, ServiceError
from runtime.services.events import record_system

RUNTIME_KIND = {
    EngineTimer.WARNING: TimerKind.SLA_WARNING,
    EngineTimer.BREACH: TimerKind.SLA_BREACH,
    EngineTimer.ESCALATION: TimerKind.ESCALATION,
    EngineTimer.STUCK: TimerKind.SLA_STUCK,
}
STATE_CHANGES = (EventKind.CREATED, EventKind.TRANSITIONED, EventKind.REOPENED,
                 EventKind.CLOSED)
CLOCK_LABELS = {"first_response": {"en": "First response", "zh": "首次响应"},
                "next_response": {"en": "Next response", "zh": "再次响应"},
                "resolution": {"en": "Resolution", "zh": "解决时限"}}
AT_RISK_HORIZON = timedelta(hours=2)
MAX_AT_RISK = 100


def prefix(number: str) -> str:
    """The key prefix of a ticket's SLA timers."""
    return f"sla:{number}:"


# --- computing the clocks ----------------------------------------------------------------


@dataclass(frozen=True)
class Computed:
    """What `compute` decided: the clocks to store, the earliest breach to come and the
    timers that should be pending."""

    sla: dict[str, Any] | None
    due_at: datetime | None
    planned: list[timers.Planned]


def _calendar(executor: Session | Connection, key: str) -> tuple[BusinessCalendar, bool]:
    try:
        return calendar_for(executor, key), False
    except NotFound:
        # A definition may name a calendar this installation lacks: count around the clock
        # rather than not at all, and say so in the clocks' data.
        return ALWAYS, True


def compute(executor: Session | Connection, ticket_type: TicketType, number: str,
            values: dict[str, Any], times: TicketTimes) -> Computed:
    """The clocks and timers of a ticket from its values and the instants of its life."""
    sla_policy = ticket_type.sla_policy
    if sla_policy is None:
        return Computed(None, None, [])
    calendar, missing = _calendar(executor, sla_policy.calendar)
    plan: SlaSchedule = schedule(ticket_type, calendar, values, times)
    # The clocks are what pages read; the timers go to their rows, each with its own dict.
    data, timer_data = plan.to_dicts()
    if missing:
        data["calendar_missing"] = sla_policy.calendar
    running = [clock.due_at for clock in plan.clocks
               if clock.status is ClockStatus.RUNNING and clock.due_at is not None]
    keys = prefix(number)
    planned = [timers.Planned(RUNTIME_KIND[timer.kind], keys + timer.key, timer.due_at,
                              {"timer": item})
               for timer, item in zip(plan.timers, timer_data, strict=True)]
    return Computed(data, min(running, default=None), planned)


def schedule_new(connection: Connection, ticket_id: int, computed: Computed,
                 now: datetime) -> None:
    """The timers of a ticket created in this transaction: it has none yet, so one insert
    of the first, carrying the rest (`timers.in_sequence`; the creation hot path skips
    `timers.sync`'s lookups)."""
    head = timers.in_sequence(computed.planned)
    if head is not None:
        _INSERT_TIMER.execute(connection, {
            "ticket_id": ticket_id, "kind": str(head.kind), "key": head.key,
            "due_at": head.due_at, "payload": head.payload, "state": _PENDING,
            "attempts": 0, "created_at": now})


_PENDING = str(TimerState.PENDING)
_INSERT_TIMER = Prepared(insert(Timer))

_HISTORY = (select(Event.kind, Event.at, Event.data)
            .where(Event.ticket_id == bindparam("ticket"),
                   Event.kind.in_([str(kind) for kind in STATE_CHANGES]))
            .order_by(Event.id))


def history(session: Session, ticket_id: int) -> list[tuple[str, datetime]]:
    """The states a ticket entered, in order, with their instants (from its events)."""
    found = []
    for kind, at, data in session.execute(_HISTORY, {"ticket": ticket_id}):
        state = data.get("state") if kind == EventKind.CREATED else data.get("to")
        if isinstance(state, str) and (not found or found[-1][0] != state):
            found.append((state, at))
    return found


def times_of(ticket: Ticket, states: list[tuple[str, datetime]]) -> TicketTimes:
    """The instants of a ticket's life the engine's clocks read."""
    return TicketTimes.of(ticket.created_at, states or [(ticket.state, ticket.created_at)],
                          first_response_at=ticket.first_response_at,
                          customer_replied_at=ticket.customer_replied_at,
                          responded_at=ticket.responded_at)


def refresh(session: Session, ticket: Ticket, ticket_type: TicketType, now: datetime,
            entered: str | None = None) -> None:
    """Recompute a ticket's clocks and make its pending timers match (same transaction).

    Call it after changing the ticket and before recording the change's event, with
    `entered` the state a transition is moving it into: the ticket row is then written
    once, so its version moves by one per change."""
    if ticket_type.sla_policy is None and ticket.sla is None:
        return
    with session.no_autoflush:
        states = history(session, ticket.id)
        if entered is not None:
            states.append((entered, now))
        computed = compute(session, ticket_type, ticket.number, ticket.data,
                           times_of(ticket, states))
    ticket.sla, ticket.sla_due_at = computed.sla, computed.due_at
    timers.sync(session, prefix=prefix(ticket.number), planned=computed.planned, now=now,
                ticket_id=ticket.id)


def note_activity(ticket: Ticket, request: Request, *, public: bool) -> None:
    """Record what the response clocks count: a staff member's first and latest public
    response, a customer's latest reply. Internal notes count for nothing."""
    if not public:
        return
    if request.actor.user_id == ticket.requester_id and not request.actor.is_staff:
        ticket.customer_replied_at = request.now
    elif request.actor.is_staff:
        ticket.first_response_at = ticket.first_response_at or request.now
        ticket.responded_at = request.now


# --- showing them --------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockView:
    """One clock as pages and the API show it: status running, warning (its warning
    instant passed), breached, paused, met, met_late or stopped."""

    kind: str
    label: str
    status: str
    due_at: datetime | None
    warn_at: datetime | None
    met_at: datetime | None
    # Why the due instant is where it is: the target, the calendar, the business minutes
    # counted, the pauses and the days off skipped (the engine's `SlaWhy`).
    why: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "status": self.status,
                "due_at": _iso(self.due_at), "warn_at": _iso(self.warn_at),
                "met_at": _iso(self.met_at), "why": self.why}


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None


def _instant(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def clock_views(sla_data: dict[str, Any] | None, now: datetime, language: str
                ) -> list[ClockView]:
    """The stored clocks as of `now` (a running clock turns `warning`, then `breached`)."""
    views = []
    for clock in (sla_data or {}).get("clocks", ()):
        due, warn = _instant(clock.get("due_at")), _instant(clock.get("warn_at"))
        status = clock.get("status", "running")
        if status == ClockStatus.RUNNING and due is not None and now >= due:
            status = "breached"
        elif status == ClockStatus.RUNNING and warn is not None and now >= warn:
            status = "warning"
        label = CLOCK_LABELS.get(clock["kind"], {}).get(language, clock["kind"])
        views.append(ClockView(clock["kind"], label, status, due, warn,
                               _instant(clock.get("met_at")), clock.get("why")))
    return views


# From the most to the least pressing: what one mark for all of a ticket's clocks says.
_URGENCY = ("breached", "met_late", "warning", "running", "paused", "met", "stopped")


def overall_status(clocks: list[ClockView]) -> str | None:
    """The most pressing status among a ticket's clocks (None without clocks): a list
    shows one mark per ticket."""
    found = {clock.status for clock in clocks}
    return next((status for status in _URGENCY if status in found), None)


@dataclass(frozen=True)
class AtRisk:
    """A ticket whose next breach is near or past, for the supervisor's list."""

    number: str
    title: str
    kind: str
    label: str
    status: str
    due_at: datetime


def at_risk(db: Database, request: Request, horizon: timedelta = AT_RISK_HORIZON
            ) -> list[AtRisk]:
    """Open tickets the actor may see that breached or breach within `horizon`, the most
    urgent first (supervisors and admins)."""
    if not policy.can_supervise(request.actor):
        return []
    with db.read() as session:
        rows = session.execute(
            select(Ticket.number, Ticket.title, Ticket.sla, Ticket.sla_due_at)
            .where(policy.visible_tickets(request.actor), Ticket.closed_at.is_(None),
                   and_(Ticket.sla_due_at.is_not(None),
                        Ticket.sla_due_at <= request.now + horizon))
            .order_by(Ticket.sla_due_at).limit(MAX_AT_RISK)).all()
    found = []
    for row in rows:
        clocks = [view for view in clock_views(row.sla, request.now, request.actor.language)
                  if view.due_at == row.sla_due_at]
        clock = clocks[0] if clocks else None
        found.append(AtRisk(row.number, row.title, clock.kind if clock else "",
                            clock.label if clock else "",
                            clock.status if clock else "running", row.sla_due_at))
    return found


# --- firing (the worker) -----------------------------------------------------------------


NOTICES = {TimerKind.SLA_WARNING: (EventKind.SLA_WARNING, NoticeKind.SLA_WARNING),
           TimerKind.SLA_BREACH: (EventKind.SLA_BREACHED, NoticeKind.SLA_BREACH),
           TimerKind.ESCALATION: (EventKind.ESCALATED, None),
           TimerKind.SLA_STUCK: (EventKind.ESCALATED, None)}


def _fire(session: Session, firing: timers.Firing) -> None:
    ticket = session.get(Ticket, firing.ticket_id) if firing.ticket_id else None
    timer = firing.payload.get("timer") or {}
    if ticket is None or ticket.closed_at is not None:
        return  # closed since: nothing to warn about (the timer is recorded as fired)
    if timer.get("state") is not None and timer["state"] != ticket.state:
        return  # a stuck step for a state the ticket has left
    ticket_type = compiled_version(session, ticket.definition_version_id).ticket_type
    event_kind, notice = NOTICES[TimerKind(firing.kind)]
    clock = timer.get("clock")
    event = record_system(session, event_kind, {
        "clock": clock, "due_at": firing.due_at.isoformat(), "timer": timer.get("kind"),
        "state": timer.get("state"), "escalations": timer.get("escalations", [])},
        now=firing.now, ticket_id=ticket.id)
    if notice is not None:
        label = CLOCK_LABELS.get(clock or "", {})
        for user in _holders(session, ticket):
            notify.tell(session, user, notice, now=firing.now, ticket=ticket,
                        ticket_type=ticket_type, event_id=event.id,
                        params={"target": dict(label) or clock or "",
                                "due": firing.due_at.isoformat(timespec="minutes")})
    steps = ticket_type.sla_policy.escalations if ticket_type.sla_policy else ()
    by_index = {step.index: step for step in steps}
    for index in timer.get("escalations", []):
        if index in by_index:
            _escalate(session, ticket, ticket_type, by_index[index], firing, event.id)


def _holders(session: Session, ticket: Ticket) -> list[User | notify.Recipient]:
    """Who holds a ticket: its assignee, else the staff of its team."""
    if ticket.assignee_id is not None:
        user = session.get(User, ticket.assignee_id)
        return [user] if user is not None else []
    if ticket.team_id is not None:
        return notify.team_staff(session, ticket.team_id)
    return []


def _people(session: Session, ticket: Ticket, roles: Iterable[str]
            ) -> list[User | notify.Recipient]:
    """The users who hold these roles on the ticket. Roles a definition invents (e.g.
    production_manager) are held by the supervisors of the ticket's team."""
    found: dict[int, User | notify.Recipient] = {}
    for role in roles:
        users: Sequence[User | notify.Recipient | None]
        if role == "assignee":
            users = [session.get(User, ticket.assignee_id)] if ticket.assignee_id else []
        elif role == "requester":
            users = [session.get(User, ticket.requester_id)] if ticket.requester_id else []
        elif role == "admin":
            users = list(session.scalars(select(User).where(User.role == str(Role.ADMIN),
                                                            User.active)))
        elif ticket.team_id is None:
            users = []
        elif role == "agent":
            users = notify.team_staff(session, ticket.team_id, roles=(Role.AGENT,))
        else:
            users = notify.team_staff(session, ticket.team_id, roles=(Role.SUPERVISOR,))
        found.update({user.id: user for user in users if user is not None})
    return list(found.values())


def _escalate(session: Session, ticket: Ticket, ticket_type: TicketType, step: Escalation,
              firing: timers.Firing, event_id: int) -> None:
    """Take one escalation step's actions; what changed the ticket is an event."""
    for user in _people(session, ticket, (*step.notify, *step.copy)):
        notify.tell(session, user, NoticeKind.ESCALATION, now=firing.now, ticket=ticket,
                    ticket_type=ticket_type, event_id=event_id, params={})
    changes: dict[str, Any] = {}
    if step.raise_priority and ticket_type.priority_field:
        higher = raised_priority(ticket_type, ticket.data)
        if higher is not None:
            field = ticket_type.priority_field
            changes["priority"] = [ticket.data.get(field), higher]
            ticket.data = {**ticket.data, field: higher}
    if step.reassign_to:
        team = session.scalar(select(Team).where(Team.key == step.reassign_to))
        if team is None:  # publishing warned of it; the timeline says it again
            record_system(session, EventKind.ESCALATED, {
                "step": step.index, "reassign_to": step.reassign_to,
                "refused": "unknown-team"}, now=firing.now, ticket_id=ticket.id)
        elif team.id != ticket.team_id:
            changes["team"] = step.reassign_to
            ticket.team_id, ticket.assignee_id = team.id, None
            for user in notify.team_staff(session, team.id):
                notify.tell(session, user, NoticeKind.TEAM_ASSIGNED, now=firing.now,
                            ticket=ticket, ticket_type=ticket_type, event_id=event_id,
                            params={"by": "SLA", "team": team.key})
    if changes:
        ticket.updated_at = firing.now
        refresh(session, ticket, ticket_type, firing.now)
        record_system(session, EventKind.ESCALATED, {"step": step.index, "changes": changes},
                      now=firing.now, ticket_id=ticket.id)
    if step.transition:
        _advance(session, ticket, step, firing)


def _advance(session: Session, ticket: Ticket, step: Escalation,
             firing: timers.Firing) -> None:
    from runtime.services import tickets  # the ticket services call this module

    try:
        with session.begin_nested():
            tickets.fire_as_system(session, ticket, step.transition or "", firing.now)
    except ServiceError as error:
        # The step form needs what nobody filled in, say: the timeline tells staff.
        record_system(session, EventKind.ESCALATED, {
            "step": step.index, "transition": step.transition, "refused": error.code,
            "message": error.message}, now=firing.now, ticket_id=ticket.id)


for _kind in NOTICES:
    timers.handler(_kind)(_fire)
