"""Routing and assignment strategies: a specification by tables of cases."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.assignment import (
    AssignmentDecision,
    Candidate,
    Outcome,
    SkipReason,
    assign,
    claim_refusal,
    decide_assignment,
)
from engine.compile import loads
from engine.model import AssignmentRule, Strategy, TicketType

DEFINITION = """\
ticket_type: desk
version: 2
name: Desk
number_prefix: DSK
fields:
  - {id: title, type: string}
  - {id: vip, type: boolean}
  - {id: region, type: choice, options: [north, south]}
  - {id: priority, type: choice, options: [normal, urgent, critical]}
  - {id: kind, type: choice, options: [repair, onsite, sales, other]}
  - {id: product, type: choice, options: [printer, laptop]}
  - {id: needs, type: multi_choice, options: [network, Soldering]}
  - {id: qty, type: number}
states:
  - {id: new, initial: true}
  - {id: done, final: true}
transitions:
  - {id: finish, from: new, to: done}
assignment:
  - {when: "10 / qty > 1", team: tiny-orders, strategy: round_robin}
  - {when: "vip", team: vip-desk, strategy: least_loaded}
  - {when: "region == 'north'", team: north, strategy: round_robin}
  - {when: "priority == 'critical'", team: senior, strategy: least_loaded,
     weight_by_priority: true, capacity: 3}
  - {when: "kind == 'repair'", team: repair, strategy: skill_match,
     match_skills: [product, needs]}
  - {when: "kind == 'onsite'", team: field, match_skills: [product]}
  - {when: "kind == 'sales'", team: sales, strategy: claim_pool, capacity: 2}
"""


@pytest.fixture(scope="module")
def desk() -> TicketType:
    return loads(DEFINITION, "desk.yaml")


def rule_of(desk: TicketType, team: str) -> AssignmentRule:
    return next(rule for rule in desk.assignment_rules if rule.team == team)


def reasons(decision: AssignmentDecision) -> dict[str, str | None]:
    return {v.agent: None if v.reason is None else str(v.reason) for v in decision.candidates}


# --- routing by condition -------------------------------------------------------------------

ROUTES = [
    ("vip-first", {"vip": True, "region": "north"}, "vip-desk", 1),
    ("region", {"region": "north", "priority": "critical"}, "north", 2),
    ("priority", {"region": "south", "priority": "critical"}, "senior", 3),
    ("product-line", {"kind": "repair"}, "repair", 4),
    ("nothing-matches", {"kind": "other"}, None, None),
]


@pytest.mark.parametrize(("values", "team", "rule"), [c[1:] for c in ROUTES],
                         ids=[c[0] for c in ROUTES])
def test_the_first_rule_whose_condition_holds_picks_the_team(
    desk: TicketType, values: dict[str, Any], team: str | None, rule: int | None
):
    decision = decide_assignment(desk, values, {})
    assert (decision.team, decision.rule) == (team, rule)
    assert decision.outcome is (Outcome.UNROUTED if team is None else Outcome.QUEUED)
    matched = [check.index for check in decision.rules_checked if check.matched]
    assert matched == ([] if rule is None else [rule])


def test_a_condition_that_cannot_be_evaluated_is_recorded_and_skipped(desk: TicketType):
    decision = decide_assignment(desk, {"qty": 0, "vip": True}, {})
    assert decision.team == "vip-desk"
    first = decision.rules_checked[0]
    assert first.matched is False
    assert first.error is not None


# --- why each candidate was skipped ---------------------------------------------------------

SKIPS = [
    ("on-leave", "north", {"on_leave": True, "on_shift": False}, {}, SkipReason.ON_LEAVE),
    ("off-shift", "north", {"on_shift": False}, {}, SkipReason.OFF_SHIFT),
    ("away", "north", {"away": True}, {}, SkipReason.AWAY),
    ("at-rule-capacity", "senior", {"open_tickets": 3}, {}, SkipReason.AT_CAPACITY),
    ("own-capacity-wins", "north", {"open_tickets": 1, "capacity": 1}, {},
     SkipReason.AT_CAPACITY),
    ("lacks-a-required-skill", "field", {"skills": frozenset({"laptop"})},
     {"product": "printer"}, SkipReason.MISSING_SKILLS),
    ("skill-match-needs-one-skill", "repair", {"skills": frozenset({"phones"})},
     {"product": "printer"}, SkipReason.MISSING_SKILLS),
]


@pytest.mark.parametrize(("team", "changes", "values", "reason"), [c[1:] for c in SKIPS],
                         ids=[c[0] for c in SKIPS])
def test_every_skip_reason(desk: TicketType, team: str, changes: dict[str, Any],
                           values: dict[str, Any], reason: SkipReason):
    skills = frozenset({"printer", "laptop", "network", "soldering"})
    ok = Candidate("ok", skills=skills)
    odd = Candidate("odd", **{"skills": skills, **changes})
    decision = assign(rule_of(desk, team), values, [odd, ok])
    assert decision.winner == "ok"
    assert reasons(decision)["odd"] == str(reason)


def test_more_loaded_and_fewer_skills(desk: TicketType):
    repair = rule_of(desk, "repair")
    people = [
        Candidate("ann", open_tickets=5, skills=frozenset({"printer", "network"})),
        Candidate("bob", open_tickets=1, skills=frozenset({"printer"})),
        Candidate("cat", open_tickets=2, skills=frozenset({"Printer", "NETWORK"})),
    ]
    decision = assign(repair, {"product": "printer", "needs": ["network"]}, people)
    assert decision.required_skills == ("network", "printer")
    assert decision.winner == "cat"  # best match, then the lighter load of the two
    assert reasons(decision) == {"ann": "more_loaded", "bob": "fewer_skills", "cat": None}


def test_nobody_available_waits_in_the_team_queue_and_the_lead_is_told(desk: TicketType):
    people = [Candidate("ann", on_shift=False), Candidate("bob", away=True)]
    decision = decide_assignment(desk, {"region": "north"}, {"north": people},
                                 {"north": "ann"})
    assert decision.outcome is Outcome.QUEUED
    assert decision.winner is None
    assert decision.notify_lead is True
    assert decision.pointer_after == "ann", "the rotation does not move without a pick"
    assert reasons(decision) == {"ann": "off_shift", "bob": "away"}


# --- round robin ----------------------------------------------------------------------------

ROTATION = [
    ("no-pointer-starts-at-the-first", None, set(), "ann"),
    ("after-the-pointer", "ann", set(), "bob"),
    ("wraps-around", "cat", set(), "ann"),
    ("skips-the-unavailable", "ann", {"bob"}, "cat"),
    ("pointer-left-the-team", "bea", set(), "bob"),
    ("only-the-last-picked-is-left", "bob", {"ann", "cat"}, "bob"),
]


@pytest.mark.parametrize(("pointer", "off", "winner"), [c[1:] for c in ROTATION],
                         ids=[c[0] for c in ROTATION])
def test_round_robin_rotates_in_a_stable_order(desk: TicketType, pointer: str | None,
                                               off: set[str], winner: str):
    people = [Candidate(name, on_shift=name not in off) for name in ("cat", "ann", "bob")]
    decision = assign(rule_of(desk, "north"), {}, people, pointer)
    assert decision.winner == winner
    assert decision.pointer_after == winner
    skipped = {name for name, reason in reasons(decision).items()
               if reason == "not_next_in_rotation"}
    assert skipped == {"ann", "bob", "cat"} - off - {winner}


@settings(max_examples=50, deadline=None)
@given(agents=st.integers(1, 8), tickets=st.integers(1, 200), seed=st.integers(0, 1000))
def test_round_robin_is_fair_over_many_tickets(desk: TicketType, agents: int, tickets: int,
                                               seed: int):
    names = [f"agent{n:02d}" for n in range(agents)]
    random.Random(seed).shuffle(names)  # the order the runtime lists them in does not matter
    people = [Candidate(name) for name in names]
    rule = rule_of(desk, "north")
    pointer, counts = None, Counter[str]()
    for _ in range(tickets):
        decision = assign(rule, {}, people, pointer)
        assert decision.winner is not None
        counts[decision.winner] += 1
        pointer = decision.pointer_after
    assert max(counts.values()) - min(counts.get(n, 0) for n in names) <= 1


# --- least loaded ---------------------------------------------------------------------------

def test_least_loaded_weighs_open_tickets_by_priority(desk: TicketType):
    senior = rule_of(desk, "senior")  # weights: normal 1, urgent 2, critical 3
    people = [
        Candidate("ann", open_tickets=2, open_by_priority={"critical": 2}),  # load 6
        Candidate("bob", open_tickets=2, open_by_priority={"normal": 1}),  # 1 + 1 uncounted
        Candidate("cat", open_tickets=1, open_by_priority={"urgent": 1}),  # load 2
    ]
    decision = assign(senior, {}, people)
    assert decision.winner == "bob"
    assert {v.agent: v.load for v in decision.candidates} == {"ann": 6.0, "bob": 2.0,
                                                               "cat": 2.0}
    assert reasons(decision) == {"ann": "more_loaded", "bob": None,
                                 "cat": "not_next_in_rotation"}


def test_least_loaded_ties_follow_the_rotation(desk: TicketType):
    vip = rule_of(desk, "vip-desk")
    people = [Candidate("ann", open_tickets=1), Candidate("bob", open_tickets=1),
              Candidate("cat", open_tickets=4)]
    assert assign(vip, {}, people, "ann").winner == "bob"
    assert assign(vip, {}, people, "bob").winner == "ann"


# --- claim pool -----------------------------------------------------------------------------

def test_claim_pool_picks_nobody_and_lists_who_may_claim(desk: TicketType):
    people = [Candidate("ann"), Candidate("bob", open_tickets=2), Candidate("cat", on_leave=True)]
    decision = decide_assignment(desk, {"kind": "sales"}, {"sales": people})
    assert decision.outcome is Outcome.POOL
    assert decision.pool is True
    assert decision.winner is None
    assert decision.notify_lead is False
    assert reasons(decision) == {"ann": None, "bob": "at_capacity", "cat": "on_leave"}


def test_an_empty_pool_tells_the_lead(desk: TicketType):
    decision = decide_assignment(desk, {"kind": "sales"}, {"sales": []})
    assert decision.notify_lead is True


@pytest.mark.parametrize(("candidate", "refusal"), [
    (Candidate("ann"), None),
    (Candidate("ann", on_shift=False, away=True), None),  # claiming: evidently at work
    (Candidate("ann", open_tickets=2), SkipReason.AT_CAPACITY),
], ids=["may", "present-when-claiming", "full"])
def test_claim_refusal(desk: TicketType, candidate: Candidate, refusal: SkipReason | None):
    assert claim_refusal(rule_of(desk, "sales"), {"kind": "sales"}, candidate) is refusal


# --- the record -----------------------------------------------------------------------------

def test_decisions_are_deterministic_and_serialisable(desk: TicketType):
    people = [Candidate(n, open_tickets=i % 3, skills=frozenset({"printer"}))
              for i, n in enumerate(["dan", "ann", "eve", "bob", "cat"])]
    values = {"kind": "repair", "product": "printer"}
    first = decide_assignment(desk, values, {"repair": people}, {"repair": "bob"})
    shuffled = list(reversed(people))
    again = decide_assignment(desk, values, {"repair": shuffled}, {"repair": "bob"})
    assert first == again
    record = json.loads(json.dumps(first.to_dict()))
    assert record["winner"] == first.winner == "dan"
    assert record["strategy"] == str(Strategy.SKILL_MATCH)
    assert record["rule_pointer"] == "/assignment/4"
    assert [c["agent"] for c in record["candidates"]] == ["ann", "bob", "cat", "dan", "eve"]


# --- one decision, however it is asked for --------------------------------------------------

ONE_DECISION = [
    ("skill-match", {"kind": "repair", "product": "printer"}, "repair"),
    ("round-robin", {"region": "north"}, "north"),
    ("claim-pool", {"kind": "sales"}, "sales"),
    ("nobody", {"kind": "repair", "product": "laptop", "needs": ["network"]}, "repair"),
]


@pytest.mark.parametrize(("values", "team"), [case[1:] for case in ONE_DECISION],
                         ids=[case[0] for case in ONE_DECISION])
@pytest.mark.parametrize("people", [1, 2, 5], ids=["one", "two", "five"])
def test_assign_with_the_rules_checked_is_decide_assignment(
        desk: TicketType, values: dict[str, Any], team: str, people: int) -> None:
    # Routing calls `assign` with what `route` tried; the decision, to its JSON, is the
    # one `decide_assignment` gives (a team of one agent takes no shortcut in the why).
    from engine.assignment import route

    team_of = [Candidate(f"a{i}", open_tickets=i % 3, skills=frozenset({"printer"}))
               for i in reversed(range(people))]
    rule, checks = route(desk, values)
    assert rule is not None
    direct = assign(rule, values, team_of, "a0", rules_checked=checks)
    whole = decide_assignment(desk, values, {team: team_of}, {team: "a0"})
    assert direct.to_dict() == whole.to_dict()
    assert direct.rules_checked == checks
    assert assign(rule, values, team_of, "a0").rules_checked == ()
