"""Compiling the `assignment` and `sla` blocks of a definition into typed rules.

Called by `engine.compile` once the shape is right; reports located issues through the
compiler (`report`, `_ref`, `_expression`) like every other part of a definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from engine.calendar import ALWAYS_ID
from engine.durations import Duration, DurationError, parse_duration
from engine.errors import IssueCode, did_you_mean
from engine.model import (
    AssignmentRule,
    Escalation,
    EscalationTrigger,
    Field,
    FieldType,
    SlaPolicy,
    SlaTarget,
    Strategy,
)

if TYPE_CHECKING:
    from engine.compile import _Compiler

DEFAULT_PRIORITY_FIELD = "priority"
SKILL_FIELD_TYPES = frozenset({FieldType.CHOICE, FieldType.MULTI_CHOICE, FieldType.STRING,
                               FieldType.USER})
CLOCK_KEYS = ("first_response", "next_response", "resolution")
ACTION_KEYS = ("notify", "copy", "reassign_to", "raise_priority", "transition")


def priority_field(compiler: _Compiler, fields: Mapping[str, Field]) -> str | None:
    """The declared `priority_field`, else a choice field named `priority`, else None."""
    name = compiler.data.get("priority_field")
    if name is None:
        found = fields.get(DEFAULT_PRIORITY_FIELD)
        return DEFAULT_PRIORITY_FIELD if found and found.type is FieldType.CHOICE else None
    if not compiler._ref("field", name, fields, "/priority_field"):
        return None
    if fields[name].type is not FieldType.CHOICE or fields[name].dependent_options is not None:
        compiler.report(IssueCode.BAD_VALUE, f"the priority field '{name}' must be a plain "
                        "choice field, its options ordered from low to high", "/priority_field")
        return None
    return name


def _duration(compiler: _Compiler, text: str | None, pointer: str) -> Duration | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except DurationError as error:
        compiler.report(IssueCode.BAD_DURATION, str(error), pointer)
        return None


def _need_priority(compiler: _Compiler, priority: str | None, what: str, pointer: str) -> None:
    if priority is None:
        compiler.report(IssueCode.NO_PRIORITY_FIELD, f"{what} needs a priority: add a choice "
                        "field 'priority' (options from low to high) or set priority_field",
                        pointer)


# --- assignment ----------------------------------------------------------------------------

def assignment_rules(
    compiler: _Compiler, fields: Mapping[str, Field], priority: str | None
) -> tuple[AssignmentRule, ...]:
    """The typed `assignment` block, in order."""
    return tuple(_rule(compiler, data, index, fields, priority)
                 for index, data in enumerate(compiler.data.get("assignment", ())))


def _rule(compiler: _Compiler, data: Mapping[str, Any], index: int,
          fields: Mapping[str, Field], priority: str | None) -> AssignmentRule:
    pointer = f"/assignment/{index}"
    when = (compiler._expression(data["when"], compiler.field_ids, f"{pointer}/when")
            if "when" in data else None)
    skills = tuple(data.get("match_skills", ()))
    for position, name in enumerate(skills):
        where = f"{pointer}/match_skills/{position}"
        if compiler._ref("field", name, fields, where) \
                and fields[name].type not in SKILL_FIELD_TYPES:
            compiler.report(IssueCode.BAD_VALUE, f"'{name}' is a {fields[name].type} field; "
                            "skills come from choice, multi-choice, string or user fields",
                            where)
    weighted = bool(data.get("weight_by_priority")) or "priority_weights" in data
    weights: Mapping[str, float] = MappingProxyType({})
    if weighted:
        key = "priority_weights" if "priority_weights" in data else "weight_by_priority"
        _need_priority(compiler, priority, "weighting by priority", f"{pointer}/{key}")
        if priority is not None:
            weights = _weights(compiler, data.get("priority_weights"), fields[priority],
                               f"{pointer}/priority_weights")
    return AssignmentRule(
        index=index, pointer=pointer, team=data["team"],
        strategy=Strategy(data.get("strategy", Strategy.ROUND_ROBIN)), when=when,
        match_skills=skills, weight_by_priority=weighted, priority_weights=weights,
        capacity=data.get("capacity"),
    )


def _weights(compiler: _Compiler, given: Mapping[str, float] | None, field: Field,
             pointer: str) -> Mapping[str, float]:
    options = [option.value for option in field.options]
    weights: dict[str, float] = {value: float(rank) for rank, value in enumerate(options, 1)}
    for value, weight in (given or {}).items():
        if value not in weights:
            compiler.report(IssueCode.BAD_VALUE, f"'{value}' is not an option of "
                            f"'{field.id}'{did_you_mean(value, options)}", f"{pointer}/{value}")
            continue
        weights[value] = float(weight)
    return MappingProxyType(weights)


# --- sla -----------------------------------------------------------------------------------

def sla_policy(compiler: _Compiler, priority: str | None) -> SlaPolicy | None:
    """The typed `sla` block, or None when the definition has none."""
    data = compiler.data.get("sla")
    if data is None:
        return None
    targets = tuple(_target(compiler, target, index)
                    for index, target in enumerate(data.get("targets", ())))
    escalations = tuple(_escalation(compiler, step, index, priority)
                        for index, step in enumerate(data.get("escalate", ())))
    return SlaPolicy(
        calendar=data.get("calendar", ALWAYS_ID),
        targets=targets,
        warn_before=_duration(compiler, data.get("warn_before"), "/sla/warn_before"),
        escalations=escalations,
    )


def _target(compiler: _Compiler, data: Mapping[str, Any], index: int) -> SlaTarget:
    pointer = f"/sla/targets/{index}"
    when = (compiler._expression(data["when"], compiler.field_ids, f"{pointer}/when")
            if "when" in data else None)
    if not any(key in data for key in CLOCK_KEYS):
        compiler.report(IssueCode.MISSING_KEY, "a target needs at least one of "
                        + ", ".join(CLOCK_KEYS), pointer)
    clocks = {key: _duration(compiler, data.get(key), f"{pointer}/{key}") for key in CLOCK_KEYS}
    return SlaTarget(index=index, pointer=pointer, when=when, **clocks)


def _escalation(compiler: _Compiler, data: Mapping[str, Any], index: int,
                priority: str | None) -> Escalation:
    pointer = f"/sla/escalate/{index}"
    trigger = EscalationTrigger(data["on"])
    in_state = data.get("in_state")
    if in_state is not None:
        if trigger is not EscalationTrigger.STUCK:
            compiler.report(IssueCode.BAD_VALUE, "in_state applies to on: stuck only",
                            f"{pointer}/in_state")
        elif compiler._ref("state", in_state, compiler.state_ids, f"{pointer}/in_state"):
            _check_final(compiler, in_state, f"{pointer}/in_state")
    if trigger is EscalationTrigger.STUCK and "after" not in data:
        compiler.report(IssueCode.MISSING_KEY, "on: stuck needs after: how long in the state "
                        "is too long (e.g. 8h)", pointer)
    transition = data.get("transition")
    if transition is not None and compiler._ref("transition", transition,
                                                compiler.transition_ids,
                                                f"{pointer}/transition"):
        _check_transition_source(compiler, transition, in_state, f"{pointer}/transition")
    for key in ("notify", "copy"):
        compiler._refs("role", data.get(key, ()), compiler.roles, f"{pointer}/{key}")
    if data.get("raise_priority"):
        _need_priority(compiler, priority, "raise_priority", f"{pointer}/raise_priority")
    if not any(data.get(key) for key in ACTION_KEYS):
        compiler.report(IssueCode.MISSING_KEY, "an escalation needs an action: "
                        + ", ".join(ACTION_KEYS), pointer)
    return Escalation(
        index=index, pointer=pointer, on=trigger, in_state=in_state,
        after=_duration(compiler, data.get("after"), f"{pointer}/after"),
        notify=tuple(data.get("notify", ())), copy=tuple(data.get("copy", ())),
        reassign_to=data.get("reassign_to"), raise_priority=bool(data.get("raise_priority")),
        transition=transition,
    )


def _check_final(compiler: _Compiler, state: str, pointer: str) -> None:
    final = {s["id"] for s in compiler.data["states"] if s.get("final")}
    if state in final:
        compiler.report(IssueCode.BAD_VALUE, f"'{state}' is final; a finished ticket cannot "
                        "be stuck", pointer)


def _check_transition_source(compiler: _Compiler, transition: str, state: str | None,
                             pointer: str) -> None:
    if state is None:
        return  # any state: the runtime fires it only where it is possible
    data = next(t for t in compiler.data["transitions"] if t["id"] == transition)
    sources = data["from"]
    if sources == "*" or state in ([sources] if isinstance(sources, str) else sources):
        return
    compiler.report(IssueCode.TRANSITION_NOT_FROM_STATE, f"transition '{transition}' does not "
                    f"leave '{state}', so it cannot move a ticket stuck there", pointer)
