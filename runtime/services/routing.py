"""Routing a ticket to a team and an agent: the runtime half of `engine.assignment`.

The engine decides from facts; this module gathers them in the ticket's transaction —
the team named by the matching rule, its members with their open tickets, skills,
capacity, schedule and away switch, and the team's round-robin pointer — and stores
what comes back: the ticket's team and assignee, the new pointer, and an `assigned`
event carrying the whole decision (the rule, every candidate with why they were
skipped, the winner), which the timeline shows.

The team, its lead and its pointer are read by one upsert of the pointer row, which
stays locked for the rest of the transaction (PostgreSQL: the row lock of `ON CONFLICT
DO UPDATE`; SQLite: the writer lock taken at `BEGIN IMMEDIATE`), so concurrent creations
in any number of processes continue one rotation instead of both picking the same agent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal_column, null, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.assignment import (
    AssignmentDecision,
    Candidate,
    Outcome,
    SkipReason,
    assign,
    claim_refusal,
    route,
)
from engine.model import AssignmentRule, Strategy, TicketType
from runtime.models import Membership, Role, Team, TeamRotation, Ticket, User
from runtime.prepared import Prepared
from runtime.services.agents import compiled_schedule

STAFF_ROLES = (str(Role.AGENT), str(Role.SUPERVISOR))


@dataclass(frozen=True)
class Routed:
    """Where a ticket goes: the decision, and the rows it names (ids None when the
    ticket stays unrouted or its team does not exist in this installation)."""

    decision: AssignmentDecision
    team_id: int | None
    assignee_id: int | None
    lead: str | None = None  # the team lead's user name (told when nobody qualified)
    missing_team: str | None = None

    def event_data(self) -> dict[str, Any]:
        """The `assigned` event's payload: the engine's why, the team lead (told when
        nobody qualified) and a team the installation lacks."""
        data = self.decision.to_dict()
        if self.lead is not None:
            data["lead"] = self.lead
        if self.missing_team is not None:
            data["missing_team"] = self.missing_team
        return data


_OPEN = (select(func.count()).where(Ticket.assignee_id == User.id, Ticket.closed_at.is_(None))
         .correlate(User).scalar_subquery())
_MEMBERS = Prepared(
    select(User.id, User.username, User.skills, User.capacity, User.schedule, User.away,
           _OPEN.label("open_tickets"))
    .join(Membership, Membership.user_id == User.id)
    .where(Membership.team_id == bindparam("team"), User.active.is_(True),
           # Not `in_`: a prepared statement's SQL cannot depend on a list's length.
           or_(*(User.role == role for role in STAFF_ROLES))))


def _open_by_priority(connection: Connection, field: str, agents: list[int]
                      ) -> dict[int, dict[str, int]]:
    priority = Ticket.data[field].as_string()
    rows = connection.execute(
        select(Ticket.assignee_id, priority, func.count())
        .where(Ticket.assignee_id.in_(agents), Ticket.closed_at.is_(None))
        .group_by(Ticket.assignee_id, priority)).all()
    found: dict[int, dict[str, int]] = {}
    for agent, value, count in rows:
        if value is not None:
            found.setdefault(agent, {})[value] = count
    return found


def candidates(connection: Connection, ticket_type: TicketType, rule: AssignmentRule,
               team_id: int, now: datetime) -> tuple[list[Candidate], dict[str, int]]:
    """The team's agents as the engine sees them now, and their ids by user name."""
    members = _MEMBERS.rows(connection, {"team": team_id})
    ids = [member.id for member in members]
    weighted = (_open_by_priority(connection, ticket_type.priority_field, ids)
                if ids and rule.weight_by_priority and ticket_type.priority_field else {})
    found = []
    for member in members:
        schedule = compiled_schedule(member.schedule)
        found.append(Candidate(
            id=member.username, open_tickets=member.open_tickets,
            open_by_priority=weighted.get(member.id, {}), capacity=member.capacity,
            skills=frozenset(member.skills or ()),
            on_shift=schedule is None or schedule.on_shift(now),
            on_leave=schedule is not None and schedule.on_leave(now), away=member.away))
    return found, {member.username: member.id for member in members}


def _lock_team(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING renders its columns unqualified (SQLite): the row's own team is named in
    # full, and no join leaves a bare `id` ambiguous.
    lead_id = (select(Team.lead_id)
               .where(Team.id == literal_column(f"{TeamRotation.__tablename__}.team_id"))
               .scalar_subquery())
    lead = select(User.username).where(User.id == lead_id).scalar_subquery()
    statement = insert(TeamRotation).from_select(
        ["team_id", "last_user_id", "updated_at"],
        select(Team.id, null(), bindparam("now", type_=TeamRotation.updated_at.type))
        .where(Team.key == bindparam("team_key")))
    # A no-op update of an existing row: it returns the pointer and, on PostgreSQL,
    # holds the row's lock until the ticket's transaction ends.
    return statement.on_conflict_do_update(
        index_elements=["team_id"], set_={"team_id": statement.excluded.team_id},
    ).returning(TeamRotation.team_id, TeamRotation.last_user_id, lead.label("lead"))


_LOCK_TEAM = {dialect: Prepared(_lock_team(dialect)) for dialect in ("postgresql", "sqlite")}
_MOVE_POINTER = Prepared(update(TeamRotation).where(TeamRotation.team_id == bindparam("team"))
                         .values(last_user_id=bindparam("winner"), updated_at=bindparam("now")))


def _lock_team_pointer(connection: Connection, key: str, now: datetime) -> Any:
    """The team named `key` (None when the installation lacks it) as one row: its id, its
    lead's user name and its round-robin pointer (the user picked last), the pointer's
    row created when missing and locked for the rest of this transaction — one
    statement on the hot path of creation."""
    return _LOCK_TEAM[connection.dialect.name].first(connection, {"team_key": key, "now": now})


def route_ticket(connection: Connection, ticket_type: TicketType, values: Mapping[str, Any],
                 now: datetime) -> Routed | None:
    """Decide a new (or re-routed) ticket's team and agent, and move the team's pointer.
    None when the definition has no assignment rules at all."""
    if not ticket_type.assignment_rules:
        return None
    rule, checks = route(ticket_type, values)
    if rule is None:
        return Routed(AssignmentDecision(Outcome.UNROUTED, rules_checked=checks), None, None)
    team = _lock_team_pointer(connection, rule.team, now)
    if team is None:
        # The definition names a team this installation lacks: the ticket stays unrouted
        # (visible to all staff) and the timeline says why.
        decision = AssignmentDecision(Outcome.UNROUTED, rule=rule.index,
                                      rule_pointer=rule.pointer, team=rule.team,
                                      strategy=rule.strategy, rules_checked=checks)
        return Routed(decision, None, None, missing_team=rule.team)
    last = team.last_user_id
    people, ids = candidates(connection, ticket_type, rule, team.team_id, now)
    # The pointer names the agent picked last; one who left the team leaves no gap.
    pointer = next((name for name, user_id in ids.items() if user_id == last), None)
    if pointer is None and last is not None:
        pointer = connection.execute(select(User.username).where(User.id == last)).scalar()
    decision = assign(rule, values, people, pointer, rules_checked=checks)
    winner = ids.get(decision.winner) if decision.winner else None
    if winner is not None:
        _MOVE_POINTER.execute(connection, {"team": team.team_id, "winner": winner, "now": now})
    return Routed(decision, team.team_id, winner, lead=team.lead)


def refusal_to_claim(connection: Connection, ticket_type: TicketType,
                     values: Mapping[str, Any], team_id: int | None, user_id: int,
                     now: datetime) -> SkipReason | None:
    """Why this agent may not claim a ticket from a claim pool (capacity, skills), judged
    by the pool's rule — unless the ticket has since moved to another team. Tickets that
    wait in a queue because nobody qualified are open to any agent of the team."""
    rule, _ = route(ticket_type, values)
    if rule is None or team_id is None or rule.strategy is not Strategy.CLAIM_POOL:
        return None
    if connection.execute(select(Team.key).where(Team.id == team_id)).scalar() != rule.team:
        return None
    people, ids = candidates(connection, ticket_type, rule, team_id, now)
    person = next((p for p in people if ids[p.id] == user_id), None)
    return claim_refusal(rule, values, person) if person is not None else None
