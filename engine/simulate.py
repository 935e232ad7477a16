"""Dry runs: take a ticket through a definition and report every step.

Two modes:

* explicit steps — "create with these values, then fire `checked` as an agent with
  these values, ..." — each step decided exactly as the runtime would;
* automatic — given one set of field values, create the ticket and keep firing the
  first transition (in definition order, not yet taken from that state) whose step
  form and requirements those values satisfy, until a final state or until stuck.

`outlook` adds what the runtime would do about the ticket: the routing decision (given
candidate agents per team) and the SLA clocks and timers (given a calendar and the
instant of creation, and optionally the instant of each step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.assignment import AssignmentDecision, Candidate, Outcome, decide_assignment
from engine.calendar import ALWAYS, BusinessCalendar
from engine.errors import Problem
from engine.flow import Refusal
from engine.forms import Decision, decide, form_for
from engine.model import Escalation, TicketType
from engine.sla import SlaSchedule, StateEntry, TicketTimes, schedule

MAX_STEPS = 50


@dataclass(frozen=True)
class StepRequest:
    """One thing to do to the ticket: fire `transition` (None: a plain update)."""

    transition: str | None
    values: Mapping[str, Any] = field(default_factory=dict)
    roles: frozenset[str] | None = None
    at: datetime | None = None  # when it happens (SLA outlook); None: with the step before


@dataclass(frozen=True)
class StepResult:
    number: int
    state_before: str
    transition: str | None
    state_after: str
    form: tuple[str, ...]
    visible: tuple[str, ...]
    required: tuple[str, ...]
    branch_condition: str | None
    problems: tuple[Problem, ...]
    refusal: Refusal | None
    at: datetime | None = None
    # The field values the step produced: routing reads those the ticket was created with.
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and self.refusal is None


@dataclass(frozen=True)
class Simulation:
    steps: tuple[StepResult, ...]
    final_state: str
    values: Mapping[str, Any]
    finished: bool
    stuck_reason: str | None = None

    @property
    def path(self) -> tuple[str, ...]:
        """States visited, in order, starting with the initial state."""
        visited = [self.steps[0].state_before] if self.steps else []
        visited += [step.state_after for step in self.steps if step.ok]
        return tuple(visited)


def _step_result(
    number: int, state: str, transition: str | None, decision: Decision,
    at: datetime | None = None,
) -> StepResult:
    after = decision.target_state if decision.ok and decision.target_state else state
    return StepResult(
        number=number,
        state_before=state,
        transition=transition,
        state_after=after,
        form=decision.form,
        visible=tuple(sorted(decision.visible)),
        required=tuple(sorted(decision.required)),
        branch_condition=decision.branch.condition if decision.branch else None,
        problems=decision.problems,
        refusal=decision.refusal,
        at=at,
        values=decision.values,
    )


def run_steps(
    ticket_type: TicketType,
    creation: StepRequest,
    steps: Sequence[StepRequest] = (),
    *,
    default_roles: Iterable[str] = ("requester",),
    language: str = "en",
    preset: Mapping[str, Any] | None = None,
) -> Simulation:
    """Create a ticket and apply each step in turn; stop at the first step that fails.

    `preset`: values the runtime sets on creation (e.g. a repeat flag), as in the runtime.
    """
    roles = frozenset(default_roles)
    state = ticket_type.initial_state.id
    decision = decide(ticket_type, dict(creation.values), roles=creation.roles or roles,
                      current=preset, creating=True, transition=creation.transition,
                      language=language)
    results = [_step_result(1, state, creation.transition, decision, creation.at)]
    if not decision.ok:
        return Simulation(tuple(results), state, decision.values, False, "creation failed")
    values, state = dict(decision.values), results[-1].state_after
    for number, request in enumerate(steps, start=2):
        decision = decide(ticket_type, dict(request.values), roles=request.roles or roles,
                          current=values, state=state, transition=request.transition,
                          language=language)
        results.append(_step_result(number, state, request.transition, decision, request.at))
        if not decision.ok:
            return Simulation(tuple(results), state, values, False,
                              f"step {number} ({request.transition}) failed")
        values, state = dict(decision.values), results[-1].state_after
    final = ticket_type.state_by_id[state].final
    return Simulation(tuple(results), state, values, final)


def run_auto(
    ticket_type: TicketType, data: Mapping[str, Any], *, language: str = "en",
    preset: Mapping[str, Any] | None = None,
) -> Simulation:
    """Follow the path a ticket with these field values takes (every role may act).

    `preset`: values the runtime sets on creation (e.g. a repeat flag), as in the runtime.
    """
    roles = ticket_type.roles
    state = ticket_type.initial_state.id
    creators = [t.id for t in ticket_type.transitions if state in t.sources] or [None]
    results: list[StepResult] = []
    decision: Decision | None = None
    for transition in creators:
        submission = _for_form(ticket_type, data, state, transition, roles, creating=True)
        decision = decide(ticket_type, submission, roles=roles, creating=True,
                          current=preset, transition=transition, language=language)
        results = [_step_result(1, state, transition, decision)]
        if decision.ok:
            break
    assert decision is not None
    if not decision.ok:
        return Simulation(tuple(results), state, decision.values, False, "creation failed")
    values, state = dict(decision.values), results[-1].state_after
    taken: set[tuple[str, str]] = set()
    visited = {ticket_type.initial_state.id, state}
    while not ticket_type.state_by_id[state].final and len(results) < MAX_STEPS:
        attempt = _first_possible(ticket_type, data, values, state, taken, visited, language)
        if attempt is None:
            return Simulation(tuple(results), state, values, False,
                              f"no transition out of '{state}' can be fired with this data")
        transition, decision = attempt
        taken.add((state, transition))
        results.append(_step_result(len(results) + 1, state, transition, decision))
        values, state = dict(decision.values), results[-1].state_after
        visited.add(state)
    final = ticket_type.state_by_id[state].final
    return Simulation(tuple(results), state, values, final,
                      None if final else f"stopped after {MAX_STEPS} steps")


def _first_possible(
    ticket_type: TicketType,
    data: Mapping[str, Any],
    values: Mapping[str, Any],
    state: str,
    taken: set[tuple[str, str]],
    visited: set[str],
    language: str,
) -> tuple[str, Decision] | None:
    roles = ticket_type.roles
    candidates = [t for t in ticket_type.transitions
                  if state in t.sources and (state, t.id) not in taken]
    # Moving on towards a final state through states not seen yet comes first, so a
    # detour ("ask the customer") is not mistaken for the main path.
    distance = _steps_to_final(ticket_type)
    candidates.sort(key=lambda t: (all(target in visited for target in t.targets),
                                   min(distance.get(target, MAX_STEPS) for target in t.targets)))
    for transition in candidates:
        submission = _for_form(ticket_type, data, state, transition.id, roles)
        decision = decide(ticket_type, submission, roles=roles, current=values, state=state,
                          transition=transition.id, language=language)
        if decision.ok:
            return transition.id, decision
    return None


def _steps_to_final(ticket_type: TicketType) -> dict[str, int]:
    """Fewest transitions from each state to a final state."""
    distance = {state.id: 0 for state in ticket_type.states if state.final}
    frontier = list(distance)
    while frontier:
        following = []
        for transition in ticket_type.transitions:
            if any(target in frontier for target in transition.targets):
                for source in transition.sources:
                    if source not in distance:
                        distance[source] = distance[next(
                            t for t in transition.targets if t in frontier)] + 1
                        following.append(source)
        frontier = following
    return distance


def _for_form(
    ticket_type: TicketType,
    data: Mapping[str, Any],
    state: str,
    transition: str | None,
    roles: frozenset[str],
    *,
    creating: bool = False,
) -> dict[str, Any]:
    form = form_for(ticket_type, state=state, transition=transition, roles=roles,
                    creating=creating)
    return {name: data[name] for name in form if name in data}


def describe(simulation: Simulation, ticket_type: TicketType, language: str = "en") -> str:
    """A readable report of a simulation, one block per step."""
    lines = []
    for step in simulation.steps:
        action = step.transition or ("create" if step.number == 1 else "update")
        arrow = f"{step.state_before} --{action}--> {step.state_after}"
        lines.append(f"{step.number}. {arrow}" + ("" if step.ok else "   [not possible]"))
        if step.branch_condition:
            lines.append(f"   branch: {step.branch_condition}")
        shown = [f"{name}*" if name in step.required else name
                 for name in step.form if name in step.visible]
        hidden = [name for name in step.form if name not in step.visible]
        lines.append(f"   form (* required): {', '.join(shown) or '-'}")
        if hidden:
            lines.append(f"   hidden: {', '.join(hidden)}")
        if step.refusal:
            lines.append(f"   refused: {step.refusal}")
        for found in step.problems:
            lines.append(f"   problem {found.path or '/'}: {found.message} [{found.code}]")
    outcome = (
        f"finished in '{simulation.final_state}'" if simulation.finished
        else f"stopped in '{simulation.final_state}': {simulation.stuck_reason}"
    )
    lines.append(f"path: {' → '.join(simulation.path)}; {outcome}")
    return "\n".join(lines)


# --- routing and SLA outlook -------------------------------------------------------------


class SimulationInputError(ValueError):
    """Simulation input (candidates, instants) that cannot be used; the message says where."""


@dataclass(frozen=True)
class Outlook:
    """What the runtime would do about a simulated ticket: route it and start its clocks."""

    assignment: AssignmentDecision | None
    sla: SlaSchedule | None
    calendar: BusinessCalendar | None = None


def outlook(
    ticket_type: TicketType,
    simulation: Simulation,
    *,
    candidates: Mapping[str, Sequence[Candidate]] | None = None,
    pointers: Mapping[str, str | None] | None = None,
    calendar: BusinessCalendar | None = None,
    created_at: datetime | None = None,
) -> Outlook:
    """The routing decision (when `candidates` are given) and the SLA clocks (when
    `created_at` is given, or the creation step has an instant; on `calendar`, default
    round the clock), both over the simulation's final field values. Steps that carry an
    instant (`StepRequest.at`) make the SLA history; without any, the clocks are those of
    the newly created ticket."""
    if not simulation.steps or not simulation.steps[0].ok:
        return Outlook(None, None)
    routing = None
    if candidates is not None:
        routing = decide_assignment(ticket_type, simulation.values, candidates, pointers)
    clocks = None
    start = created_at or simulation.steps[0].at
    if start is not None:
        calendar = calendar or ALWAYS
        clocks = schedule(ticket_type, calendar, simulation.values,
                          TicketTimes(start, _history(simulation, start)))
    return Outlook(routing, clocks, calendar if clocks else None)


def _history(simulation: Simulation, start: datetime) -> tuple[StateEntry, ...]:
    first = simulation.steps[0]
    history = [StateEntry(first.state_after, first.at or start)]
    if not any(step.at for step in simulation.steps[1:]):
        return tuple(history)
    when = first.at or start
    for step in simulation.steps[1:]:
        if not step.ok:
            break
        when = step.at or when
        if step.state_after != history[-1].state:
            history.append(StateEntry(step.state_after, when))
    return tuple(history)


def parse_candidates(
    data: Any,
) -> tuple[dict[str, list[Candidate]], dict[str, str | None]]:
    """`{teams: {team: [{id, open_tickets, open_by_priority, capacity, skills, on_shift,
    on_leave, away}]}, pointers: {team: agent}}` → candidates and round-robin pointers."""
    if not isinstance(data, dict) or not isinstance(data.get("teams"), dict) \
            or not set(data) <= {"teams", "pointers"}:
        raise SimulationInputError("expected {teams: {team: [agents]}, pointers: {team: agent}}")
    teams = {team: [_candidate(raw, f"/teams/{team}/{i}") for i, raw in enumerate(people)]
             for team, people in data["teams"].items() if isinstance(people, list)}
    if len(teams) != len(data["teams"]):
        raise SimulationInputError("/teams: each team maps to a list of agents")
    pointers = data.get("pointers") or {}
    if not isinstance(pointers, dict):
        raise SimulationInputError("/pointers: expected {team: agent}")
    return teams, {str(team): None if agent is None else str(agent)
                   for team, agent in pointers.items()}


_CANDIDATE_KEYS = {"id": str, "open_tickets": int, "open_by_priority": dict, "capacity": int,
                   "skills": list, "on_shift": bool, "on_leave": bool, "away": bool}


def _candidate(raw: Any, where: str) -> Candidate:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise SimulationInputError(f"{where}: expected a map with at least an id")
    for key, value in raw.items():
        kind = _CANDIDATE_KEYS.get(key)
        if kind is None:
            raise SimulationInputError(f"{where}/{key}: unknown key; known: "
                                       + ", ".join(_CANDIDATE_KEYS))
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SimulationInputError(f"{where}/{key}: expected {kind.__name__}")
    return Candidate(
        id=raw["id"], open_tickets=raw.get("open_tickets", 0),
        open_by_priority={str(k): int(v) for k, v in raw.get("open_by_priority", {}).items()},
        capacity=raw.get("capacity"), skills=frozenset(str(s) for s in raw.get("skills", ())),
        on_shift=raw.get("on_shift", True), on_leave=raw.get("on_leave", False),
        away=raw.get("away", False),
    )


def parse_instant(text: Any, where: str) -> datetime:
    """An RFC 3339 date-time with its offset (`2025-06-02T09:00:00+08:00`)."""
    try:
        instant = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise SimulationInputError(f"{where}: {text!r} is not a date-time") from None
    if instant.tzinfo is None:
        raise SimulationInputError(f"{where}: {text!r} needs a time zone offset, e.g. +08:00")
    return instant


def describe_outlook(result: Outlook) -> str:
    """A readable report of the routing decision and the SLA clocks."""
    lines = []
    if result.assignment is not None:
        lines += _describe_assignment(result.assignment)
    if result.sla is not None and result.calendar is not None:
        lines += _describe_sla(result.sla, result.calendar)
    return "\n".join(lines)


def _describe_assignment(decision: AssignmentDecision) -> list[str]:
    if decision.outcome is Outcome.UNROUTED:
        return ["routing: no assignment rule applies; the ticket stays unassigned"]
    head = f"routing: rule {decision.rule} ({decision.rule_pointer}) → team {decision.team}, " \
           f"{decision.strategy}"
    outcome = {
        Outcome.ASSIGNED: f"assigned to {decision.winner}",
        Outcome.QUEUED: "nobody qualifies: waits in the team queue, the team lead is told",
        Outcome.POOL: "claim pool: the team sees it, the first claim wins"
                      + ("; nobody may claim now, the team lead is told"
                         if decision.notify_lead else ""),
    }[decision.outcome]
    lines = [f"{head}: {outcome}"]
    if decision.required_skills:
        lines.append(f"   required skills: {', '.join(decision.required_skills)}")
    for verdict in decision.candidates:
        why = "winner" if verdict.agent == decision.winner else (
            str(verdict.reason) if verdict.reason else "may claim")
        skills = f", skills {'/'.join(verdict.matched_skills)}" if verdict.matched_skills else ""
        lines.append(f"   {verdict.agent}: {why} (load {verdict.load:g}{skills})")
    return lines


def _describe_sla(result: SlaSchedule, calendar: BusinessCalendar) -> list[str]:
    if result.target is None:
        return ["sla: no target applies"]
    target = result.target
    condition = f", when {target.when.source}" if target.when else ""
    lines = [f"sla: target {target.index} ({target.pointer}{condition}) on calendar "
             f"{calendar.id} ({calendar.timezone})"]

    def local(instant: datetime | None) -> str:
        return "-" if instant is None else instant.astimezone(calendar.zone).isoformat(
            timespec="minutes")

    for clock in result.clocks:
        why = clock.why
        lines.append(f"   {clock.kind}: {clock.status}, due {local(clock.due_at)}, warn "
                     f"{local(clock.warn_at)} ({why.duration} = {why.target_minutes} business "
                     "minutes)")
        for pause in why.pauses:
            lines.append(f"      paused in {pause.state}: {local(pause.start)} → "
                         f"{local(pause.end)}")
        if why.days_off:
            days = ", ".join(f"{d.date} {d.name}" for d in why.days_off)
            lines.append(f"      days off skipped: {days}")
    for timer in result.timers:
        actions = "; ".join(_actions(step) for step in timer.escalations)
        lines.append(f"   timer {timer.key} at {local(timer.due_at)}"
                     + (f": {actions}" if actions else ""))
    return lines


def _actions(step: Escalation) -> str:
    parts = []
    if step.notify:
        parts.append("notify " + ", ".join(step.notify))
    if step.copy:
        parts.append("copy " + ", ".join(step.copy))
    if step.reassign_to:
        parts.append(f"reassign to {step.reassign_to}")
    if step.raise_priority:
        parts.append("raise the priority")
    if step.transition:
        parts.append(f"fire {step.transition}")
    return ", ".join(parts)
