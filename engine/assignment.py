"""Routing and assignment, pure: which team gets a ticket, and which agent of it.

The runtime gathers the facts — each candidate's open tickets, skills, capacity and
whether they are on shift, on leave or away (`engine.calendar.AgentSchedule` answers
the first two), and the team's round-robin pointer — and stores what comes back: the
winner, the new pointer and the why (`AssignmentDecision.to_dict()`).

Strategies (`Strategy`):

* round robin — agents in a stable order (by id), starting after the team's pointer
  (the last agent picked), first available one wins; so the rotation is fair and
  survives restarts and several processes as long as the pointer is stored;
* least loaded — the fewest open tickets (weighted by priority if the rule says so);
  ties go to whoever is next in the rotation;
* skill match — most of the ticket's required skills, then least loaded, then rotation;
* claim pool (抢单) — nobody is picked: the team sees the ticket and the first claim
  wins (atomically, in the runtime); `claim_refusal` says whether an agent may claim.

Nobody available → the ticket waits in the team queue and the lead is told. Every
decision is deterministic: the same facts always give the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple

from engine.errors import EvaluationError
from engine.model import AssignmentRule, Strategy, TicketType


class SkipReason(StrEnum):
    """Why a candidate was not picked (checked in this order; the first applies)."""

    ON_LEAVE = "on_leave"
    OFF_SHIFT = "off_shift"
    AWAY = "away"
    AT_CAPACITY = "at_capacity"
    MISSING_SKILLS = "missing_skills"  # lacks a required skill (skill match: has none)
    FEWER_SKILLS = "fewer_skills"  # skill match: another agent has more of them
    MORE_LOADED = "more_loaded"
    NOT_NEXT_IN_ROTATION = "not_next_in_rotation"


class Outcome(StrEnum):
    ASSIGNED = "assigned"  # `winner` gets the ticket
    QUEUED = "queued"  # nobody qualifies: the ticket waits in the team queue; tell the lead
    POOL = "pool"  # claim pool: the team sees it, the first claim wins
    UNROUTED = "unrouted"  # no assignment rule applies


@dataclass(frozen=True, slots=True)
class Candidate:
    """One agent of the team, as the runtime sees them right now."""

    id: str
    open_tickets: int = 0
    # open tickets per priority value, for rules weighted by priority (a ticket not
    # counted here weighs 1)
    open_by_priority: Mapping[str, int] = field(default_factory=dict)
    capacity: int | None = None  # overrides the rule's capacity
    skills: frozenset[str] = frozenset()
    on_shift: bool = True
    on_leave: bool = False
    away: bool = False


class Verdict(NamedTuple):
    """What the decision made of one candidate. (A named tuple, not a frozen dataclass:
    a decision makes one per candidate, and building hundreds of frozen dataclasses alone
    took most of a millisecond.)"""

    agent: str
    reason: SkipReason | None  # None: the winner, or (claim pool) may claim
    load: float
    open_tickets: int
    matched_skills: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "reason": None if self.reason is None else str(self.reason),
                "load": self.load, "open_tickets": self.open_tickets,
                "matched_skills": list(self.matched_skills)}


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One assignment rule tried, in order, until one matched."""

    index: int
    matched: bool
    error: str | None = None  # its condition could not be evaluated (counts as not matched)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "matched": self.matched, "error": self.error}


@dataclass(frozen=True)
class AssignmentDecision:
    """Where a ticket goes, and why."""

    outcome: Outcome
    rule: int | None = None
    rule_pointer: str | None = None
    team: str | None = None
    strategy: Strategy | None = None
    winner: str | None = None
    candidates: tuple[Verdict, ...] = ()
    required_skills: tuple[str, ...] = ()
    pointer_before: str | None = None
    pointer_after: str | None = None  # store it as the team's round-robin pointer
    rules_checked: tuple[RuleCheck, ...] = ()

    @property
    def pool(self) -> bool:
        return self.outcome is Outcome.POOL

    @property
    def notify_lead(self) -> bool:
        """Nobody can take the ticket now: the team lead should be told."""
        return self.outcome is Outcome.QUEUED or (
            self.outcome is Outcome.POOL and all(v.reason is not None for v in self.candidates))

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape to store with the assignment event (the timeline shows it)."""
        return {
            "outcome": str(self.outcome), "rule": self.rule, "rule_pointer": self.rule_pointer,
            "team": self.team, "strategy": None if self.strategy is None else str(self.strategy),
            "winner": self.winner, "notify_lead": self.notify_lead,
            "required_skills": list(self.required_skills),
            "pointer_before": self.pointer_before, "pointer_after": self.pointer_after,
            "candidates": [v.to_dict() for v in self.candidates],
            "rules_checked": [r.to_dict() for r in self.rules_checked],
        }


def route(
    ticket_type: TicketType, values: Mapping[str, Any]
) -> tuple[AssignmentRule | None, tuple[RuleCheck, ...]]:
    """The first assignment rule whose `when` holds for these values (None: no rule)."""
    checks = []
    for rule in ticket_type.assignment_rules:
        error = None
        try:
            matched = rule.when is None or rule.when.holds(values)
        except EvaluationError as failure:
            matched, error = False, failure.reason
        checks.append(RuleCheck(rule.index, matched, error))
        if matched:
            return rule, tuple(checks)
    return None, tuple(checks)


def decide_assignment(
    ticket_type: TicketType,
    values: Mapping[str, Any],
    candidates: Mapping[str, Sequence[Candidate]],
    pointers: Mapping[str, str | None] | None = None,
) -> AssignmentDecision:
    """Route the ticket and pick an agent of the team: `candidates` and `pointers` are
    keyed by team (a team left out has nobody)."""
    rule, checks = route(ticket_type, values)
    if rule is None:
        return AssignmentDecision(Outcome.UNROUTED, rules_checked=checks)
    return assign(rule, values, candidates.get(rule.team, ()),
                  (pointers or {}).get(rule.team), rules_checked=checks)


def required_skills(rule: AssignmentRule, values: Mapping[str, Any]) -> tuple[str, ...]:
    """The skills a ticket needs: the values of the rule's `match_skills` fields."""
    needed: set[str] = set()
    for name in rule.match_skills:
        value = values.get(name)
        items = value if isinstance(value, list | tuple) else [value]
        needed.update(_skill(item) for item in items if item not in (None, ""))
    return tuple(sorted(needed))


def _skill(value: Any) -> str:
    # Skill tags are compared without regard to case or surrounding blanks.
    return str(value).strip().casefold()


def load_of(rule: AssignmentRule, candidate: Candidate) -> float:
    """The load the rule compares: open tickets, each weighted by its priority if asked."""
    return _load(rule.priority_weights if rule.weight_by_priority else None, candidate)


def _load(weights: Mapping[str, float] | None, candidate: Candidate) -> float:
    if weights is None:
        return float(candidate.open_tickets)
    counted, weighted = 0, 0.0
    for priority, number in candidate.open_by_priority.items():
        counted += number
        weighted += weights.get(priority, 1.0) * number
    return weighted + max(candidate.open_tickets - counted, 0)


def claim_refusal(
    rule: AssignmentRule, values: Mapping[str, Any], candidate: Candidate
) -> SkipReason | None:
    """Why this agent may not claim the ticket from the pool (None: they may). Someone
    claiming is evidently at work, so only capacity and skills count here."""
    return _unavailable(rule, candidate, required_skills(rule, values), claiming=True)


_NO_SKILLS: frozenset[str] = frozenset()


def _by_id(candidate: Candidate) -> str:
    return candidate.id


def _skills_of(candidate: Candidate) -> frozenset[str]:
    return _normalised(candidate.skills)


@lru_cache(maxsize=4096)
def _normalised(skills: frozenset[str]) -> frozenset[str]:
    # A team has few distinct skill sets: normalise each once, not per candidate per ticket.
    return frozenset(_skill(s) for s in skills)


def _unavailable(rule: AssignmentRule, candidate: Candidate, required: tuple[str, ...],
                 *, claiming: bool = False,
                 have: frozenset[str] | None = None) -> SkipReason | None:
    if not claiming:
        if candidate.on_leave:
            return SkipReason.ON_LEAVE
        if not candidate.on_shift:
            return SkipReason.OFF_SHIFT
        if candidate.away:
            return SkipReason.AWAY
    capacity = candidate.capacity if candidate.capacity is not None else rule.capacity
    if capacity is not None and candidate.open_tickets >= capacity:
        return SkipReason.AT_CAPACITY
    if required:
        have = _skills_of(candidate) if have is None else have
        if rule.strategy is Strategy.SKILL_MATCH:
            if not have.intersection(required):
                return SkipReason.MISSING_SKILLS
        elif not have.issuperset(required):
            return SkipReason.MISSING_SKILLS
    return None


def assign(
    rule: AssignmentRule,
    values: Mapping[str, Any],
    candidates: Sequence[Candidate],
    pointer: str | None = None,
    *,
    rules_checked: tuple[RuleCheck, ...] = (),
) -> AssignmentDecision:
    """Apply one rule's strategy to the team's candidates; `pointer` is the team's
    round-robin pointer (the agent picked last); `rules_checked` is carried into the
    decision (what `route` tried before this rule matched)."""
    required = required_skills(rule, values)
    # Each candidate's facts are worked out once (skills normalised, load weighed): a
    # team of hundreds is decided well under a millisecond (bench/sla.py).
    facts: list[Verdict] = []
    # A plain dict: lookups in the rule's read-only mapping cost more, 500 agents x 3 times.
    weights = dict(rule.priority_weights) if rule.weight_by_priority else None
    for person in (sorted(candidates, key=_by_id) if len(candidates) > 1 else candidates):
        have = _skills_of(person) if required else _NO_SKILLS
        matched = tuple([skill for skill in required if skill in have]) if have else ()
        facts.append(Verdict(person.id, _unavailable(rule, person, required, have=have),
                             _load(weights, person), person.open_tickets, matched))
    outcome, winner, verdicts = _pick(rule, facts, pointer)
    # One decision built once (no `replace` copies: routing decides on every creation).
    return AssignmentDecision(
        outcome, rule=rule.index, rule_pointer=rule.pointer, team=rule.team,
        strategy=rule.strategy, winner=winner, candidates=verdicts, required_skills=required,
        pointer_before=pointer, pointer_after=pointer if winner is None else winner,
        rules_checked=rules_checked)


def _pick(rule: AssignmentRule, facts: list[Verdict], pointer: str | None
          ) -> tuple[Outcome, str | None, tuple[Verdict, ...]]:
    """The outcome, the winner and every candidate's verdict (the losers' reasons)."""
    if rule.strategy is Strategy.CLAIM_POOL:
        return Outcome.POOL, None, tuple(facts)
    eligible = [verdict for verdict in facts if verdict.reason is None]
    if not eligible:
        return Outcome.QUEUED, None, tuple(facts)
    winner = (eligible[0] if len(eligible) == 1
              else min(eligible, key=lambda verdict: _rank(rule, verdict, pointer)))
    verdicts = tuple(verdict if verdict.reason is not None or verdict is winner
                     else Verdict(verdict.agent, _lost(rule, verdict, winner), verdict.load,
                                  verdict.open_tickets, verdict.matched_skills)
                     for verdict in facts)
    return Outcome.ASSIGNED, winner.agent, verdicts


def _rotation(agent: str, pointer: str | None) -> tuple[int, str]:
    # Agents after the pointer come first (ascending), then the rest from the start:
    # the last agent picked is the last in line. An agent who left the team leaves no gap.
    return (0 if pointer is None or agent > pointer else 1, agent)


def _rank(rule: AssignmentRule, verdict: Verdict, pointer: str | None) -> tuple[Any, ...]:
    rotation = _rotation(verdict.agent, pointer)
    if rule.strategy is Strategy.ROUND_ROBIN:
        return rotation
    if rule.strategy is Strategy.LEAST_LOADED:
        return (verdict.load, rotation)
    return (-len(verdict.matched_skills), verdict.load, rotation)


def _lost(rule: AssignmentRule, loser: Verdict, winner: Verdict) -> SkipReason:
    if rule.strategy is Strategy.SKILL_MATCH \
            and len(loser.matched_skills) < len(winner.matched_skills):
        return SkipReason.FEWER_SKILLS
    if rule.strategy is not Strategy.ROUND_ROBIN and loser.load > winner.load:
        return SkipReason.MORE_LOADED
    return SkipReason.NOT_NEXT_IN_ROTATION
