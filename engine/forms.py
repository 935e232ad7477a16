"""Deciding a submission: visibility, requiredness, values, rules, computed fields, branch.

`decide` is the one function every channel calls (browser form, REST API, CLI simulator):
a rule can never be enforced in one place and forgotten in another. It works in one
pass and returns every problem at once.

Performance: each step does the cheap thing first. Conditions are parsed at compile
time; value checks return a shared empty tuple when a value is fine, and localised
problem objects are only built for what is wrong. See docs/performance.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import EvaluationError, Problem
from engine.flow import BranchChoice, Refusal, check_transition, may_see, resolve_branch
from engine.messages import ProblemCode, problem
from engine.model import Field, FieldType, RequesterDetail, TicketType
from engine.values import check_row, check_value, normalize


@dataclass(frozen=True)
class Decision:
    """The outcome of a submission: problems, or the new values and where the ticket goes."""

    problems: tuple[Problem, ...]
    values: Mapping[str, Any]
    changes: Mapping[str, Any]
    visible: frozenset[str]
    required: frozenset[str]
    form: tuple[str, ...]
    refusal: Refusal | None = None
    branch: BranchChoice | None = None
    dropped: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.refusal is None and not self.problems

    @property
    def target_state(self) -> str | None:
        return self.branch.state if self.branch else None


def form_for(
    ticket_type: TicketType,
    *,
    state: str | None,
    transition: str | None,
    roles: Iterable[str],
    creating: bool = False,
) -> tuple[str, ...]:
    """Fields the actor fills in here: the intake form when creating, plus the step form
    of the transition being fired, or the state's `edit` list for a plain update."""
    role_set = frozenset(roles)
    key = ("form", state, transition, role_set, creating)
    cached = ticket_type.memo.get(key)
    if cached is None:
        cached = ticket_type.memo[key] = _form_for(ticket_type, state, transition, role_set,
                                                    creating)
    return cached


def _form_set(ticket_type: TicketType, form: tuple[str, ...]) -> frozenset[str]:
    # Membership is asked for every submitted field; the set is derived once per form.
    found = ticket_type.memo.get(("form-set", form))
    if found is None:
        found = ticket_type.memo[("form-set", form)] = frozenset(form)
    return found


def _form_for(ticket_type: TicketType, state: str | None, transition: str | None,
              role_set: frozenset[str], creating: bool) -> tuple[str, ...]:
    names: list[str] = list(ticket_type.intake_fields) if creating else []
    if transition is not None and transition in ticket_type.transition_by_id:
        names += ticket_type.transition_by_id[transition].form
    elif not creating and state is not None and state in ticket_type.state_by_id:
        edit = ticket_type.state_by_id[state].edit
        editable = {name for role in role_set for name in edit.get(role, ())}
        names += [spec.id for spec in ticket_type.fields if spec.id in editable]
    by_id = ticket_type.field_by_id
    return tuple(
        name for name in dict.fromkeys(names)
        if by_id[name].compute is None and may_see(by_id[name], role_set)
    )


def visible_fields(
    ticket_type: TicketType, values: Mapping[str, Any], roles: Iterable[str]
) -> tuple[frozenset[str], dict[str, Any], list[tuple[str, EvaluationError]]]:
    """Which fields are visible for these values and roles.

    Returns the visible ids, the values with condition-hidden fields removed (conditions
    must not see what is hidden), and conditions that failed to evaluate.
    """
    role_set = frozenset(roles)
    effective = dict(values)
    visible: set[str] = set()
    failures: list[tuple[str, EvaluationError]] = []
    by_id = ticket_type.field_by_id
    for name in ticket_type.visibility_order:
        spec = by_id[name]
        shown = True
        if spec.visible_when is not None:
            try:
                shown = spec.visible_when.holds(effective)
            except EvaluationError as error:
                failures.append((name, error))
                shown = False
        if shown and spec.depends_on is not None:
            shown = bool(spec.options_for(effective.get(spec.depends_on)))
        if not shown:
            effective.pop(name, None)
        elif spec.visible_to is None or may_see(spec, role_set):
            visible.add(name)
    return frozenset(visible), effective, failures


def decide(
    ticket_type: TicketType,
    submission: Any,
    *,
    roles: Iterable[str],
    current: Mapping[str, Any] | None = None,
    state: str | None = None,
    transition: str | None = None,
    creating: bool = False,
    language: str = "en",
) -> Decision:
    """Validate a submission in its context and decide what happens.

    * `creating`: a new ticket — the intake form is filled in (state is the initial one);
    * `transition`: the transition being fired (its step form, `requires`, branches);
    * neither: a plain update of the fields the state lets these roles edit.
    """
    role_set = frozenset(roles)
    if creating:
        state = ticket_type.initial_state.id
    current = current or {}
    form = form_for(ticket_type, state=state, transition=transition, roles=role_set,
                    creating=creating)
    if not isinstance(submission, dict):
        return _rejected(form, current, [problem(ProblemCode.NOT_AN_OBJECT, "", "", language)])

    problems: list[Problem] = []
    merged = dict(current)
    if creating:
        merged.update(_defaults(ticket_type, form))
        # A default is the value until someone who may see the field sets it: a field
        # hidden from the creator (a customer tier, a channel) still starts with it.
        merged.update(_defaults(ticket_type, _hidden_intake(ticket_type, role_set)))
    submitted = _accept_submitted(ticket_type, submission, form, role_set, language, problems)
    merged.update(submitted)

    visible, effective, failures = visible_fields(ticket_type, merged, role_set)
    problems += (
        problem(ProblemCode.CONDITION_FAILED, name, f"/{name}", language, reason=error.reason)
        for name, error in failures
    )
    dropped = tuple([name for name in submitted if name not in effective])
    checked_ok = _check_values(ticket_type, submitted, effective, visible, language, problems)

    refusal = None
    if transition is not None:
        refusal = check_transition(ticket_type, transition, state or "", role_set, effective)
    required = _required(ticket_type, form, effective, visible, language, problems)
    if transition is not None and refusal is None:
        _check_requires(ticket_type, transition, effective, visible, required, language,
                        problems)
    _check_rules(ticket_type, effective, checked_ok, language, problems)

    if problems or refusal is not None:
        # Nothing is decided, but what can be computed from the values that are fine is
        # (a row's total while the rest of the form is still being filled in).
        _compute_from(ticket_type, effective, checked_ok)
        return Decision(tuple(problems), effective, {}, visible, required, form, refusal,
                        dropped=dropped)
    _compute(ticket_type, effective)
    branch = None
    if transition is not None:
        try:
            branch = resolve_branch(ticket_type.transition_by_id[transition], effective)
        except EvaluationError as error:
            problems.append(problem(ProblemCode.CONDITION_FAILED, "", "", language,
                                    reason=error.reason))
            return Decision(tuple(problems), effective, {}, visible, required, form,
                            dropped=dropped)
    if current:
        changes = {k: v for k, v in effective.items() if current.get(k) != v}
        changes.update({k: None for k in current if k not in effective})
    else:
        changes = dict(effective)  # a new ticket: everything is a change
    return Decision((), effective, changes, visible, required, form, None, branch, dropped)


def _defaults(ticket_type: TicketType, form: tuple[str, ...]) -> dict[str, Any]:
    by_id = ticket_type.field_by_id
    return {name: by_id[name].default for name in form if by_id[name].default is not None}


def requester_fields(ticket_type: TicketType) -> tuple[Field, ...]:
    """The intake fields filled from the ticket's requester (`from_requester`)."""
    found = ticket_type.memo.get("requester-fields")
    if found is None:
        by_id = ticket_type.field_by_id
        found = ticket_type.memo["requester-fields"] = tuple(
            by_id[name] for name in ticket_type.intake_fields
            if by_id[name].from_requester is not None)
    return found


def requester_values(ticket_type: TicketType,
                     details: Mapping[RequesterDetail, str | None]) -> dict[str, str]:
    """The values of the `from_requester` fields given what is known of the requester:
    a detail that is missing, blank or not a valid value of its field fills nothing."""
    values = {}
    for spec in requester_fields(ticket_type):
        value = details.get(spec.from_requester)  # type: ignore[arg-type]
        value = value.strip() if isinstance(value, str) else None
        if value and not check_value(spec, value, "en", path=f"/{spec.id}"):
            values[spec.id] = value
    return values


def _hidden_intake(ticket_type: TicketType, role_set: frozenset[str]) -> tuple[str, ...]:
    key = ("hidden-intake", role_set)
    found = ticket_type.memo.get(key)
    if found is None:
        by_id = ticket_type.field_by_id
        found = ticket_type.memo[key] = tuple(
            name for name in ticket_type.intake_fields if not may_see(by_id[name], role_set))
    return found


def _rejected(form: tuple[str, ...], current: Mapping[str, Any], problems: list[Problem]
              ) -> Decision:
    return Decision(tuple(problems), dict(current), {}, frozenset(), frozenset(), form)


def _accept_submitted(
    ticket_type: TicketType,
    submission: Mapping[str, Any],
    form: tuple[str, ...],
    roles: frozenset[str],
    language: str,
    problems: list[Problem],
) -> dict[str, Any]:
    """The submitted values that may be set here (normalised); the rest become problems.

    Values of computed fields are ignored silently: the engine fills them in, and a client
    that sends back what it received must not be punished for it.
    """
    accepted: dict[str, Any] = {}
    by_id = ticket_type.field_by_id
    in_form = _form_set(ticket_type, form)
    table = FieldType.TABLE
    for name, value in submission.items():
        if name in in_form:  # form fields are never computed and always visible to roles
            value = normalize(value)
            if value.__class__ is list and by_id[name].type is table:
                value = _normalize_rows(by_id[name], value)
            accepted[name] = value
            continue
        spec = by_id.get(name)
        if spec is None or not may_see(spec, roles):
            # A field hidden from these roles is reported exactly like one that does not
            # exist, so an error never reveals it.
            problems.append(problem(ProblemCode.UNKNOWN_FIELD, str(name), f"/{name}", language,
                                    name=name))
        elif spec.compute is None:
            problems.append(problem(ProblemCode.NOT_EDITABLE, name, f"/{name}", language,
                                    label=spec.label.text(language)))
    return accepted


def _normalize_rows(spec: Field, rows: list[Any]) -> list[Any]:
    # Rows are kept as given (computed cells are filled in later); empty cells read null.
    computed = {column.id for column in spec.columns if column.compute is not None}
    return [
        {k: normalize(v) for k, v in row.items() if k not in computed}
        if isinstance(row, dict) else row
        for row in rows
    ]


def _check_values(
    ticket_type: TicketType,
    submitted: Mapping[str, Any],
    effective: Mapping[str, Any],
    visible: frozenset[str],
    language: str,
    problems: list[Problem],
) -> set[str]:
    """Check each submitted, visible value; return the ids whose values are fine."""
    fine: set[str] = set(effective)
    by_id = ticket_type.field_by_id
    for name, value in submitted.items():
        if name not in visible:
            continue
        spec = by_id[name]
        found = check_value(spec, value, language, path=f"/{name}")
        if not found and spec.depends_on is not None and value is not None:
            found = _check_dependent(spec, value, effective, language)
        if found:
            problems += found
            fine.discard(name)
    return fine


def _check_dependent(
    spec: Field, value: Any, effective: Mapping[str, Any], language: str
) -> list[Problem]:
    allowed = {option.value for option in spec.options_for(effective.get(spec.depends_on))}
    chosen = value if isinstance(value, list) else [value]
    return [
        problem(ProblemCode.NOT_AN_OPTION, spec.id, f"/{spec.id}", language,
                label=spec.label.text(language), value=item)
        for item in chosen if item not in allowed
    ]


def _required(
    ticket_type: TicketType,
    form: tuple[str, ...],
    effective: Mapping[str, Any],
    visible: frozenset[str],
    language: str,
    problems: list[Problem],
) -> frozenset[str]:
    required: set[str] = set()
    by_id = ticket_type.field_by_id
    for name in form:
        if name not in visible:
            continue  # a hidden field is never required
        spec = by_id[name]
        needed = spec.required
        if spec.required_when is not None:
            try:
                needed = spec.required_when.holds(effective)
            except EvaluationError as error:
                problems.append(problem(ProblemCode.CONDITION_FAILED, name, f"/{name}", language,
                                        reason=error.reason))
                continue
        if needed:
            required.add(name)
            if effective.get(name) is None:
                problems.append(problem(ProblemCode.REQUIRED, name, f"/{name}", language,
                                        label=spec.label.text(language)))
    return frozenset(required)


def _check_requires(
    ticket_type: TicketType,
    transition_id: str,
    effective: Mapping[str, Any],
    visible: frozenset[str],
    required: frozenset[str],
    language: str,
    problems: list[Problem],
) -> None:
    transition = ticket_type.transition_by_id[transition_id]
    for name in transition.requires:
        if name in visible and name not in required and effective.get(name) is None:
            problems.append(problem(
                ProblemCode.REQUIRED_FOR_TRANSITION, name, f"/{name}", language,
                label=ticket_type.field_by_id[name].label.text(language),
                transition=transition.label.text(language),
            ))


def _check_rules(
    ticket_type: TicketType,
    effective: Mapping[str, Any],
    fine: set[str],
    language: str,
    problems: list[Problem],
) -> None:
    for rule in ticket_type.rules:
        # A rule speaks only about values that are present and individually valid:
        # emptiness is the business of `required`, bad values already have a problem.
        if not rule.check.names <= fine or any(effective.get(n) is None for n in rule.check.names):
            continue
        try:
            if rule.when is not None and not rule.when.holds(effective):
                continue
            if rule.check.holds(effective):
                continue
            problems.append(problem(ProblemCode.RULE_FAILED, rule.field, f"/{rule.field}",
                                    language, rule=rule.id,
                                    rule_message=rule.message.text(language)))
        except EvaluationError as error:
            problems.append(problem(ProblemCode.CONDITION_FAILED, rule.field, f"/{rule.field}",
                                    language, reason=error.reason))


def _compute(ticket_type: TicketType, values: dict[str, Any]) -> None:
    """Fill in computed table cells, then computed fields, in dependency order."""
    for spec in ticket_type.fields:
        # column_compute_order first: it is empty for every field but a computing table.
        if (spec.column_compute_order and spec.type is FieldType.TABLE
                and isinstance(values.get(spec.id), list)):
            by_column = {c.id: c for c in spec.columns}
            computed_columns = [by_column[name] for name in spec.column_compute_order]
            if computed_columns:
                values[spec.id] = [_compute_row(computed_columns, row) for row in values[spec.id]]
    by_id = ticket_type.field_by_id
    for name in ticket_type.compute_order:
        expression = by_id[name].compute
        assert expression is not None
        values[name] = _safe_compute(expression, values)


def _compute_from(ticket_type: TicketType, values: dict[str, Any], fine: set[str]) -> None:
    """Computed values (table cells included) from the values in `fine` only: a formula
    never reads a value refused by its checks (`"2" * 3` is "222", not 6)."""
    known = {name: value for name, value in values.items() if name in fine}
    _compute(ticket_type, known)
    for spec in ticket_type.fields:
        # A total over a refused table would read as 0: only formulas whose inputs are all
        # known and fine are shown.
        reads_known = spec.compute is None or all(name in known for name in spec.compute.names)
        if (spec.computed or spec.column_compute_order) and reads_known \
                and known.get(spec.id) is not None:
            values[spec.id] = known[spec.id]


def _compute_row(columns: list[Field], row: Any) -> Any:
    if not isinstance(row, dict):
        return row
    result = dict(row)
    for column in columns:
        assert column.compute is not None
        result[column.id] = _safe_compute(column.compute, result)
    return result


def _safe_compute(expression: Any, values: Mapping[str, Any]) -> Any:
    # A formula that cannot be computed for these values (e.g. a division by zero)
    # leaves the field empty rather than blocking the person submitting the form.
    try:
        return normalize(expression.evaluate(values))
    except EvaluationError:
        return None


__all__ = ["Decision", "check_row", "decide", "form_for", "visible_fields"]
