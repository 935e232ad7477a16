"""The ticket lifecycle: create, fire transitions, update fields, comment, claim, transfer.

Each function is one transaction that writes the ticket and its event together. The
engine decides (validation, visibility, branches); this module loads, asks the policy,
persists and records. A lost update is impossible: the ticket row carries a version
column, so a concurrent change surfaces as `Conflict` carrying the current state.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import SimpleNamespace
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, and_, func, insert, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.assignment import SkipReason
from engine.flow import Refusal, available_transitions, creation_transitions
from engine.forms import Decision, decide
from engine.model import BUILTIN_ROLES, TicketType
from engine.sla import TicketTimes
from runtime import policy
from runtime.catalog import Compiled, compiled_version, take_number
from runtime.context import Actor, Request
from runtime.db import Database, Transaction
from runtime.models import (
    Event,
    EventKind,
    Role,
    Team,
    Ticket,
    Todo,
    User,
)
from runtime.prepared import Prepared
from runtime.services import attachments as attachment_service
from runtime.services import notify, repeats, requesters, routing, sla, surveys
from runtime.services.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    ServiceError,
)
from runtime.services.events import record

AUTO = "auto"
MAX_COMMENT = 10_000
MAX_REASON = 1_000
MAX_PAGE = 100
MAX_ID = 2**63 - 1
# A user name after "@"; it may contain dots but does not end with one ("@li." is li).
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,148}[A-Za-z0-9_])?)")
T = TypeVar("T")


@dataclass(frozen=True)
class TicketView:
    """A ticket as one actor may see it (hidden fields already removed)."""

    number: str
    ticket_type: str
    definition_version: int
    state: str
    state_label: str
    title: str
    values: dict[str, Any]
    requester: str | None
    assignee: str | None
    team: str | None
    reopen_count: int
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int
    transitions: list[dict[str, str]] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    # SLA clocks, for staff only (empty for customers and for types without SLA).
    sla: list[sla.ClockView] = field(default_factory=list)

    @property
    def sla_status(self) -> str | None:
        """The most pressing of the clocks' statuses (what a list's mark shows)."""
        return sla.overall_status(self.sla)

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: asdict's deep copy of the values costs more than the rest of
        # rendering a ticket, and the result is only serialised.
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for key in ("created_at", "updated_at", "closed_at"):
            data[key] = data[key].isoformat() if data[key] else None
        data["sla"] = [clock.to_dict() for clock in self.sla]
        return data


@dataclass(frozen=True)
class Page:
    items: list[TicketView]
    next_cursor: str | None


@dataclass(frozen=True)
class TimelineEntry:
    id: int
    kind: str
    at: datetime
    actor: str | None
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "at": self.at.isoformat(),
                "actor": self.actor, "data": self.data}


# --- loading and viewing -------------------------------------------------------------


@dataclass
class _Loaded:
    ticket: Ticket
    compiled: Compiled
    roles: frozenset[str]

    @property
    def ticket_type(self) -> TicketType:
        return self.compiled.ticket_type


def _load(session: Session, request: Request, number: str) -> _Loaded:
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    roles = policy.ticket_roles(request.actor, ticket) if ticket is not None else frozenset()
    if ticket is None or not roles:
        # Someone else's ticket is reported exactly like a missing one: never reveal it.
        raise NotFound(f"there is no ticket {number}")
    return _Loaded(ticket, compiled_version(session, ticket.definition_version_id), roles)


def _usernames(session: Transaction, *ids: int | None) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all())


def _team_keys(session: Transaction, *ids: int | None) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(Team.id, Team.key).where(Team.id.in_(wanted))).all())


def _view(session: Transaction, request: Request, loaded: _Loaded,
          names: dict[int, str] | None = None, teams: dict[int, str] | None = None
          ) -> TicketView:
    """The ticket as the actor may see it; `names` and `teams` (ids to user names and
    team keys) may be given when a whole page of tickets is shown at once."""
    ticket, ticket_type, roles = loaded.ticket, loaded.ticket_type, loaded.roles
    if names is None:
        names = _usernames(session, ticket.requester_id, ticket.assignee_id)
    if teams is None:
        teams = _team_keys(session, ticket.team_id)
    language = request.actor.language
    state = ticket_type.state_by_id.get(ticket.state)
    offered = available_transitions(ticket_type, ticket.state, roles, ticket.data)
    return TicketView(
        number=ticket.number,
        ticket_type=ticket.ticket_type,
        definition_version=loaded.compiled.version,
        state=ticket.state,
        state_label=state.label.text(language) if state else ticket.state,
        title=policy.visible_title(ticket_type, ticket, roles),  # old titles may be hidden fields
        values=policy.visible_values(ticket_type, ticket.data, roles),
        requester=names.get(ticket.requester_id or 0),
        assignee=names.get(ticket.assignee_id or 0),
        team=teams.get(ticket.team_id or 0),
        reopen_count=ticket.reopen_count,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        closed_at=ticket.closed_at,
        version=ticket.version,
        transitions=[{"id": t.id, "label": t.label.text(language)} for t in offered],
        roles=sorted(roles),
        sla=(sla.clock_views(ticket.sla, request.now, language)
             if ticket.sla and policy.sees_sla(roles) else []),
    )


def get(db: Database, request: Request, number: str) -> TicketView:
    """One ticket, as the actor may see it."""
    with db.read() as session:
        return _view(session, request, _load(session, request, number))


def _current(db: Database, request: Request, number: str) -> dict[str, Any] | None:
    try:
        return get(db, request, number).to_dict()
    except ServiceError:
        return None


@contextmanager
def _guarded(db: Database, request: Request, number: str) -> Iterator[None]:
    """Turn a concurrent change into a clear conflict that carries the current state."""
    try:
        yield
    except StaleDataError:
        raise Conflict(f"ticket {number} was changed by someone else; nothing was saved",
                       code="stale", extra={"current": _current(db, request, number)}) from None


def _change(db: Database, request: Request, number: str,
            work: Callable[[Session, _Loaded], T], expected_version: int | None) -> T:
    with _guarded(db, request, number), db.write() as session:
        loaded = _load(session, request, number)
        if expected_version is not None and loaded.ticket.version != expected_version:
            raise Conflict(
                f"ticket {number} is at version {loaded.ticket.version}, not "
                f"{expected_version}; reload it and try again", code="stale",
                extra={"current": _view(session, request, loaded).to_dict()})
        result = work(session, loaded)
        session.flush()
        return result


def _tell(session: Session, request: Request, event: Event, loaded: _Loaded) -> None:
    """Queue what the event tells people and webhooks, in its own transaction."""
    notify.after_ticket_event(session, kind=EventKind(event.kind), event_id=event.id,
                              actor_id=event.actor_id, data=event.data, ticket=loaded.ticket,
                              ticket_type=loaded.ticket_type, now=request.now)


# --- creating ------------------------------------------------------------------------


def _ticket_event(session: Transaction, request: Request, ticket: Ticket, ticket_type: TicketType,
                  kind: EventKind, data: dict[str, Any], *, actor_id: int | None) -> None:
    """Record an event of a ticket just created (a prepared Core insert: the hot path)
    and queue what it tells people and webhooks, in the same transaction."""
    event_id = _INSERT_EVENT.scalar(session, {
        "ticket_id": ticket.id, "kind": str(kind), "actor_id": actor_id, "at": request.now,
        "client_address": request.address, "data": data})
    notify.after_ticket_event(session, kind=kind, event_id=event_id, actor_id=actor_id,
                              data=data, ticket=ticket, ticket_type=ticket_type,
                              now=request.now)


def _problems(decision: Decision) -> list[dict[str, Any]]:
    return [problem.to_dict() for problem in decision.problems]


_REFUSALS: dict[Refusal, tuple[type[ServiceError], str]] = {
    Refusal.UNKNOWN_TRANSITION: (NotFound, "there is no transition '{t}'"),
    Refusal.NOT_FROM_THIS_STATE: (Conflict, "'{t}' cannot be done while the ticket is {s}"),
    Refusal.ROLE_NOT_ALLOWED: (Forbidden, "you may not do '{t}' on this ticket"),
    Refusal.CONDITION_NOT_MET: (Conflict, "'{t}' is not possible for this ticket now"),
}


def _refuse(refusal: Refusal, transition: str | None, state: str,
            current: dict[str, Any] | None = None) -> ServiceError:
    error_type, template = _REFUSALS[refusal]
    extra = {"current": current} if current is not None and error_type is Conflict else None
    return error_type(template.format(t=transition, s=state), code=str(refusal), extra=extra)


def _title(ticket_type: TicketType, values: Mapping[str, Any], number: str) -> str:
    """The definition's title field's value (`TicketType.title_field`), else the number."""
    value = values.get(ticket_type.title_field) if ticket_type.title_field else None
    return value[:300] if isinstance(value, str) and value else number


def _creation_transition(ticket_type: TicketType, roles: frozenset[str],
                         transition: str | None) -> str | None:
    if transition != AUTO:
        return transition
    offered = creation_transitions(ticket_type, roles)
    return offered[0].id if offered else None


def create(
    db: Database,
    request: Request,
    ticket_type_key: str,
    values: Any,
    *,
    transition: str | None = AUTO,
    requester: str | None = None,
    within: Callable[[Connection, TicketView], None] | None = None,
) -> TicketView:
    """Open a ticket: validate the intake form, number it, fire the creation transition.

    `transition`: AUTO fires the first transition out of the initial state the creator
    may fire (the "submit" button); None leaves the ticket in the initial state.
    `within` runs with the new ticket's view before the transaction commits, for a
    caller whose own record must commit with the ticket (an idempotent answer).

    The hot path of intake, so it writes with prepared Core statements (number, ticket,
    events, routing, timers, notices) in one transaction of a Core connection, without
    an ORM session; docs/performance.md has what each part costs.
    """
    if not isinstance(values, dict):
        raise BadRequest("the ticket's values must be an object of field values")
    with db.write_connection() as connection:
        # Taken first, in one statement with the version; a refusal below rolls it back.
        compiled, sequence = take_number(connection, ticket_type_key)
        ticket_type = compiled.ticket_type
        requester_id, requester_name = _requester(connection, request, requester)
        values = requesters.fill(connection, ticket_type, requester_id, values)
        roles = policy.creator_roles(request.actor)
        chosen = _creation_transition(ticket_type, roles, transition)
        files = attachment_service.resolve_field_files(connection, request, ticket_type, values)
        # Values the runtime sets before deciding (a repeat flag), so branches see them.
        repeat = repeats.check(connection, ticket_type, values, request.now)
        decision = decide(ticket_type, {**values, **files.values}, roles=roles, creating=True,
                          current=repeat.preset or None, transition=chosen,
                          language=request.actor.language)
        if decision.refusal is not None:
            raise _refuse(decision.refusal, chosen, ticket_type.initial_state.id)
        if decision.problems or files.problems:
            raise Invalid("the ticket has problems; nothing was created",
                          details=files.problems + _problems(decision))
        number = f"{ticket_type.number_prefix}-{sequence:06d}"
        state = decision.target_state or ticket_type.initial_state.id
        data = dict(decision.values)
        routed = routing.route_ticket(connection, ticket_type, data, request.now)
        clocks = sla.compute(connection, ticket_type, number, data,
                             TicketTimes.of(request.now, [(state, request.now)]))
        columns = {
            "number": number, "ticket_type": ticket_type.id,
            "definition_version_id": compiled.version_id, "state": state,
            "title": _title(ticket_type, data, number), "data": data,
            "requester_id": requester_id,
            "assignee_id": routed.assignee_id if routed else None,
            "team_id": routed.team_id if routed else None,
            "reopen_count": 0, "created_at": request.now, "updated_at": request.now,
            "repeat_key": repeat.key,
            "closed_at": request.now if ticket_type.state_by_id[state].final else None,
            "version": 1, "sla": clocks.sla, "sla_due_at": clocks.due_at,
        }
        # The new row as plain attributes (what the policy and the view read), without
        # the ORM's bookkeeping for an object this transaction never changes again.
        ticket = cast(Ticket, SimpleNamespace(
            id=_INSERT_TICKET.scalar(connection, columns), **columns))
        attachment_service.link(connection, files.ids, ticket)
        sla.schedule_new(connection, ticket.id, clocks, request.now)
        created = {"values": data, "state": state, "transition": chosen,
                   "branch": decision.branch.condition if decision.branch else None}
        _ticket_event(connection, request, ticket, ticket_type, EventKind.CREATED, created,
                      actor_id=request.actor.user_id)
        if routed is not None:  # decided by the definition's rules, not by the creator
            _ticket_event(connection, request, ticket, ticket_type, EventKind.ASSIGNED,
                          routed.event_data(), actor_id=None)
        names = {requester_id: requester_name}
        if routed is not None and routed.decision.winner is not None:
            names[routed.assignee_id or 0] = routed.decision.winner
        teams = {routed.team_id: routed.decision.team} if routed and routed.team_id else {}
        loaded = _Loaded(ticket, compiled, policy.ticket_roles(request.actor, ticket))
        view = _view(connection, request, loaded, names=names, teams=teams)
        if within is not None:
            within(connection, view)
        return view


# Statements built once: executing them with parameters skips building and cache-keying
# a new statement (with every value inside it) for each ticket.
_INSERT_TICKET = Prepared(insert(Ticket).returning(Ticket.id))
_INSERT_EVENT = Prepared(insert(Event).returning(Event.id))


def _requester(session: Transaction, request: Request, username: str | None) -> tuple[int, str]:
    if username is None or username == request.actor.username:
        return request.actor.user_id, request.actor.username
    if not policy.can_choose_requester(request.actor):
        raise Forbidden("only staff may open a ticket on someone else's behalf")
    user_id = session.scalar(select(User.id).where(User.username == username, User.active))
    if user_id is None:
        raise Invalid(f"there is no active user '{username}'",
                      details=[{"field": "requester", "code": "unknown-user",
                                "message": f"there is no active user '{username}'"}])
    return user_id, username


# --- changing ------------------------------------------------------------------------


def _decide_change(session: Session, request: Request, loaded: _Loaded,
                   values: dict[str, Any], transition: str | None
                   ) -> tuple[Decision, attachment_service.ResolvedFiles]:
    """The engine's decision on a change to an existing ticket; refusals and problems
    raise (nothing is written)."""
    ticket, ticket_type = loaded.ticket, loaded.ticket_type
    files = attachment_service.resolve_field_files(session, request, ticket_type, values,
                                                  ticket)
    decision = decide(ticket_type, {**values, **files.values}, roles=loaded.roles,
                      current=ticket.data, state=ticket.state, transition=transition,
                      language=request.actor.language)
    if decision.refusal is not None:
        raise _refuse(decision.refusal, transition, ticket.state,
                      _view(session, request, loaded).to_dict())
    if decision.problems or files.problems:
        what = f"'{transition}'" if transition else "the change"
        raise Invalid(f"{what} has problems; nothing was changed",
                      details=files.problems + _problems(decision))
    return decision, files


def fire(db: Database, request: Request, number: str, transition: str, values: Any = None,
         *, expected_version: int | None = None) -> TicketView:
    """Fire a transition with its step form values."""
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise BadRequest("the values must be an object of field values")

    def work(session: Session, loaded: _Loaded) -> TicketView:
        _fire_in(session, request, loaded, transition, values)
        return _view(session, request, loaded)

    return _change(db, request, number, work, expected_version)


def _fire_in(session: Session, request: Request, loaded: _Loaded, transition: str,
             values: dict[str, Any]) -> None:
    """Fire a transition on a loaded ticket, in the caller's transaction."""
    ticket, ticket_type = loaded.ticket, loaded.ticket_type
    decision, files = _decide_change(session, request, loaded, values, transition)
    before = ticket.state
    spec = ticket_type.transition_by_id[transition]
    target = decision.target_state or before
    ticket.state = target
    ticket.data = dict(decision.values)
    ticket.updated_at = request.now
    kind = EventKind.TRANSITIONED
    if spec.reopens:
        ticket.reopen_count += 1
        ticket.closed_at = None
        kind = EventKind.REOPENED
    if ticket_type.state_by_id[target].final:
        ticket.closed_at = request.now
        kind = EventKind.CLOSED
        surveys.open_for(session, ticket, request.now)
    sla.note_activity(ticket, request, public=True)  # a step taken is a response or reply
    sla.refresh(session, ticket, ticket_type, request.now,
                entered=target if target != before else None)
    attachment_service.link(session, files.ids, ticket)
    event = record(session, request, kind, {
        "transition": transition, "from": before, "to": target,
        "changes": dict(decision.changes),
        "branch": decision.branch.condition if decision.branch else None,
    }, ticket)
    _tell(session, request, event, loaded)
    session.flush()


SYSTEM = Actor(0, "system", Role.ADMIN)


def fire_as_system(session: Session, ticket: Ticket, transition: str, now: datetime) -> None:
    """Fire a transition an escalation names (the definition's admins configured it, so
    no role limits it), in the caller's transaction. Refusals raise service errors."""
    request = Request(SYSTEM, now, None)
    compiled = compiled_version(session, ticket.definition_version_id)
    loaded = _Loaded(ticket, compiled, frozenset(BUILTIN_ROLES))
    _fire_in(session, request, loaded, transition, {})


def update_fields(db: Database, request: Request, number: str, values: Any,
                  *, expected_version: int | None = None) -> TicketView:
    """Change fields the current state lets the actor edit outside a transition."""
    if not isinstance(values, dict):
        raise BadRequest("the values must be an object of field values")

    def work(session: Session, loaded: _Loaded) -> TicketView:
        ticket = loaded.ticket
        decision, files = _decide_change(session, request, loaded, values, None)
        if decision.changes:
            ticket.data = dict(decision.values)
            ticket.updated_at = request.now
            sla.refresh(session, ticket, loaded.ticket_type, request.now)  # a new priority
            attachment_service.link(session, files.ids, ticket)
            event = record(session, request, EventKind.UPDATED,
                           {"changes": dict(decision.changes)}, ticket)
            _tell(session, request, event, loaded)
        return _view(session, request, loaded)

    return _change(db, request, number, work, expected_version)


def comment(db: Database, request: Request, number: str, body: Any, *,
            internal: bool = False) -> TimelineEntry:
    """Add a public or internal comment; @mentions give the mentioned users a to-do and a
    notification (inbox and e-mail)."""
    if not isinstance(body, str) or not body.strip():
        raise Invalid("a comment needs text", details=[
            {"field": "body", "code": "required", "message": "a comment needs text"}])
    if len(body) > MAX_COMMENT:
        raise Invalid(f"a comment may have at most {MAX_COMMENT} characters", details=[
            {"field": "body", "code": "too-long",
             "message": f"a comment may have at most {MAX_COMMENT} characters"}])

    def work(session: Session, loaded: _Loaded) -> TimelineEntry:
        if internal and not policy.can_post_internal(loaded.roles):
            raise Forbidden("only staff may write internal comments")
        ticket = loaded.ticket
        _refuse_additions_when_closed(loaded, internal=internal)
        mentioned = _mentionable(session, request, loaded, body, internal)
        ticket.updated_at = request.now
        sla.note_activity(ticket, request, public=not internal)
        if not internal:
            sla.refresh(session, ticket, loaded.ticket_type, request.now)
        event = record(session, request, EventKind.COMMENTED, {
            "body": body, "internal": internal, "mentions": sorted(mentioned)}, ticket)
        for user_id in mentioned.values():
            session.add(Todo(user_id=user_id, ticket_id=ticket.id, event_id=event.id,
                             kind="mention", created_at=request.now))
        _tell(session, request, event, loaded)
        return TimelineEntry(event.id, event.kind, event.at, request.actor.username,
                             dict(event.data))

    return _change(db, request, number, work, None)


def _refuse_additions_when_closed(loaded: _Loaded, *, internal: bool) -> None:
    """Raise Conflict when the ticket is closed to the comment or file being added."""
    ticket = loaded.ticket
    closed = loaded.ticket_type.state_by_id[ticket.state].final
    if not policy.takes_additions(closed, loaded.roles, internal=internal):
        raise Conflict(f"ticket {ticket.number} is closed: it takes no more comments or files",
                       code="closed")


MENTION_SCAN = 200  # users matching a prefix checked against the ticket, at most


def mention_candidates(db: Database, request: Request, number: str, prefix: str, *,
                       limit: int = 8) -> list[tuple[str, str]]:
    """Active users (user name, name) whose user name or name starts with `prefix` and
    who may see the ticket: whom an @mention in its comments can reach (staff only)."""
    if not policy.can_list_users(request.actor):
        return []
    starts = prefix.lower()
    with db.read() as session:
        loaded = _load(session, request, number)
        users = session.scalars(
            select(User).where(User.active, User.id != request.actor.user_id,
                               or_(func.lower(User.username).startswith(starts,
                                                                        autoescape=True),
                                   func.lower(User.display_name).startswith(starts,
                                                                            autoescape=True)))
            .order_by(User.username).limit(MENTION_SCAN))
        from runtime.services.accounts import actor_for

        found = [(user.username, user.display_name) for user in users
                 if policy.reached_by_mention(actor_for(user), loaded.ticket, internal=False)]
    return found[:limit]


def unreached_mentions(request: Request, body: str, posted: TimelineEntry) -> list[str]:
    """The names @mentioned in `body` that its comment `posted` told nobody (the user may
    not read it, or does not exist), so that the writer can be told."""
    return sorted(_mentioned_names(request, body) - set(posted.data.get("mentions") or ()))


def _mentioned_names(request: Request, body: str) -> set[str]:
    return set(MENTION.findall(body)) - {request.actor.username}  # not oneself


def _mentionable(session: Session, request: Request, loaded: _Loaded, body: str,
                 internal: bool) -> dict[str, int]:
    """Mentioned users whom the comment reaches (`policy.reached_by_mention`)."""
    names = _mentioned_names(request, body)
    if not names:
        return {}
    from runtime.services.accounts import actor_for

    return {user.username: user.id for user in session.scalars(
                select(User).where(User.username.in_(names), User.active))
            if policy.reached_by_mention(actor_for(user), loaded.ticket, internal=internal)}


def claim(db: Database, request: Request, number: str, *,
          expected_version: int | None = None) -> TicketView:
    """Take an unassigned ticket (抢单): the first claim wins, later ones are told it is taken."""

    def work(session: Session, loaded: _Loaded) -> TicketView:
        ticket = loaded.ticket
        if not policy.can_claim(request.actor, loaded.roles):
            raise Forbidden("only agents of the ticket's team may claim it")
        if loaded.ticket_type.state_by_id[ticket.state].final:
            raise Conflict(f"ticket {number} is closed", code="closed")
        if ticket.assignee_id is not None:
            holder = _usernames(session, ticket.assignee_id).get(ticket.assignee_id)
            raise Conflict(f"ticket {number} is already taken by {holder}",
                           code="already-taken", extra={"assignee": holder})
        refusal = routing.refusal_to_claim(session.connection(), loaded.ticket_type,
                                           ticket.data, ticket.team_id, request.actor.user_id,
                                           request.now)
        if refusal is not None:
            raise Conflict(CLAIM_REFUSALS[refusal].format(number=number), code=str(refusal))
        ticket.assignee_id = request.actor.user_id
        ticket.updated_at = request.now
        event = record(session, request, EventKind.CLAIMED,
                       {"assignee": request.actor.username}, ticket)
        _tell(session, request, event, loaded)
        session.flush()
        loaded.roles = policy.ticket_roles(request.actor, ticket)
        return _view(session, request, loaded)

    return _change(db, request, number, work, expected_version)


CLAIM_REFUSALS = {
    SkipReason.AT_CAPACITY: "you already have as many open tickets as you may take; "
                            "finish one before claiming {number}",
    SkipReason.MISSING_SKILLS: "{number} needs skills your profile does not list",
}


def transfer(db: Database, request: Request, number: str, *, reason: Any,
             to_user: str | None = None, to_team: str | None = None,
             expected_version: int | None = None) -> TicketView:
    """Pass a ticket to another agent and/or team (转派), with a reason."""
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise Invalid("a transfer needs a reason (at most 1000 characters)", details=[
            {"field": "reason", "code": "required", "message": "a transfer needs a reason"}])
    if to_user is None and to_team is None:
        raise Invalid("say whom to transfer to: a user, a team or both", details=[
            {"field": "to_user", "code": "required", "message": "a user or a team is needed"}])

    def work(session: Session, loaded: _Loaded) -> TicketView:
        ticket = loaded.ticket
        if not policy.can_transfer(request.actor, loaded.roles):
            raise Forbidden("only the assignee or a supervisor may transfer this ticket")
        team = _team(session, to_team) if to_team is not None else None
        user = _staff_user(session, to_user, team) if to_user is not None else None
        before = _usernames(session, ticket.assignee_id).get(ticket.assignee_id or 0)
        before_team = session.get(Team, ticket.team_id) if ticket.team_id else None
        if team is not None:
            ticket.team_id = team.id
        if user is not None or team is not None:
            ticket.assignee_id = user.id if user is not None else None
        ticket.updated_at = request.now
        event = record(session, request, EventKind.TRANSFERRED, {
            "from_user": before, "to_user": user.username if user else None,
            "from_team": before_team.key if before_team else None,
            "to_team": team.key if team else (before_team.key if before_team else None),
            "reason": reason,
        }, ticket)
        _tell(session, request, event, loaded)
        session.flush()
        loaded.roles = policy.ticket_roles(request.actor, ticket) or loaded.roles
        return _view(session, request, loaded)

    return _change(db, request, number, work, expected_version)


def _team(session: Session, key: str) -> Team:
    team = session.scalar(select(Team).where(Team.key == key))
    if team is None:
        raise Invalid(f"there is no team '{key}'", details=[
            {"field": "to_team", "code": "unknown-team", "message": f"there is no team '{key}'"}])
    return team


def _staff_user(session: Session, username: str, team: Team | None) -> User:
    user = session.scalar(select(User).where(User.username == username, User.active))
    if user is None or user.role == "requester":
        raise Invalid(f"there is no active agent '{username}'", details=[
            {"field": "to_user", "code": "unknown-user",
             "message": f"there is no active agent '{username}'"}])
    if team is not None and team.id not in {t.id for t in user.teams}:
        raise Invalid(f"{username} is not a member of {team.key}", details=[
            {"field": "to_user", "code": "not-in-team",
             "message": f"{username} is not a member of {team.key}"}])
    return user


# --- reading -------------------------------------------------------------------------


def timeline(db: Database, request: Request, number: str) -> list[TimelineEntry]:
    """The ticket's history from its events, as the actor may see it."""
    with db.read() as session:
        loaded = _load(session, request, number)
        events = session.scalars(select(Event).where(Event.ticket_id == loaded.ticket.id)
                                 .order_by(Event.id)).all()
        names = _usernames(session, *(e.actor_id for e in events))
        entries = []
        for event in events:
            shown = policy.visible_event(event.kind, event.data, loaded.ticket_type,
                                         loaded.roles)
            if shown is not None:
                entries.append(TimelineEntry(event.id, event.kind, event.at,
                                             names.get(event.actor_id or 0), shown))
        return entries


@dataclass(frozen=True)
class Filters:
    ticket_type: str | None = None
    state: str | None = None
    assignee: str | None = None  # a user name, "me" or "none"
    team: str | None = None  # a team key, "mine" (the actor's teams) or "none"
    requester: str | None = None  # a user name or "me"
    text: str | None = None
    open: bool | None = None
    created_from: datetime | None = None  # created at or after this instant
    created_before: datetime | None = None  # created before this instant


class Order(StrEnum):
    """How a list is sorted; each order is a keyset (a sort key plus the id as tiebreak)."""

    NEWEST = "newest"  # created, newest first
    OLDEST = "oldest"  # created, oldest first
    UPDATED = "updated"  # last changed first


def _cursor_id(cursor: str | None) -> tuple[int, datetime | None] | None:
    """The id (and, for the UPDATED order, the instant) a page continues after."""
    if not cursor:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"==="))
        after = int(decoded["after"])
        # An id beyond 64 bits cannot be bound as a parameter (SQLite raises
        # OverflowError, PostgreSQL a DataError): it is a bad cursor, not a server error.
        if not 0 < after <= MAX_ID:
            raise ValueError(after)
        at = decoded.get("at")
        instant = datetime.fromisoformat(at) if isinstance(at, str) else None
        if instant is not None and instant.tzinfo is None:
            raise ValueError(at)
        return after, instant
    except (ValueError, KeyError, TypeError, OverflowError, AttributeError):
        raise BadRequest("the cursor is not valid; start again without it",
                         code="bad-cursor") from None


def _make_cursor(ticket: Ticket, order: Order = Order.NEWEST) -> str:
    key: dict[str, Any] = {"after": ticket.id}
    if order is Order.UPDATED:
        key["at"] = ticket.updated_at.isoformat()
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _ordered(query: Any, order: Order, after: tuple[int, datetime | None] | None) -> Any:
    """The query sorted by `order`, continuing after the cursor's position."""
    if order is Order.OLDEST:
        if after is not None:
            query = query.where(Ticket.id > after[0])
        return query.order_by(Ticket.id.asc())
    if order is Order.UPDATED:
        if after is not None:
            if after[1] is None:
                raise BadRequest("the cursor is not valid; start again without it",
                                 code="bad-cursor")
            query = query.where(or_(Ticket.updated_at < after[1],
                                    and_(Ticket.updated_at == after[1], Ticket.id < after[0])))
        return query.order_by(Ticket.updated_at.desc(), Ticket.id.desc())
    if after is not None:
        query = query.where(Ticket.id < after[0])
    return query.order_by(Ticket.id.desc())


def list_tickets(db: Database, request: Request, filters: Filters, *,
                 cursor: str | None = None, limit: int = 50,
                 order: Order = Order.NEWEST) -> Page:
    """The tickets the actor may see that match the filters, a page at a time, newest
    first unless `order` says otherwise (keyset pagination: stable while tickets are
    added)."""
    limit = max(1, min(limit, MAX_PAGE))
    after = _cursor_id(cursor)
    with db.read() as session:
        query = select(Ticket).where(policy.visible_tickets(request.actor))
        query = _apply_filters(session, request, query, filters)
        rows = session.scalars(_ordered(query, order, after).limit(limit + 1)).all()
        page = rows[:limit]
        # One query each for the page's people and teams, not two per ticket.
        names = _usernames(session, *(t.requester_id for t in page),
                           *(t.assignee_id for t in page))
        teams = _team_keys(session, *(t.team_id for t in page))
        items = [
            _view(session, request, _Loaded(ticket,
                                            compiled_version(session, ticket.definition_version_id),
                                            policy.ticket_roles(request.actor, ticket)),
                  names, teams)
            for ticket in page
        ]
        more = len(rows) > limit
        return Page(items, _make_cursor(rows[limit - 1], order) if more else None)


def matching_versions(db: Database, request: Request, filters: Filters) -> list[Compiled]:
    """The definition versions of the tickets the actor may see that match the filters,
    by ticket type and version (what an export's columns are made of)."""
    with db.read() as session:
        query = select(Ticket.definition_version_id).where(
            policy.visible_tickets(request.actor)).distinct()
        ids = session.scalars(_apply_filters(session, request, query, filters)).all()
        found = [compiled_version(session, version_id) for version_id in ids]
    return sorted(found, key=lambda compiled: (compiled.ticket_type.id, compiled.version))


def _user_filter(session: Session, request: Request, value: str) -> int | None:
    if value == "me":
        return request.actor.user_id
    return session.scalar(select(User.id).where(User.username == value)) or -1


def _apply_filters(session: Session, request: Request, query: Any, filters: Filters) -> Any:
    if filters.ticket_type:
        query = query.where(Ticket.ticket_type == filters.ticket_type)
    if filters.state:
        query = query.where(Ticket.state == filters.state)
    query = _people_filters(session, request, query, filters)
    if filters.open is not None:
        query = query.where(Ticket.closed_at.is_(None) if filters.open
                            else Ticket.closed_at.is_not(None))
    if filters.created_from is not None:
        query = query.where(Ticket.created_at >= filters.created_from)
    if filters.created_before is not None:
        query = query.where(Ticket.created_at < filters.created_before)
    if filters.text:
        pattern = "%" + filters.text.replace("\\", "\\\\").replace("%", "\\%")\
            .replace("_", "\\_") + "%"
        query = query.where(or_(Ticket.number.ilike(pattern, escape="\\"),
                                Ticket.title.ilike(pattern, escape="\\")))
    return query


def _people_filters(session: Session, request: Request, query: Any, filters: Filters) -> Any:
    """Assignee, requester and team."""
    if filters.assignee == "none":
        query = query.where(Ticket.assignee_id.is_(None))
    elif filters.assignee:
        query = query.where(Ticket.assignee_id == _user_filter(session, request,
                                                               filters.assignee))
    if filters.requester:
        query = query.where(Ticket.requester_id == _user_filter(session, request,
                                                                filters.requester))
    if filters.team == "mine":  # the actor's own teams
        query = query.where(Ticket.team_id.in_(sorted(request.actor.team_ids) or [-1]))
    elif filters.team == "none":  # not routed to a team yet
        query = query.where(Ticket.team_id.is_(None))
    elif filters.team:
        team_id = session.scalar(select(Team.id).where(Team.key == filters.team))
        query = query.where(Ticket.team_id == (team_id or -1))
    return query
