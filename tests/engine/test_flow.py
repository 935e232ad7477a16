"""Who may fire what, where it leads, and who may edit which field in each state."""

from __future__ import annotations

import pytest

from engine.compile import loads
from engine.flow import (
    Access,
    Refusal,
    available_transitions,
    check_transition,
    creation_transitions,
    field_access,
    resolve_branch,
)
from tests.conftest import MINIMAL

# (state, roles, transitions offered, in definition order)
OFFERED = [
    ("new", {"requester"}, ["submit"]),
    ("hardware_check", {"agent"}, ["checked", "ask_customer"]),
    ("hardware_check", {"requester"}, []),
    ("repairing", {"agent"}, ["ask_customer", "resolve"]),
    ("waiting_customer", {"requester"}, ["customer_replied"]),
    ("resolved", {"requester"}, ["confirm", "reopen"]),
    ("resolved", {"agent"}, []),
    ("closed", {"admin", "supervisor", "agent", "requester"}, []),
]


@pytest.mark.parametrize(("state", "roles", "expected"), OFFERED,
                         ids=[f"{o[0]}-{'+'.join(sorted(o[1]))}" for o in OFFERED])
def test_available_transitions(repair, state: str, roles: set[str], expected: list[str]):
    assert [t.id for t in available_transitions(repair, state, roles, {})] == expected


@pytest.mark.parametrize(("transition", "state", "roles", "refusal"), [
    ("resolve", "repairing", {"agent"}, None),
    ("resolve", "repairing", {"requester"}, Refusal.ROLE_NOT_ALLOWED),
    ("resolve", "new", {"agent"}, Refusal.NOT_FROM_THIS_STATE),
    ("fly", "new", {"agent"}, Refusal.UNKNOWN_TRANSITION),
], ids=["allowed", "wrong-role", "wrong-state", "unknown"])
def test_check_transition(repair, transition, state, roles, refusal):
    assert check_transition(repair, transition, state, roles, {}) == refusal


def test_available_when_guards_a_transition():
    text = MINIMAL.replace(
        "  - {id: title, type: string, required: true}\n",
        "  - {id: title, type: string, required: true}\n  - {id: amount, type: number}\n",
    ).replace("  - {id: finish, from: new, to: done}\n",
              "  - {id: finish, from: new, to: done}\n"
              "  - {id: approve, from: new, to: done, available_when: 'amount > 1000'}\n")
    guarded = loads(text, "d.yaml")
    small, large = {"amount": 10}, {"amount": 5000}
    refusal = check_transition(guarded, "approve", "new", {"agent"}, small)
    assert refusal == Refusal.CONDITION_NOT_MET
    assert check_transition(guarded, "approve", "new", {"agent"}, large) is None


def test_branches_first_match_wins_with_a_default(repair):
    submit = repair.transition_by_id["submit"]
    assert resolve_branch(submit, {"fault": "software"}).state == "repairing"
    chosen = resolve_branch(submit, {"fault": "hardware"})
    assert (chosen.state, chosen.index, chosen.condition) == ("hardware_check", 2, None)
    repeat = resolve_branch(submit, {"fault": "software", "repeat_repair": True})
    assert (repeat.state, repeat.index, repeat.condition) == ("hardware_check", 0,
                                                              "repeat_repair")


def test_field_access_per_state_and_role(repair):
    as_agent = field_access(repair, "repairing", {"agent"})
    assert as_agent["technician"] is Access.EDITABLE
    assert as_agent["device"] is Access.READ_ONLY
    assert as_agent["id_card"] is Access.READ_ONLY
    as_requester = field_access(repair, "repairing", {"requester"})
    assert as_requester["technician"] is Access.READ_ONLY
    assert as_requester["id_card"] is Access.HIDDEN
    assert field_access(repair, "closed", {"agent"})["technician"] is Access.READ_ONLY


def test_creation_transitions(repair):
    assert [t.id for t in creation_transitions(repair, {"requester"})] == ["submit"]
