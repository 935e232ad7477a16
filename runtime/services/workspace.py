"""What the agent workspace and the supervisor views need beyond single tickets: to-dos,
the kanban board and its moves, agents' open load, and bulk reassignment.

Every change still goes through `tickets` (one transaction per ticket, with its event);
this module only decides which change a gesture means (a card dropped on a column is the
transition that leads there) and reads aggregates the policy allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from engine.flow import available_transitions
from engine.forms import decide
from runtime import policy
from runtime.catalog import latest_published
from runtime.context import Request
from runtime.db import Database
from runtime.models import Membership, Role, Team, Ticket, Todo, User
from runtime.services import tickets
from runtime.services.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError

MAX_BULK = 100
BOARD_LIMIT = 100


# --- to-dos --------------------------------------------------------------------------


@dataclass(frozen=True)
class TodoView:
    id: int
    kind: str
    number: str
    title: str
    created_at: datetime


def open_todos(db: Database, request: Request, *, limit: int = 50) -> list[TodoView]:
    """The actor's open to-dos (e.g. @mentions), newest first, for tickets they still see."""
    with db.read() as session:
        rows = session.execute(
            select(Todo.id, Todo.kind, Todo.created_at, Ticket.number, Ticket.title)
            .join(Ticket, Ticket.id == Todo.ticket_id)
            .where(Todo.user_id == request.actor.user_id, Todo.done_at.is_(None),
                   policy.visible_tickets(request.actor))
            .order_by(Todo.id.desc()).limit(limit)).all()
    return [TodoView(row.id, row.kind, row.number, row.title, row.created_at) for row in rows]


def finish_todo(db: Database, request: Request, todo_id: int) -> None:
    """Mark one of the actor's to-dos done (someone else's reads as missing)."""
    with db.write() as session:
        done = session.execute(
            update(Todo).where(Todo.id == todo_id, Todo.user_id == request.actor.user_id,
                               Todo.done_at.is_(None)).values(done_at=request.now))
        if done.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("there is no such open to-do")


# --- the kanban board ------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    state: str
    label: str
    final: bool
    cards: list[tickets.TicketView]


@dataclass(frozen=True)
class Board:
    ticket_type: str
    name: str
    columns: list[Column]
    more: bool  # more tickets than the board shows: narrow the filters
    # Per card, the columns a step the actor may take now leads to (its "Move to" menu).
    reachable: dict[str, list[str]] = field(default_factory=dict)


def board(db: Database, request: Request, ticket_type_key: str,
          filters: tickets.Filters) -> Board:
    """The open tickets of one type the actor may see, by state (one column per state of
    the newest version; a ticket pinned to an older version shows under its state id)."""
    with db.read() as session:
        ticket_type = latest_published(session, ticket_type_key).ticket_type
    language = request.actor.language
    wanted = tickets.Filters(**{**filters.__dict__, "ticket_type": ticket_type_key})
    page = tickets.list_tickets(db, request, wanted, limit=BOARD_LIMIT,
                                order=tickets.Order.UPDATED)
    columns = [Column(state.id, state.label.text(language), state.final, [])
               for state in ticket_type.states]
    by_state = {column.state: column for column in columns}
    reachable: dict[str, list[str]] = {}
    for card in page.items:
        column = by_state.get(card.state)
        if column is None:
            column = by_state[card.state] = Column(card.state, card.state_label, False, [])
            columns.append(column)
        column.cards.append(card)
        # Where the steps offered to the actor lead, read in the newest version like the
        # columns (a card pinned to an older one is refused by `move` if it differs).
        steps = [ticket_type.transition_by_id.get(offered["id"]) for offered in card.transitions]
        targets = {state for step in steps if step is not None for state in step.targets}
        reachable[card.number] = [c.state for c in columns
                                  if c.state in targets and c.state != card.state]
    return Board(ticket_type_key, ticket_type.name.text(language), columns,
                 page.next_cursor is not None, reachable)


def recent_type(db: Database, request: Request) -> str | None:
    """The type of the open ticket the actor may see that changed last: where a board
    opens when no type is asked for (None: they see no open ticket)."""
    page = tickets.list_tickets(db, request, tickets.Filters(open=True), limit=1,
                                order=tickets.Order.UPDATED)
    return page.items[0].ticket_type if page.items else None


def move(db: Database, request: Request, number: str, to_state: str, *,
         expected_version: int | None = None) -> tickets.TicketView:
    """Drop a ticket on another state's column: fire the one transition the actor may
    fire now that leads there, or refuse saying why (no such step, a step form to fill
    in, or the definition's branches lead elsewhere)."""
    from runtime.services.tickets import _load

    with db.read() as session:
        loaded = _load(session, request, number)
        ticket, ticket_type = loaded.ticket, loaded.ticket_type
        if ticket.state == to_state:
            raise Conflict(f"ticket {number} is already in that state", code="same-state")
        offered = [t for t in available_transitions(ticket_type, ticket.state, loaded.roles,
                                                    ticket.data) if to_state in t.targets]
        target = ticket_type.state_by_id.get(to_state)
        target_label = target.label.text(request.actor.language) if target else to_state
        if not offered:
            raise Conflict(f"there is no step you may take from "
                           f"{ticket_type.state_by_id[ticket.state].label.text(request.actor.language)}"
                           f" to {target_label}", code="no-transition")
        transition = offered[0]
        decision = decide(ticket_type, {}, roles=loaded.roles, current=ticket.data,
                          state=ticket.state, transition=transition.id,
                          language=request.actor.language)
    if decision.problems:
        raise Invalid(f"'{transition.label.text(request.actor.language)}' needs its form "
                      "filled in: open the ticket to do it", code="needs-form",
                      details=[p.to_dict() for p in decision.problems],
                      extra={"transition": transition.id})
    if decision.target_state != to_state:
        reached = ticket_type.state_by_id[decision.target_state or ticket.state]
        raise Conflict(f"'{transition.label.text(request.actor.language)}' leads to "
                       f"{reached.label.text(request.actor.language)} for this ticket, "
                       f"not {target_label}", code="branch-elsewhere")
    return tickets.fire(db, request, number, transition.id, {},
                        expected_version=expected_version)


# --- supervisors -----------------------------------------------------------------------


@dataclass(frozen=True)
class AgentLoad:
    username: str
    display_name: str
    role: str
    teams: tuple[str, ...]
    open_tickets: int


def agent_load(db: Database, request: Request) -> list[AgentLoad]:
    """Open tickets per agent of the supervisor's teams (admins: every agent), busiest
    first — the practitioners' healthy figure is at most 8 per handler."""
    if not policy.can_supervise(request.actor):
        raise Forbidden("only supervisors see their agents' load")
    teams = policy.supervised_team_ids(request.actor)
    with db.read() as session:
        staff = select(User).where(User.active, User.role.in_(
            [str(Role.AGENT), str(Role.SUPERVISOR)]))
        if teams is not None:
            staff = staff.where(User.id.in_(select(Membership.user_id).where(
                Membership.team_id.in_(sorted(teams) or [-1]))))
        users = session.scalars(staff).all()
        counts = dict(session.execute(
            select(Ticket.assignee_id, func.count()).where(
                Ticket.closed_at.is_(None), Ticket.assignee_id.in_([u.id for u in users] or [-1]))
            .group_by(Ticket.assignee_id)).all())
        keys = dict(session.execute(select(Team.id, Team.key)).all())
        loads = [AgentLoad(user.username, user.display_name, user.role,
                           tuple(sorted(keys[t.id] for t in user.teams)),
                           int(counts.get(user.id, 0))) for user in users]
    return sorted(loads, key=lambda load: (-load.open_tickets, load.username))


@dataclass(frozen=True)
class Outcome:
    number: str
    ok: bool
    message: str


def bulk_reassign(db: Database, request: Request, numbers: list[str], *, to_user: str,
                  reason: Any) -> list[Outcome]:
    """Reassign several tickets to one agent (a supervisor's move), each in its own
    transaction: one refusal (a closed ticket, an agent outside the ticket's team) does
    not undo the others, and each outcome says what happened."""
    if not policy.can_supervise(request.actor):
        raise Forbidden("only supervisors may reassign tickets in bulk")
    if not numbers:
        raise Invalid("choose at least one ticket", details=[
            {"field": "numbers", "code": "required", "message": "choose at least one ticket"}])
    if len(numbers) > MAX_BULK:
        raise Invalid(f"at most {MAX_BULK} tickets at a time", details=[
            {"field": "numbers", "code": "too-many",
             "message": f"at most {MAX_BULK} tickets at a time"}])
    outcomes = []
    for number in dict.fromkeys(numbers):
        try:
            tickets.transfer(db, request, number, reason=reason, to_user=to_user)
        except Invalid:
            raise  # the same for every ticket (no reason, no such agent): say it once
        except ServiceError as error:
            outcomes.append(Outcome(number, False, error.message))
        else:
            outcomes.append(Outcome(number, True, f"{number} → {to_user}"))
    return outcomes
