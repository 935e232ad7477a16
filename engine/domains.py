"""Finite-domain reasoning about conditions: branches that can never be taken, and
fields a step requires while they can never be visible there.

Only fields with a small, known set of values (choice and boolean fields) are reasoned
about. A condition that reads any other field is *unknown* and never leads to an issue:
the linter's issues stop a definition from compiling, so it must not guess.

Conditions are evaluated by brute force over every combination of the values they read
(bounded by `MAX_COMBINATIONS`). What is known about the tickets in each state — the
*path facts* — is the set of combinations of values of the *settled* fields (fields that
nobody can change after the intake form and whose visibility cannot change either) that a
ticket can carry on arrival there. Every other finite field is free: it may hold any of
its values in any state. Over-approximating what is possible only ever hides issues,
never invents them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from math import prod

from engine.errors import EvaluationError, Issue, IssueCode
from engine.expressions import Expression
from engine.model import Field, FieldType, TicketType, Transition

MAX_COMBINATIONS = 4096

Value = str | bool | None
Assignment = tuple[Value, ...]  # values of the settled fields, in `_Analysis.settled` order
Truths = tuple[bool | None, ...]  # one result per condition; None: cannot tell


def condition_issues(ticket_type: TicketType) -> list[Issue]:
    """Branches that can never be taken and requirements that can never apply."""
    analysis = _Analysis.of(ticket_type)
    issues: list[Issue] = []
    for transition in ticket_type.transitions:
        issues += _branch_issues(analysis, transition)
        issues += _requirement_issues(analysis, transition)
    return issues


# --- the domains ------------------------------------------------------------------------


def finite_domains(ticket_type: TicketType) -> dict[str, tuple[Value, ...]]:
    """Every value each choice or boolean field can hold (None: no value)."""
    domains: dict[str, tuple[Value, ...]] = {}
    for field in ticket_type.fields:
        if field.computed:
            continue  # a formula may produce anything
        values: tuple[Value, ...]
        if field.type is FieldType.CHOICE:
            values = tuple(sorted(field.option_values))
        elif field.type is FieldType.BOOLEAN:
            values = (False, True)
        else:
            continue
        domains[field.id] = values + ((None,) if _may_be_empty(field) else ())
    return domains


def _may_be_empty(field: Field) -> bool:
    # `required` is only enforced on a visible field that the submitter may see;
    # a hidden field reads as null in every condition.
    return (not field.required or field.visible_when is not None
            or field.depends_on is not None or field.visible_to is not None)


def _changeable(ticket_type: TicketType) -> set[str]:
    """Fields that may get a new value after the intake form."""
    names: set[str] = set()
    for transition in ticket_type.transitions:
        names.update(transition.form)
    for state in ticket_type.states:
        for editable in state.edit.values():
            names.update(editable)
    # Escalation with `raise_priority` changes the priority behind every form's back.
    escalations = ticket_type.sla_policy.escalations if ticket_type.sla_policy else ()
    if ticket_type.priority_field and any(step.raise_priority for step in escalations):
        names.add(ticket_type.priority_field)
    return names


def _settled(ticket_type: TicketType, domains: Mapping[str, tuple[Value, ...]]) -> tuple[str, ...]:
    """Finite fields whose value a branch reads and that never change after intake."""
    changeable = _changeable(ticket_type)
    by_id = ticket_type.field_by_id
    stable: dict[str, bool] = {}

    def is_stable(name: str) -> bool:
        # A field whose visibility can change gets cleared to null when it is hidden.
        if name not in stable:
            field = by_id[name]
            depends = set(field.visible_when.names if field.visible_when else ())
            depends |= {field.depends_on} if field.depends_on else set()
            stable[name] = (name not in changeable and not field.computed
                            and all(is_stable(n) for n in depends))
        return stable[name]

    read = {name for t in ticket_type.transitions for c in _conditions(t) if c
            for name in c.names}
    settled = tuple(f.id for f in ticket_type.fields
                    if f.id in domains and f.id in read and is_stable(f.id))
    if prod(len(domains[name]) for name in settled) > MAX_COMBINATIONS:
        return ()  # too many to track: every field is free, the checks still run
    return settled


def _conditions(transition: Transition) -> list[Expression | None]:
    """The transition's guard, then each branch's condition (None: always true)."""
    return [transition.available_when, *(branch.when for branch in transition.branches)]


# --- evaluating conditions over combinations ---------------------------------------------


def _truth(condition: Expression | None, values: Mapping[str, Value]) -> bool | None:
    if condition is None:
        return True
    try:
        return condition.holds(values)
    except EvaluationError:
        return None


@dataclass(frozen=True)
class _Table:
    """Results of some conditions for every combination of the finite values they read,
    grouped by the values of the settled fields among those."""

    key_names: tuple[str, ...]
    rows: Mapping[Assignment, tuple[Truths, ...]]


def _tabulate(
    conditions: Sequence[Expression | None],
    domains: Mapping[str, tuple[Value, ...]],
    settled: tuple[str, ...],
) -> _Table | None:
    """None when there are too many combinations to try."""
    known = [c for c in conditions if c is not None and c.names <= domains.keys()]
    names = sorted({name for c in known for name in c.names})
    if prod(len(domains[name]) for name in names) > MAX_COMBINATIONS:
        return None
    key_names = tuple(name for name in settled if name in names)
    rows: dict[Assignment, list[Truths]] = {}
    for combination in product(*(domains[name] for name in names)):
        values = dict(zip(names, combination, strict=True))
        truths = tuple(_truth(c, values) if c is None or c in known else None
                       for c in conditions)
        rows.setdefault(tuple(values[name] for name in key_names), []).append(truths)
    return _Table(key_names, {key: tuple(found) for key, found in rows.items()})


def _taken(truths: Truths) -> Iterator[int]:
    """Branches that may be the first to hold, given a guard and branch results."""
    if truths[0] is False:
        return
    for index, truth in enumerate(truths[1:]):
        if truth is not False:
            yield index
        if truth is True:
            return


# --- path facts --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Analysis:
    ticket_type: TicketType
    domains: Mapping[str, tuple[Value, ...]]
    settled: tuple[str, ...]
    tables: Mapping[str, _Table | None]  # by transition id: guard and branches
    arrivals: Mapping[str, frozenset[Assignment]]  # by state id

    @staticmethod
    def of(ticket_type: TicketType) -> _Analysis:
        domains = finite_domains(ticket_type)
        settled = _settled(ticket_type, domains)
        tables = {t.id: _tabulate(_conditions(t), domains, settled)
                  for t in ticket_type.transitions}
        arrivals = _arrivals(ticket_type, domains, settled, tables)
        return _Analysis(ticket_type, domains, settled, tables, arrivals)

    def truths(self, table: _Table, states: Iterable[str]) -> Iterator[Truths]:
        """Every result row possible for a ticket in one of these states."""
        positions = [self.settled.index(name) for name in table.key_names]
        keys = {tuple(a[p] for p in positions) for s in states for a in self.arrivals[s]}
        for key in keys:
            yield from table.rows.get(key, ())

    def live_sources(self, transition: Transition) -> list[str]:
        """Sources a ticket can be in (others only follow branches that are never taken)."""
        return sorted(s for s in transition.sources if self.arrivals[s])


def _arrivals(
    ticket_type: TicketType,
    domains: Mapping[str, tuple[Value, ...]],
    settled: tuple[str, ...],
    tables: Mapping[str, _Table | None],
) -> dict[str, frozenset[Assignment]]:
    """For each state, the settled values a ticket can carry there (a fixed point)."""
    found: dict[str, set[Assignment]] = {state.id: set() for state in ticket_type.states}
    leaving: dict[str, list[Transition]] = {state.id: [] for state in ticket_type.states}
    for transition in ticket_type.transitions:
        for source in transition.sources:
            leaving[source].append(transition)
    start = ticket_type.initial_state.id
    found[start] = set(product(*(domains[name] for name in settled)))
    # Each (state, values) pair is followed once: the sets only grow, so this terminates.
    queue = deque((start, assignment) for assignment in found[start])
    while queue:
        state, assignment = queue.popleft()
        for transition in leaving[state]:
            for target in _targets(transition, tables[transition.id], settled, assignment):
                if assignment not in found[target]:
                    found[target].add(assignment)
                    queue.append((target, assignment))
    return {state: frozenset(values) for state, values in found.items()}


def _targets(
    transition: Transition, table: _Table | None, settled: tuple[str, ...], at: Assignment
) -> set[str]:
    if table is None:
        return set(transition.targets)
    key = tuple(at[settled.index(name)] for name in table.key_names)
    return {transition.branches[index].state
            for truths in table.rows.get(key, ()) for index in _taken(truths)}


# --- the checks --------------------------------------------------------------------------


def _branch_issues(analysis: _Analysis, transition: Transition) -> Iterator[Issue]:
    table = analysis.tables[transition.id]
    sources = analysis.live_sources(transition)
    if table is None or not sources:
        return
    rows = [t for t in analysis.truths(table, sources) if t[0] is not False]
    for index, branch in enumerate(transition.branches):
        # The default branch is required by the compiler; a default that only catches
        # "cannot happen" is defensive, not a mistake.
        if branch.when is None or not branch.when.names <= analysis.domains.keys():
            continue
        reason = _never_taken(transition, index, rows, sources)
        if reason:
            yield Issue(IssueCode.BRANCH_NEVER_MATCHES,
                        f"this branch can never be taken: {reason}", branch.pointer)


def _never_taken(
    transition: Transition, index: int, rows: list[Truths], sources: list[str]
) -> str | None:
    """Why branch `index` is never the first to hold, or None when it may be."""
    condition = transition.branches[index].when
    assert condition is not None
    holding = [truths for truths in rows if truths[index + 1] is not False]
    if not holding:
        where = _in_states(sources)
        return f"its condition ({condition.source}) never holds for a ticket {where}"
    earlier: set[int] = set()
    for truths in holding:
        first = next((j for j in range(index) if truths[j + 1] is True), None)
        if first is None:
            return None
        earlier.add(first)
    described = ", ".join(f"{j} ({_condition_text(transition, j)})" for j in sorted(earlier))
    which = "the earlier branch" if len(earlier) == 1 else "one of the earlier branches"
    return f"whenever {condition.source} holds, {which} {described} is taken first"


def _requirement_issues(analysis: _Analysis, transition: Transition) -> Iterator[Issue]:
    by_id = analysis.ticket_type.field_by_id
    entries = [(f"requires/{i}", name) for i, name in enumerate(transition.requires)]
    # A field both in `requires` and required in the form is one mistake: report it once.
    entries += [(f"form/{i}", name) for i, name in enumerate(transition.form)
                if by_id[name].required and name not in transition.requires]
    sources = analysis.live_sources(transition)
    for where, name in entries:
        visible_when = by_id[name].visible_when
        if sources and visible_when is not None and _never_visible(
            analysis, transition, visible_when, sources
        ):
            yield Issue(
                IssueCode.REQUIRED_NEVER_VISIBLE,
                f"'{name}' is required here but can never be visible: its visible_when "
                f"({visible_when.source}) never holds when '{transition.id}' is fired by a ticket "
                f"{_in_states(sources)}; a hidden field is never required, so this "
                "requirement is silently ignored",
                f"{transition.pointer}/{where}",
            )


def _never_visible(
    analysis: _Analysis, transition: Transition, visible_when: Expression, sources: list[str]
) -> bool:
    if not visible_when.names <= analysis.domains.keys():
        return False
    table = _tabulate([transition.available_when, visible_when], analysis.domains,
                      analysis.settled)
    if table is None:
        return False
    rows = [t for t in analysis.truths(table, sources) if t[0] is not False]
    # A transition that can never fire is not this field's problem.
    return bool(rows) and all(truths[1] is False for truths in rows)


def _condition_text(transition: Transition, index: int) -> str:
    condition = transition.branches[index].when
    return condition.source if condition is not None else "default"


def _in_states(states: list[str]) -> str:
    if len(states) == 1:
        return f"in state '{states[0]}'"
    return "in states " + ", ".join(f"'{s}'" for s in states)
