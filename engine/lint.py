"""Static analysis of a compiled flow: mistakes that compile but would strand tickets.

* unreachable states, states with no path to a final state, transitions out of a final
  state (graph checks);
* branches that can never be taken after an earlier one, and fields a step requires
  while they can never be visible on the way there (finite-domain checks, see
  `engine.domains`).

Issues carry pointers only; `engine.compile` adds file, line and column.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from engine.errors import Issue, IssueCode
from engine.model import TicketType


def lint(ticket_type: TicketType) -> list[Issue]:
    """Every flow issue of a compiled ticket type."""
    issues = list(_graph_issues(ticket_type))
    from engine.domains import condition_issues

    issues += condition_issues(ticket_type)
    return issues


def reachable_states(ticket_type: TicketType) -> set[str]:
    """States a ticket can reach from the initial state along transitions."""
    start = ticket_type.initial_state.id
    seen = {start}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        for transition in ticket_type.transitions:
            if state in transition.sources:
                for target in transition.targets:
                    if target not in seen:
                        seen.add(target)
                        queue.append(target)
    return seen


def _states_reaching_final(ticket_type: TicketType) -> set[str]:
    good = {state.id for state in ticket_type.states if state.final}
    changed = True
    while changed:
        changed = False
        for transition in ticket_type.transitions:
            if any(target in good for target in transition.targets):
                for source in transition.sources - good:
                    good.add(source)
                    changed = True
    return good


def _graph_issues(ticket_type: TicketType) -> Iterator[Issue]:
    reachable = reachable_states(ticket_type)
    finishing = _states_reaching_final(ticket_type)
    for state in ticket_type.states:
        if state.id not in reachable:
            yield Issue(IssueCode.UNREACHABLE_STATE,
                        f"no transition leads to state '{state.id}' from the initial state",
                        state.pointer)
        elif state.id not in finishing:
            yield Issue(IssueCode.DEAD_END,
                        f"a ticket in state '{state.id}' can never reach a final state",
                        state.pointer)
    finals = {state.id for state in ticket_type.states if state.final}
    for transition in ticket_type.transitions:
        for source in sorted(transition.sources & finals):
            yield Issue(IssueCode.TRANSITION_FROM_FINAL,
                        f"transition '{transition.id}' leaves final state '{source}'; "
                        "use a non-final state (e.g. resolved) if tickets may be reopened",
                        f"{transition.pointer}/from")
