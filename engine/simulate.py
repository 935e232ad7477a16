"""Dry runs: take a ticket through a definition and report every step.

Two modes:

* explicit steps — "create with these values, then fire `checked` as an agent with
  these values, ..." — each step decided exactly as the runtime would;
* automatic — given one set of field values, create the ticket and keep firing the
  first transition (in definition order, not yet taken from that state) whose step
  form and requirements those values satisfy, until a final state or until stuck.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import Problem
from engine.flow import Refusal
from engine.forms import Decision, decide, form_for
from engine.model import TicketType

MAX_STEPS = 50


@dataclass(frozen=True)
class StepRequest:
    """One thing to do to the ticket: fire `transition` (None: a plain update)."""

    transition: str | None
    values: Mapping[str, Any] = field(default_factory=dict)
    roles: frozenset[str] | None = None


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
    number: int, state: str, transition: str | None, decision: Decision
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
    results = [_step_result(1, state, creation.transition, decision)]
    if not decision.ok:
        return Simulation(tuple(results), state, decision.values, False, "creation failed")
    values, state = dict(decision.values), results[-1].state_after
    for number, request in enumerate(steps, start=2):
        decision = decide(ticket_type, dict(request.values), roles=request.roles or roles,
                          current=values, state=state, transition=request.transition,
                          language=language)
        results.append(_step_result(number, state, request.transition, decision))
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
