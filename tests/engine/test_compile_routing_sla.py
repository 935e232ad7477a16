"""The `assignment` and `sla` blocks compile to typed rules, and their mistakes are
refused with located issues."""

from __future__ import annotations

import pytest

from engine.compile import loads
from engine.errors import DefinitionError
from engine.model import EscalationTrigger, SlaMode, Strategy

BASE = """\
ticket_type: svc
version: 3
name: Service
number_prefix: SVC
fields:
  - {id: title, type: string, required: true}
  - {id: priority, type: choice, options: [low, normal, high], default: normal}
  - {id: region, type: choice, options: [north, south]}
  - {id: skills, type: multi_choice, options: [printer, network]}
  - {id: qty, type: number}
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
  - {id: auto_close, from: waiting, to: done}
  - {id: close, from: solved, to: done}
assignment:
  - {when: "region == 'north'", team: north-desk, strategy: least_loaded, capacity: 8,
     priority_weights: {high: 5}}
  - {team: desk, strategy: skill_match, match_skills: [skills]}
sla:
  calendar: cn-workdays
  targets:
    - {when: "priority == 'high'", first_response: 30m, resolution: 4h}
    - {first_response: 4h, next_response: 8h, resolution: 2d}
  warn_before: 30m
  escalate:
    - {on: resolution_breach, notify: [supervisor], raise_priority: true}
    - {on: resolution_breach, after: 2h, reassign_to: senior, copy: [admin]}
    - {on: stuck, in_state: waiting, after: 3d, transition: auto_close}
    - {on: stuck, after: 1d, notify: [assignee]}
"""


def test_blocks_compile_to_typed_rules():
    ticket_type = loads(BASE, "svc.yaml")
    first, second = ticket_type.assignment_rules
    assert (first.team, first.strategy, first.capacity) == ("north-desk", Strategy.LEAST_LOADED, 8)
    assert first.weight_by_priority is True
    assert dict(first.priority_weights) == {"low": 1.0, "normal": 2.0, "high": 5.0}
    assert (second.strategy, second.match_skills) == (Strategy.SKILL_MATCH, ("skills",))
    policy = ticket_type.sla_policy
    assert policy is not None
    assert policy.calendar == "cn-workdays"
    assert [t.resolution.text for t in policy.targets if t.resolution] == ["4h", "2d"]
    assert policy.warn_before is not None
    assert policy.warn_before.minutes == 30
    assert [e.on for e in policy.escalations] == [
        EscalationTrigger.RESOLUTION_BREACH, EscalationTrigger.RESOLUTION_BREACH,
        EscalationTrigger.STUCK, EscalationTrigger.STUCK]
    assert ticket_type.priority_field == "priority"
    assert ticket_type.state_by_id["solved"].sla is SlaMode.STOP
    # the raw blocks stay available as written
    assert ticket_type.sla is not None
    assert ticket_type.sla["calendar"] == "cn-workdays"


def test_defaults():
    text = BASE.replace("strategy: skill_match, ", "").replace("  calendar: cn-workdays\n", "")
    ticket_type = loads(text, "svc.yaml")
    assert ticket_type.assignment_rules[1].strategy is Strategy.ROUND_ROBIN
    assert ticket_type.sla_policy is not None
    assert ticket_type.sla_policy.calendar == "24x7"


# (id, old, new, code, pointer)
BROKEN = [
    ("unknown-skill-field", "match_skills: [skills]", "match_skills: [skils]", "unknown-field",
     "/assignment/1/match_skills/0"),
    ("skill-field-of-wrong-type", "match_skills: [skills]", "match_skills: [qty]", "bad-value",
     "/assignment/1/match_skills/0"),
    ("unknown-name-in-rule", "when: \"region == 'north'\"", "when: \"regoin == 'north'\"",
     "unknown-name", "/assignment/0/when"),
    ("weight-of-no-option", "priority_weights: {high: 5}", "priority_weights: {hihg: 5}",
     "bad-value", "/assignment/0/priority_weights/hihg"),
    ("unknown-strategy", "strategy: least_loaded", "strategy: fewest", "not-allowed-value",
     "/assignment/0/strategy"),
    ("zero-capacity", "capacity: 8", "capacity: 0", "bad-value", "/assignment/0/capacity"),
    ("unknown-state", "in_state: waiting", "in_state: wating", "unknown-state",
     "/sla/escalate/2/in_state"),
    ("final-state-cannot-be-stuck", "in_state: waiting, after: 3d, transition: auto_close",
     "in_state: done, after: 3d, notify: [agent]", "bad-value", "/sla/escalate/2/in_state"),
    ("in-state-on-a-breach", "after: 2h, reassign_to", "in_state: review, reassign_to",
     "bad-value", "/sla/escalate/1/in_state"),
    ("unknown-transition", "transition: auto_close", "transition: auto_clos",
     "unknown-transition", "/sla/escalate/2/transition"),
    ("transition-not-from-the-state", "transition: auto_close", "transition: close",
     "transition-not-from-state", "/sla/escalate/2/transition"),
    ("unknown-role-in-notify", "notify: [supervisor]", "notify: [superviser]", "unknown-role",
     "/sla/escalate/0/notify/0"),
    ("unknown-role-in-copy", "copy: [admin]", "copy: [boss]", "unknown-role",
     "/sla/escalate/1/copy/0"),
    ("zero-duration", "first_response: 30m", "first_response: 0m", "bad-duration",
     "/sla/targets/0/first_response"),
    ("zero-after", "after: 2h", "after: 0h0m", "bad-duration", "/sla/escalate/1/after"),
    ("duration-typo", "warn_before: 30m", "warn_before: 30min", "bad-value", "/sla/warn_before"),
    ("stuck-without-after", "in_state: waiting, after: 3d,", "in_state: waiting,", "missing-key",
     "/sla/escalate/2"),
    ("escalation-without-action", "after: 1d, notify: [assignee]", "after: 1d", "missing-key",
     "/sla/escalate/3"),
    ("target-without-clock", "first_response: 4h, next_response: 8h, resolution: 2d",
     "when: \"qty > 1\"", "missing-key", "/sla/targets/1"),
    ("unknown-name-in-target", "when: \"priority == 'high'\"", "when: \"prio == 'high'\"",
     "unknown-name", "/sla/targets/0/when"),
    ("raise-without-priority", "  - {id: priority, type: choice, options: [low, normal, high], "
     "default: normal}\n", "", "no-priority-field", "/sla/escalate/0/raise_priority"),
    ("priority-field-not-a-choice", "number_prefix: SVC\n", "number_prefix: SVC\n"
     "priority_field: qty\n", "bad-value", "/priority_field"),
    ("bad-calendar-id", "calendar: cn-workdays", "calendar: CN", "bad-value", "/sla/calendar"),
]


@pytest.mark.parametrize(("old", "new", "code", "pointer"), [c[1:] for c in BROKEN],
                         ids=[c[0] for c in BROKEN])
def test_broken_blocks_are_refused_with_located_issues(old: str, new: str, code: str,
                                                      pointer: str):
    assert BASE.count(old) == 1
    with pytest.raises(DefinitionError) as raised:
        loads(BASE.replace(old, new), "svc.yaml")
    found = {(i.code, i.pointer): i for i in raised.value.issues}
    assert (code, pointer) in found, raised.value.codes
    assert found[(code, pointer)].line is not None


def test_priority_weights_need_a_priority_field():
    text = BASE.replace("  - {id: priority, type: choice, options: [low, normal, high], "
                        "default: normal}\n", "").replace(
        "    - {on: resolution_breach, notify: [supervisor], raise_priority: true}\n", "").replace(
        "when: \"priority == 'high'\"", "when: \"qty > 5\"")
    with pytest.raises(DefinitionError) as raised:
        loads(text, "svc.yaml")
    assert [(i.code, i.pointer) for i in raised.value.issues] == [
        ("no-priority-field", "/assignment/0/priority_weights")]
