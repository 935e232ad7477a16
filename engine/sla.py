"""SLA clocks, pure: due instants, warnings, breaches, escalations and stuck steps.

`schedule(ticket_type, calendar, values, times)` answers, from a ticket's field values
and the instants of its life (created, each state entered, first response, last
customer reply, last agent response):

* which target applies (the first in `sla.targets` whose `when` holds — so a priority
  change is simply a new call with the new values);
* for each clock (first response, next response, resolution) its status and due
  instant, its warning instant (`warn_before` ahead, in business time) and a `why`:
  the definition version, the target, the calendar, the business minutes counted in
  each running stretch, the pauses (states marked `sla: pause`) and the holidays
  skipped;
* the timers that should be pending now (warning, breach, escalations after a breach,
  stuck steps), each with a unique key, so the runtime can upsert them as rows and
  delete pending rows whose key is no longer listed.

Time in a `pause` state does not count; in a `stop` state (or a final one) the
resolution target is met, and a reopened ticket's clock continues where it stopped.
Durations count on the policy's calendar (`BusinessCalendar.minutes_of`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from engine.calendar import BusinessCalendar, DayOff, aware, is_utc
from engine.durations import Duration
from engine.errors import EvaluationError
from engine.model import (
    Escalation,
    EscalationTrigger,
    SlaMode,
    SlaPolicy,
    SlaTarget,
    TicketType,
)


class SlaKind(StrEnum):
    """The three clocks a target may set."""

    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class ClockStatus(StrEnum):
    RUNNING = "running"  # due_at is known; the breach timer is pending
    PAUSED = "paused"  # in a pausing state now: no due instant until it resumes
    MET = "met"  # met on time
    MET_LATE = "met_late"  # met after its due instant (it was breached)
    STOPPED = "stopped"  # the ticket was resolved or closed before the clock was met


class TimerKind(StrEnum):
    WARNING = "warning"
    BREACH = "breach"
    ESCALATION = "escalation"  # an escalation step `after` a breach or warning
    STUCK = "stuck"  # in one state longer than an escalation's `after`


_BREACH_TRIGGER = {
    SlaKind.FIRST_RESPONSE: EscalationTrigger.FIRST_RESPONSE_BREACH,
    SlaKind.NEXT_RESPONSE: EscalationTrigger.NEXT_RESPONSE_BREACH,
    SlaKind.RESOLUTION: EscalationTrigger.RESOLUTION_BREACH,
}


@dataclass(frozen=True, slots=True)
class StateEntry:
    state: str
    entered_at: datetime


@dataclass(frozen=True)
class TicketTimes:
    """The instants of a ticket's life that SLA clocks read (aware datetimes).

    `history` lists every state the ticket entered, in order, starting with the state it
    was created in. `customer_replied_at` is the customer's latest reply and
    `responded_at` the agents' latest response (a reply after the response starts the
    next-response clock)."""

    created_at: datetime
    history: tuple[StateEntry, ...] = ()
    first_response_at: datetime | None = None
    customer_replied_at: datetime | None = None
    responded_at: datetime | None = None

    @staticmethod
    def of(created_at: datetime, history: Sequence[tuple[str, datetime]],
           **instants: datetime | None) -> TicketTimes:
        """Build from plain `(state, entered_at)` pairs."""
        return TicketTimes(created_at, tuple(StateEntry(s, t) for s, t in history), **instants)


@dataclass(frozen=True, slots=True)
class Stretch:
    """A stretch of time in one state since the clock started; `minutes`: business
    minutes it counted towards the target (0 for pauses)."""

    state: str
    start: datetime
    end: datetime | None
    minutes: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return self._data(_Texts())

    def _data(self, iso: _Texts) -> dict[str, Any]:
        return {"state": self.state, "start": iso(self.start), "end": iso(self.end),
                "minutes": self.minutes}


@dataclass(frozen=True)
class SlaWhy:
    """Why a due instant is where it is; stored with the timer, shown on the timeline."""

    ticket_type: str
    version: int
    target: int
    target_pointer: str
    target_when: str | None
    duration: str
    target_minutes: int
    calendar: str
    timezone: str
    started_at: datetime
    counted: tuple[Stretch, ...]
    business_minutes: float
    pauses: tuple[Stretch, ...]
    days_off: tuple[DayOff, ...]

    def to_dict(self) -> dict[str, Any]:
        return self._data(_Texts())

    def _data(self, iso: _Texts) -> dict[str, Any]:
        return {
            "ticket_type": self.ticket_type, "version": self.version, "target": self.target,
            "target_pointer": self.target_pointer, "target_when": self.target_when,
            "duration": self.duration, "target_minutes": self.target_minutes,
            "calendar": self.calendar, "timezone": self.timezone,
            "started_at": iso(self.started_at),
            "counted": [s._data(iso) for s in self.counted],
            "business_minutes": self.business_minutes,
            "pauses": [s._data(iso) for s in self.pauses],
            "days_off": [d.to_dict() for d in self.days_off],
        }


@dataclass(frozen=True)
class SlaClock:
    """One clock of the ticket. `due_at`: when the target is (or was) used up — None
    while paused, or when it was met before; a running clock past its due instant is
    breached (the runtime compares with its clock). `warn_at` only while running."""

    kind: SlaKind
    status: ClockStatus
    started_at: datetime
    due_at: datetime | None
    warn_at: datetime | None
    met_at: datetime | None
    remaining_minutes: float  # business minutes left (paused: when it resumes)
    why: SlaWhy

    def to_dict(self) -> dict[str, Any]:
        return self._data(_Texts())

    def _data(self, iso: _Texts) -> dict[str, Any]:
        return {"kind": str(self.kind), "status": str(self.status),
                "started_at": iso(self.started_at), "due_at": iso(self.due_at),
                "warn_at": iso(self.warn_at), "met_at": iso(self.met_at),
                "remaining_minutes": self.remaining_minutes, "why": self.why._data(iso)}


@dataclass(frozen=True)
class Timer:
    """A pending timer: at `due_at`, record the event and take `escalations`' actions.
    `key` is unique per ticket and stable across recomputation."""

    kind: TimerKind
    due_at: datetime
    key: str
    clock: SlaKind | None = None
    state: str | None = None  # stuck timers: the state
    escalations: tuple[Escalation, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return self._data(_Texts())

    def _data(self, iso: _Texts) -> dict[str, Any]:
        return {"kind": str(self.kind), "due_at": iso(self.due_at), "key": self.key,
                "clock": None if self.clock is None else str(self.clock),
                "state": self.state, "escalations": [e.index for e in self.escalations]}


@dataclass(frozen=True)
class SlaSchedule:
    target: SlaTarget | None
    clocks: tuple[SlaClock, ...]
    timers: tuple[Timer, ...]

    def clock(self, kind: SlaKind) -> SlaClock | None:
        return next((c for c in self.clocks if c.kind is kind), None)

    def to_dict(self) -> dict[str, Any]:
        clocks, timers = self.to_dicts()
        clocks["timers"] = timers
        return clocks

    def to_dicts(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """`to_dict()` in two parts, for a caller that keeps them apart (the runtime stores
        the clocks on the ticket and each timer with its row): `{"target", "clocks"}` and
        the timers' dicts."""
        iso = _Texts()
        return ({"target": None if self.target is None else self.target.index,
                 "clocks": [c._data(iso) for c in self.clocks]},
                [t._data(iso) for t in self.timers])


class _Texts:
    """`isoformat()` of instants, each instant object formatted once per serialisation: a
    schedule names the same few instants many times (a clock's start is also its why's
    and its first stretch's; its due instant ends the last stretch and names a timer)."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        # By identity, not equality: equal instants in two zones read differently. The
        # value keeps the instant alive, so its id cannot be reused meanwhile.
        self._seen: dict[int, tuple[datetime, str]] = {}

    def __call__(self, instant: datetime | None) -> str | None:
        if instant is None:
            return None
        found = self._seen.get(id(instant))
        if found is None:
            found = self._seen[id(instant)] = (instant, instant.isoformat())
        return found[1]


# --- the questions ---------------------------------------------------------------------------

def select_target(ticket_type: TicketType, values: Mapping[str, Any]) -> SlaTarget | None:
    """The first target whose `when` holds (one that cannot be evaluated does not)."""
    policy = ticket_type.sla_policy
    for target in policy.targets if policy else ():
        try:
            if target.when is None or target.when.holds(values):
                return target
        except EvaluationError:
            continue
    return None


def raised_priority(ticket_type: TicketType, values: Mapping[str, Any]) -> str | None:
    """The next option of the priority field after the ticket's (None: already the
    highest, no priority set, or no priority field)."""
    name = ticket_type.priority_field
    if name is None:
        return None
    options = [option.value for option in ticket_type.field_by_id[name].options]
    current = values.get(name)
    if current not in options or options.index(current) == len(options) - 1:
        return None
    return options[options.index(current) + 1]


def schedule(
    ticket_type: TicketType,
    calendar: BusinessCalendar,
    values: Mapping[str, Any],
    times: TicketTimes,
) -> SlaSchedule:
    """Clocks and pending timers of a ticket (pass the calendar named by
    `ticket_type.sla_policy.calendar`)."""
    policy = ticket_type.sla_policy
    if policy is None:
        return SlaSchedule(None, (), ())
    rules = _rules(ticket_type, policy)
    times = _in_utc(times)
    target = select_target(ticket_type, values)
    stretches = _stretches(ticket_type, times)
    clocks = []
    if target is not None:
        warn_before = (calendar.minutes_of(policy.warn_before) if policy.warn_before
                       else None)
        for kind in _KINDS:
            clock = _clock(ticket_type, rules, calendar, target, kind, warn_before, times,
                           stretches)
            if clock is not None:
                clocks.append(clock)
    timers = [timer for clock in clocks for timer in _clock_timers(rules, calendar, clock)]
    timers += _stuck_timers(ticket_type, rules, calendar, stretches[-1])
    return SlaSchedule(target, tuple(clocks), tuple(sorted(timers, key=_timer_order)))


def _timer_order(timer: Timer) -> tuple[datetime, str]:
    return timer.due_at, timer.key


# --- what a ticket type's clocks read, derived once ----------------------------------------

_KINDS = tuple(SlaKind)
_MINUTE = timedelta(minutes=1)
_RULES = "sla-rules"  # the key of `_Rules` in `TicketType.memo`


@dataclass(frozen=True, slots=True)
class _Rules:
    """A ticket type's states and escalation steps as `schedule` asks about them: every
    ticket's clocks ask the same questions of the same immutable type."""

    modes: Mapping[str, SlaMode]  # each state's clock mode (final states stop)
    at: Mapping[EscalationTrigger, tuple[Escalation, ...]]  # steps with no `after`
    later: Mapping[EscalationTrigger, tuple[Escalation, ...]]  # steps with an `after`
    stuck: tuple[Escalation, ...]  # `stuck` steps with an `after`


def _rules(ticket_type: TicketType, policy: SlaPolicy) -> _Rules:
    found = ticket_type.memo.get(_RULES)
    if found is None:
        at: dict[EscalationTrigger, tuple[Escalation, ...]] = {}
        later: dict[EscalationTrigger, tuple[Escalation, ...]] = {}
        for step in policy.escalations:
            group = at if step.after is None else later
            group[step.on] = (*group.get(step.on, ()), step)
        stuck = tuple(step for step in policy.escalations
                      if step.on is EscalationTrigger.STUCK and step.after is not None)
        modes = {state.id: SlaMode.STOP if state.final else state.sla
                 for state in ticket_type.states}
        # Built twice by two threads at worst: the same value either way.
        found = ticket_type.memo[_RULES] = _Rules(modes, at, later, stuck)
    return found


# --- clocks ----------------------------------------------------------------------------------

def _mode(modes: Mapping[str, SlaMode], state: str) -> SlaMode:
    return modes.get(state, SlaMode.RUN)  # a state of an older version: count it


def _is_utc(instant: datetime | None) -> bool:
    return instant is None or is_utc(instant)


def _in_utc(times: TicketTimes) -> TicketTimes:
    # One zone for every instant, so timer keys and the why read the same however the
    # caller's datetimes were zoned. The runtime's are UTC already: kept as they are
    # (astimezone would return each unchanged).
    if (_is_utc(times.created_at) and _is_utc(times.first_response_at)
            and _is_utc(times.customer_replied_at) and _is_utc(times.responded_at)
            and all(_is_utc(entry.entered_at) for entry in times.history)):
        return times

    def utc(instant: datetime | None) -> datetime | None:
        return None if instant is None else aware(instant).astimezone(UTC)

    return TicketTimes(
        utc(times.created_at),  # type: ignore[arg-type]
        tuple(StateEntry(e.state, aware(e.entered_at).astimezone(UTC)) for e in times.history),
        utc(times.first_response_at), utc(times.customer_replied_at), utc(times.responded_at))


def _stretches(ticket_type: TicketType, times: TicketTimes) -> tuple[Stretch, ...]:
    history = times.history or (StateEntry(ticket_type.initial_state.id, times.created_at),)
    ends = [entry.entered_at for entry in history[1:]] + [None]
    return tuple(Stretch(entry.state, entry.entered_at, end) for entry, end in zip(history, ends,
                                                                                   strict=True))


def _clock(ticket_type: TicketType, rules: _Rules, calendar: BusinessCalendar,
           target: SlaTarget, kind: SlaKind, warn_before: int | None, times: TicketTimes,
           stretches: tuple[Stretch, ...]) -> SlaClock | None:
    duration: Duration | None = getattr(target, str(kind))
    if duration is None:
        return None
    modes = rules.modes
    start, met = _start_and_met(modes, kind, times, stretches)
    if start is None:
        return None
    minutes = calendar.minutes_of(duration)
    window = _window(stretches, start, met)
    available: dict[int, timedelta] = {}  # business time of closed stretches, asked once
    due, counted, left = _reach(modes, calendar, window, timedelta(minutes=minutes),
                                available)
    warn = None
    if warn_before is not None and warn_before < minutes:
        early = timedelta(minutes=minutes - warn_before)
        warn = _reach(modes, calendar, window, early, available)[0]
    status = _status(modes, stretches, due, met)
    pauses = tuple(s for s in window if _mode(modes, s.state) is not SlaMode.RUN
                   and (due is None or s.start < due))
    last = due or met or (window[-1].start if window else start)
    why = SlaWhy(
        ticket_type=ticket_type.id, version=ticket_type.version, target=target.index,
        target_pointer=target.pointer,
        target_when=target.when.source if target.when else None, duration=duration.text,
        target_minutes=minutes, calendar=calendar.id, timezone=calendar.timezone,
        started_at=start, counted=counted,
        business_minutes=sum(s.minutes for s in counted), pauses=pauses,
        days_off=calendar.days_off_between(start, max(last, start)),
    )
    # A stopped clock keeps the due instant it passed before the ticket was resolved.
    return SlaClock(kind, status, start, due, warn if status is ClockStatus.RUNNING else None,
                    met, left / _MINUTE, why)


def _start_and_met(
    modes: Mapping[str, SlaMode], kind: SlaKind, times: TicketTimes,
    stretches: tuple[Stretch, ...]
) -> tuple[datetime | None, datetime | None]:
    if kind is SlaKind.FIRST_RESPONSE:
        return times.created_at, times.first_response_at
    if kind is SlaKind.NEXT_RESPONSE:
        reply = times.customer_replied_at
        if reply is None:
            return None, None
        answered = times.responded_at if times.responded_at and times.responded_at >= reply \
            else None
        return reply, answered
    current = stretches[-1]
    resolved = _mode(modes, current.state) is SlaMode.STOP
    return times.created_at, current.start if resolved else None


def _window(stretches: tuple[Stretch, ...], start: datetime,
            met: datetime | None) -> tuple[Stretch, ...]:
    """The stretches between the clock's start and the instant it was met."""
    window = []
    for stretch in stretches:
        lo = max(stretch.start, start)
        hi = stretch.end if met is None else min(stretch.end or met, met)
        if hi is not None and hi <= lo:
            continue
        window.append(Stretch(stretch.state, lo, hi))
    if not window and met is None:
        # The clock started after the last state change (a reply): count from there.
        window.append(Stretch(stretches[-1].state, start, None))
    return tuple(window)


def _reach(modes: Mapping[str, SlaMode], calendar: BusinessCalendar,
           window: tuple[Stretch, ...], amount: timedelta, available: dict[int, timedelta]
           ) -> tuple[datetime | None, tuple[Stretch, ...], timedelta]:
    """Where `amount` of business time is used up along the running stretches (None: not
    within the window), the minutes each stretch counted, and what is left. `available`
    remembers the business time of the window's closed stretches between calls."""
    remaining, counted = amount, []
    for index, stretch in enumerate(window):
        if _mode(modes, stretch.state) is not SlaMode.RUN:
            continue
        if stretch.end is not None:
            length = available.get(index)
            if length is None:
                length = available[index] = calendar.business_time_between(stretch.start,
                                                                            stretch.end)
            if length < remaining:
                remaining -= length
                counted.append(_counted(stretch, stretch.end, length))
                continue
        due = calendar.due_after(stretch.start, remaining)
        counted.append(_counted(stretch, due, remaining))
        return due, tuple(counted), timedelta(0)
    return None, tuple(counted), remaining


def _counted(stretch: Stretch, end: datetime, used: timedelta) -> Stretch:
    return Stretch(stretch.state, stretch.start, end, used / _MINUTE)


def _status(modes: Mapping[str, SlaMode], stretches: tuple[Stretch, ...],
            due: datetime | None, met: datetime | None) -> ClockStatus:
    if met is not None:
        return ClockStatus.MET_LATE if due is not None and due < met else ClockStatus.MET
    mode = _mode(modes, stretches[-1].state)
    if mode is SlaMode.STOP:
        return ClockStatus.STOPPED
    if due is None:
        return ClockStatus.PAUSED
    return ClockStatus.RUNNING


# --- timers ----------------------------------------------------------------------------------

def _clock_timers(rules: _Rules, calendar: BusinessCalendar, clock: SlaClock) -> list[Timer]:
    if clock.status is not ClockStatus.RUNNING or clock.due_at is None:
        return []
    # A next-response clock starts afresh with every customer reply: its keys say which.
    base = str(clock.kind) + (f"@{clock.started_at.isoformat()}"
                              if clock.kind is SlaKind.NEXT_RESPONSE else "")
    timers: list[Timer] = []
    triggers = [(TimerKind.BREACH, clock.due_at, _BREACH_TRIGGER[clock.kind])]
    if clock.warn_at is not None:
        triggers.append((TimerKind.WARNING, clock.warn_at, EscalationTrigger.WARNING))
    for kind, instant, trigger in triggers:
        key = f"{base}:{kind}"
        timers.append(Timer(kind, instant, key, clock.kind, None, rules.at.get(trigger, ())))
        for step in rules.later.get(trigger, ()):
            timers.append(Timer(TimerKind.ESCALATION, _after(calendar, instant, step),
                                f"{key}:escalate{step.index}", clock.kind, None, (step,)))
    return timers


def _after(calendar: BusinessCalendar, instant: datetime, step: Escalation) -> datetime:
    """When a delayed escalation step fires: its `after` in business time past `instant`
    (`_Rules` holds only steps that have one)."""
    assert step.after is not None
    return calendar.due_after(instant, timedelta(minutes=calendar.minutes_of(step.after)))


def _stuck_timers(ticket_type: TicketType, rules: _Rules, calendar: BusinessCalendar,
                  current: Stretch) -> list[Timer]:
    state = ticket_type.state_by_id.get(current.state)
    if state is None or state.final:
        return []
    timers = []
    for step in rules.stuck:
        if step.in_state is not None and step.in_state != current.state:
            continue
        due = _after(calendar, current.start, step)
        key = f"stuck:{current.state}@{current.start.isoformat()}:escalate{step.index}"
        timers.append(Timer(TimerKind.STUCK, due, key, None, current.state, (step,)))
    return timers
