"""States and transitions: what may be fired, by whom, where it leads, who may edit what.

All answers are pure functions of the compiled ticket type, the ticket's current state
and values, and the actor's roles (the runtime works out the roles, including the
relational ones such as `assignee` and `requester`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.errors import EvaluationError
from engine.model import Field, TicketType, Transition


class Refusal(StrEnum):
    """Why a transition cannot be fired (the runtime maps these to HTTP statuses)."""

    UNKNOWN_TRANSITION = "unknown-transition"
    NOT_FROM_THIS_STATE = "not-from-this-state"
    ROLE_NOT_ALLOWED = "role-not-allowed"
    CONDITION_NOT_MET = "condition-not-met"


class Access(StrEnum):
    EDITABLE = "editable"
    READ_ONLY = "read-only"
    HIDDEN = "hidden"


@dataclass(frozen=True, slots=True)
class BranchChoice:
    """Where a transition leads for the given values, and which branch decided it."""

    state: str
    index: int
    condition: str | None


def may_see(field: Field, roles: Iterable[str]) -> bool:
    """Role-level visibility: a field marked `visible_to` reaches those roles only."""
    return field.visible_to is None or not field.visible_to.isdisjoint(roles)


def check_transition(
    ticket_type: TicketType,
    transition_id: str,
    state: str,
    roles: Iterable[str],
    values: Mapping[str, Any],
) -> Refusal | None:
    """None when `roles` may fire the transition from `state` now; else why not."""
    transition = ticket_type.transition_by_id.get(transition_id)
    if transition is None:
        return Refusal.UNKNOWN_TRANSITION
    if state not in transition.sources:
        return Refusal.NOT_FROM_THIS_STATE
    if transition.roles is not None and transition.roles.isdisjoint(roles):
        return Refusal.ROLE_NOT_ALLOWED
    if transition.available_when is not None:
        try:
            if not transition.available_when.holds(values):
                return Refusal.CONDITION_NOT_MET
        except EvaluationError:
            return Refusal.CONDITION_NOT_MET
    return None


def available_transitions(
    ticket_type: TicketType, state: str, roles: Iterable[str], values: Mapping[str, Any]
) -> tuple[Transition, ...]:
    """The transitions `roles` may fire from `state` with these values, in definition order."""
    role_set = frozenset(roles)
    return tuple(
        transition
        for transition in ticket_type.transitions
        if check_transition(ticket_type, transition.id, state, role_set, values) is None
    )


def resolve_branch(transition: Transition, values: Mapping[str, Any]) -> BranchChoice:
    """First branch whose condition holds; the last (default) branch otherwise.

    Raises `EvaluationError` when a condition cannot be evaluated on these values.
    """
    for index, branch in enumerate(transition.branches):
        if branch.when is None or branch.when.holds(values):
            return BranchChoice(branch.state, index, branch.when.source if branch.when else None)
    # The compiler guarantees a default branch; this is only reached for hand-built models.
    last = transition.branches[-1]
    return BranchChoice(last.state, len(transition.branches) - 1, None)


def editable_in_state(ticket_type: TicketType, state: str, roles: Iterable[str]) -> frozenset[str]:
    """Fields `roles` may change in `state` outside any transition (the state's `edit`)."""
    edit = ticket_type.state_by_id[state].edit
    return frozenset(name for role in roles for name in edit.get(role, ()))


def field_access(
    ticket_type: TicketType, state: str, roles: Iterable[str]
) -> dict[str, Access]:
    """For each field: editable in this state, read-only, or hidden from these roles.

    Editable means editable outside a transition (the state's `edit` lists); a step form
    makes its fields editable while that transition is fired.
    """
    role_set = frozenset(roles)
    editable = editable_in_state(ticket_type, state, role_set)
    return {
        field.id: Access.HIDDEN if not may_see(field, role_set)
        else Access.EDITABLE if field.id in editable
        else Access.READ_ONLY
        for field in ticket_type.fields
    }


def creation_transitions(ticket_type: TicketType, roles: Iterable[str]) -> tuple[Transition, ...]:
    """Transitions that leave the initial state and that `roles` may fire (submit buttons)."""
    initial = ticket_type.initial_state.id
    role_set = frozenset(roles)
    return tuple(
        t for t in ticket_type.transitions
        if initial in t.sources and (t.roles is None or not t.roles.isdisjoint(role_set))
    )
