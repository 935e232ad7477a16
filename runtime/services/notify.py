"""Notifications, written in the transaction of the change that caused them.

The ticket services call `after_ticket_event` next to the event they record; timer
handlers call `tell` and `publish`. Nothing here does I/O: an in-app notification is a
row in the recipient's inbox (and a `sent` row in the outbox, so the outbox is the one
record of everything we told anyone); an e-mail or a webhook call is a `pending` outbox
row that a worker delivers later (runtime/delivery, runtime/services/outbox.py). Because
the rows commit or roll back with the change, a notification is never sent for a change
that did not happen, and never lost for one that did.

What a message may carry is the policy's decision, made here for each recipient: an
e-mail holds only the fields its reader may see; a webhook only what needs no role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from sqlalchemy import RootTransaction, bindparam, insert, select

from engine.model import FieldType, TicketType
from runtime import policy
from runtime.context import Actor
from runtime.db import Transaction, connection_of
from runtime.delivery import messages
from runtime.models import (
    Channel,
    EventKind,
    Membership,
    NoticeKind,
    Notification,
    OutboxMessage,
    OutboxState,
    Role,
    Team,
    User,
    Webhook,
)
from runtime.prepared import Prepared

MAX_DETAIL = 2_000  # characters of a comment or note quoted in a message
MAX_INBOX_DETAIL = 500


class TicketLike(Protocol):
    """What notifications read from a ticket (an ORM row or the plain row `create` has)."""

    id: int
    number: str
    title: str
    state: str
    ticket_type: str
    data: dict[str, Any]
    requester_id: int | None
    assignee_id: int | None
    team_id: int | None


def enqueue(session: Transaction, *, channel: Channel, recipient: str,
            payload: dict[str, Any], now: datetime, subject: str | None = None,
            language: str = "en", ticket_id: int | None = None, caused_by: int | None = None,
            state: OutboxState = OutboxState.PENDING) -> None:
    """Add one message to the outbox, in the caller's transaction (a prepared Core
    insert: ticket changes queue their messages on their hot path)."""
    _INSERT_OUTBOX.execute(session, {
        "channel": str(channel), "recipient": recipient[:254], "subject": subject,
        "payload": payload, "language": messages.language_of(language), "state": str(state),
        "attempts": 0, "next_attempt_at": now, "ticket_id": ticket_id,
        "caused_by": caused_by, "created_at": now,
        "sent_at": now if state is OutboxState.SENT else None})


_INSERT_OUTBOX = Prepared(insert(OutboxMessage))


# --- what a recipient may read about a ticket ----------------------------------------


def _fields(ticket_type: TicketType, values: Mapping[str, Any],
            language: str) -> list[list[str]]:
    shown = []
    for field in ticket_type.fields:
        value = values.get(field.id)
        if value is None or value == "" or value == []:
            continue
        labels = messages.option_labels(field, language) if field.type in (
            FieldType.CHOICE, FieldType.MULTI_CHOICE) else None
        shown.append([field.label.text(language), messages.display(value, language, labels)])
    return shown


def ticket_context(ticket: TicketLike, ticket_type: TicketType, roles: frozenset[str],
                   language: str, *, with_fields: bool = True) -> dict[str, Any]:
    """The ticket as these roles may read it in a message: number, title, type, state and
    (unless `with_fields` is off: an inbox entry needs none) the visible field values as
    (label, text) pairs in `language`."""
    state = ticket_type.state_by_id.get(ticket.state)
    context = {
        "number": ticket.number,
        "title": policy.visible_title(ticket_type, ticket, roles),  # type: ignore[arg-type]
        "type_name": ticket_type.name.text(language),
        "state": ticket.state,
        "state_label": state.label.text(language) if state else ticket.state,
    }
    if with_fields:
        values = policy.visible_values(ticket_type, ticket.data, roles)
        context["fields"] = _fields(ticket_type, values, language)
    return context


@dataclass(frozen=True)
class Recipient:
    """Who a notice goes to: what `tell` needs of a user, read as plain columns with
    their teams in one query (loading ORM users with their `teams` relationship cost
    several times more on the hot path of ticket creation)."""

    id: int
    username: str
    email: str | None
    language: str | None
    active: bool
    actor: Actor  # the policy's view: what of a ticket they may read


def _recipient_of(session: Transaction, user: User) -> Recipient:
    """A user already loaded as an ORM row, as a recipient (their teams: one query)."""
    from runtime.services.accounts import actor_for

    teams = connection_of(session).execute(_TEAMS_OF, {"user": user.id}).scalars()
    return Recipient(user.id, user.username, user.email, user.language, user.active,
                     actor_for(user, teams))


_TEAMS_OF = select(Membership.team_id).where(Membership.user_id == bindparam("user"))


def _recipients(rows: Iterable[Any]) -> list[Recipient]:
    """The recipients in the rows of a `_RECIPIENTS`-shaped query: one row per user and
    team."""
    found: dict[int, tuple[Any, set[int]]] = {}
    for row in rows:
        entry = found.setdefault(row.id, (row, set()))
        if row.team_id is not None:
            entry[1].add(row.team_id)
    return [Recipient(row.id, row.username, row.email, row.language, row.active,
                      Actor(row.id, row.username, _ROLES.get(row.role) or Role(row.role),
                            frozenset(teams), row.language))
            for row, teams in found.values()]


# Calling an enum class looks a value up through several Python frames; the roles by
# value in a dict are the same members (an unknown value still fails as `Role(...)`).
_ROLES: dict[str, Role] = {str(role): role for role in Role}


_ALL_TEAMS = Membership.__table__.alias("all_teams")
_RECIPIENTS = (select(User.id, User.username, User.email, User.language, User.active,
                      User.role, _ALL_TEAMS.c.team_id)
               .outerjoin(_ALL_TEAMS, _ALL_TEAMS.c.user_id == User.id).order_by(User.id))


# --- telling people ------------------------------------------------------------------


def tell(session: Transaction, user: Recipient | User, kind: NoticeKind, *, now: datetime,
         ticket: TicketLike | None = None, ticket_type: TicketType | None = None,
         event_id: int | None = None, params: Mapping[str, Any] | None = None,
         email: bool = True, survey: bool = False) -> int | None:
    """Tell one user: an inbox entry and, when they have an address, an e-mail, both in
    their language. About a ticket, only when they may see it, and only its fields they
    may see. `survey`: the e-mail carries a fresh survey link (issued when it is sent).
    Returns the inbox entry's id (None: the user is disabled or may not see the ticket)."""
    if not user.active:
        return None
    if isinstance(user, User):
        user = _recipient_of(session, user)
    language = messages.language_of(user.language)
    full: dict[str, Any] = dict(params or {})
    if full.get("detail"):
        full["detail"] = str(full["detail"])[:MAX_DETAIL]
    if ticket is not None and ticket_type is not None:
        roles = policy.ticket_roles(user.actor, ticket)  # type: ignore[arg-type]
        if not roles:
            return None
        full["ticket"] = ticket_context(ticket, ticket_type, roles, language,
                                        with_fields=bool(email and user.email))
    title = messages.title(kind, language, full)
    ticket_id = ticket.id if ticket is not None else None
    # Prepared Core inserts on the transaction's connection, looked up once (a session
    # looks it up again per statement): telling people is on the hot path of changes.
    connection = connection_of(session)
    inbox_id = _INSERT_NOTIFICATION.scalar(connection, {
        "user_id": user.id, "ticket_id": ticket_id, "event_id": event_id, "kind": str(kind),
        "title": title, "data": _inbox_data(full), "created_at": now})
    enqueue(connection, channel=Channel.INBOX, recipient=user.username, subject=title,
            payload={"notification": inbox_id}, now=now, language=language,
            ticket_id=ticket_id, caused_by=event_id, state=OutboxState.SENT)
    if email and user.email:
        payload: dict[str, Any] = {"kind": str(kind), "params": full}
        if survey and ticket is not None:
            payload["survey_for"] = ticket.number
        enqueue(connection, channel=Channel.EMAIL, recipient=user.email, subject=title,
                payload=payload, now=now, language=language, ticket_id=ticket_id,
                caused_by=event_id)
    return inbox_id


_INSERT_NOTIFICATION = Prepared(insert(Notification).returning(Notification.id))


def _inbox_data(params: Mapping[str, Any]) -> dict[str, Any]:
    # The inbox keeps what a list needs; the ticket itself is a link away.
    data = {key: value for key, value in params.items() if key not in ("ticket", "detail")}
    ticket = params.get("ticket")
    if ticket:
        data["number"] = ticket["number"]
        data["ticket_title"] = ticket.get("title", "")  # to say it again in another language
        data["state"] = ticket["state_label"]
    if params.get("detail"):
        data["detail"] = str(params["detail"])[:MAX_INBOX_DETAIL]
    return data


def _display_name(session: Transaction, user_id: int | None) -> str:
    if user_id is None:
        return "ticketflow"
    row = session.execute(select(User.display_name, User.username)
                          .where(User.id == user_id)).first()
    return (row.display_name or row.username) if row else "ticketflow"


def _users_named(session: Transaction, names: Iterable[str]) -> list[Recipient]:
    wanted = sorted(set(names))
    if len(wanted) == 1:  # the common case (a routing winner, a team lead): prepared
        return _recipients(_NAMED_ONE.rows(session, {"name": wanted[0]}))
    return _recipients(connection_of(session).execute(_NAMED, {"names": wanted})) if wanted else []


def _user_with_id(session: Transaction, user_id: int) -> Recipient | None:
    found = _recipients(_WITH_ID.rows(session, {"id": user_id}))
    return found[0] if found else None


# Built once: notices go out on the hot path of ticket changes.
_NAMED = _RECIPIENTS.where(User.username.in_(bindparam("names", expanding=True)))
_NAMED_ONE = Prepared(_RECIPIENTS.where(User.username == bindparam("name")))
_WITH_ID = Prepared(_RECIPIENTS.where(User.id == bindparam("id")))
_IN_TEAM = Membership.__table__.alias("in_team")
_TEAM_STAFF = (_RECIPIENTS.join(_IN_TEAM, _IN_TEAM.c.user_id == User.id)
               .where(_IN_TEAM.c.team_id == bindparam("team"), User.active.is_(True),
                      User.role.in_(bindparam("roles", expanding=True))))


def team_staff(session: Transaction, team_id: int,
               roles: Iterable[Role] = (Role.AGENT, Role.SUPERVISOR)) -> list[Recipient]:
    """The active members of a team with one of `roles` (by default whom a team-wide
    notice reaches; `roles=(Role.SUPERVISOR,)` for an escalation)."""
    return _recipients(connection_of(session).execute(
        _TEAM_STAFF, {"team": team_id, "roles": [str(role) for role in roles]}))


def _staff_of_team(session: Transaction, key: str) -> list[Recipient]:
    """`team_staff` of the team with this key (none when the team does not exist)."""
    team_id = session.scalar(select(Team.id).where(Team.key == key))
    return team_staff(session, team_id) if team_id is not None else []


# --- the ticket services' hook ---------------------------------------------------------


def after_ticket_event(session: Transaction, *, kind: EventKind, event_id: int,
                       actor_id: int | None, data: Mapping[str, Any], ticket: TicketLike,
                       ticket_type: TicketType, now: datetime) -> None:
    """Everything a ticket event tells: the webhooks that subscribe to it, and the people
    it concerns (@mentioned users, the requester when someone else comments publicly, a
    transfer's new assignee or team, the requester when the ticket closes). Called in the
    event's transaction."""
    hooks = _subscribed(session, kind)
    concerns_people = (kind in (EventKind.TRANSFERRED, EventKind.CLOSED)
                       or (kind == EventKind.ASSIGNED and _assignment_tells(data))
                       or (kind == EventKind.COMMENTED and (
                           data.get("mentions") or _is_reply(data, actor_id, ticket))))
    if not hooks and not concerns_people:
        return  # the common case on the hot path: at most one small query and done
    by = _display_name(session, actor_id)
    if hooks:
        publish(session, kind=kind, event_id=event_id, actor=by, data=data, ticket=ticket,
                ticket_type=ticket_type, now=now, hooks=hooks)
    common = {"now": now, "ticket": ticket, "ticket_type": ticket_type, "event_id": event_id}
    if kind == EventKind.COMMENTED:
        mentioned = _users_named(session, data.get("mentions") or ())
        for user in mentioned:
            tell(session, user, NoticeKind.MENTION, params={"by": by, "detail": data["body"]},
                 **common)
        if _is_reply(data, actor_id, ticket) and ticket.requester_id not in {
                user.id for user in mentioned}:
            requester = _user_with_id(session, ticket.requester_id)
            if requester is not None:
                tell(session, requester, NoticeKind.REPLY,
                     params={"by": by, "detail": data["body"]}, **common)
    elif kind == EventKind.TRANSFERRED:
        _tell_transfer(session, by, data, actor_id, common)
    elif kind == EventKind.ASSIGNED:
        _tell_assignment(session, data, common)
    elif kind == EventKind.CLOSED and ticket.requester_id is not None:
        requester = _user_with_id(session, ticket.requester_id)
        if requester is not None:
            tell(session, requester, NoticeKind.CLOSED, params={"by": by}, survey=True,
                 **common)


def _is_reply(data: Mapping[str, Any], actor_id: int | None, ticket: TicketLike) -> bool:
    """A public comment by someone other than the requester: the requester hears of it."""
    return (not data.get("internal") and ticket.requester_id is not None
            and actor_id != ticket.requester_id)


def _tell_transfer(session: Transaction, by: str, data: Mapping[str, Any], actor_id: int | None,
                   common: dict[str, Any]) -> None:
    params = {"by": by, "detail": data.get("reason"), "team": data.get("to_team")}
    if data.get("to_user"):
        recipients = _users_named(session, [data["to_user"]])
        kind = NoticeKind.ASSIGNED
    elif data.get("to_team") and (data.get("to_team") != data.get("from_team")
                                  or data.get("from_user")):
        # A new team, or the team's own queue again (the assignee handed it back).
        recipients, kind = _staff_of_team(session, data["to_team"]), NoticeKind.TEAM_ASSIGNED
    else:
        return
    for user in recipients:
        if user.id != actor_id:  # passing a ticket to yourself needs no message
            tell(session, user, kind, params=params, **common)


def _assignment_tells(data: Mapping[str, Any]) -> bool:
    """Whether routing's outcome concerns someone: a winner, a team lead to tell that
    nobody qualified, or a claim pool's team (a queue without a lead tells nobody)."""
    outcome = data.get("outcome")
    return outcome in ("assigned", "pool") or (outcome == "queued" and bool(data.get("lead")))


def _tell_assignment(session: Transaction, data: Mapping[str, Any], common: dict[str, Any]
                     ) -> None:
    """The assignment rules' outcome: the winner hears of their new ticket; when nobody
    qualified, the team lead; a claim pool, the team."""
    outcome = data.get("outcome")
    if outcome == "assigned":
        recipients, kind = _users_named(session, [data["winner"]]), NoticeKind.ROUTED
    elif outcome == "queued" and data.get("lead"):
        recipients, kind = _users_named(session, [data["lead"]]), NoticeKind.QUEUED
    elif outcome == "pool" and data.get("team"):
        recipients, kind = _staff_of_team(session, data["team"]), NoticeKind.POOL
    else:
        return
    for user in recipients:
        tell(session, user, kind, params={"team": data.get("team")}, **common)


# --- webhooks -------------------------------------------------------------------------


def webhook_document(*, kind: str, event_id: int | None, actor: str, data: Mapping[str, Any],
                     ticket: TicketLike, ticket_type: TicketType, now: datetime,
                     language: str) -> dict[str, Any]:
    """The body a generic webhook receives (robots get it reshaped at delivery). Only
    what needs no role: the policy filters the event and the values."""
    roles = policy.WEBHOOK_ROLES
    context = ticket_context(ticket, ticket_type, roles, language)
    return {
        "event": kind,
        "event_id": event_id,
        "occurred_at": now.isoformat(),
        "actor": actor,
        "ticket": {
            "number": ticket.number, "type": ticket.ticket_type,
            "type_name": context["type_name"], "state": ticket.state,
            "state_label": context["state_label"], "title": context["title"],
            "values": policy.visible_values(ticket_type, ticket.data, roles),
        },
        "data": policy.visible_event(kind, data, ticket_type, roles) or {},
    }


@dataclass(frozen=True)
class Subscriber:
    """An active webhook as publishing reads it."""

    name: str
    events: list[str]  # empty: every kind
    language: str | None


def _subscribed(session: Transaction, kind: str) -> list[Subscriber]:
    """The active webhooks that want events of `kind`. Read once per transaction: a
    change that records several events (a creation and its routing) asks once."""
    connection = connection_of(session)
    transaction = connection.get_transaction()
    hooks = _ACTIVE_HOOKS.get(transaction) if transaction is not None else None
    if hooks is None:
        # Most installations have no webhooks: a one-row probe costs less than loading.
        any_active = _ANY_ACTIVE.first(connection, {}) is not None
        hooks = [Subscriber(row.name, row.events, row.language) for row in connection.execute(
            select(Webhook.name, Webhook.events, Webhook.language)
            .where(Webhook.active).order_by(Webhook.id))] if any_active else []
        if transaction is not None:
            _ACTIVE_HOOKS[transaction] = hooks
    return [hook for hook in hooks if not hook.events or kind in hook.events]


# Per transaction (an ORM session's or a bare connection's alike), gone with it.
_ACTIVE_HOOKS: WeakKeyDictionary[RootTransaction, list[Subscriber]] = WeakKeyDictionary()
_ANY_ACTIVE = Prepared(select(Webhook.id).where(Webhook.active).limit(1))


def publish(session: Transaction, *, kind: str, event_id: int | None, actor: str,
            data: Mapping[str, Any], ticket: TicketLike, ticket_type: TicketType,
            now: datetime, hooks: list[Subscriber] | None = None) -> int:
    """Queue a ticket event for every active webhook subscribed to its kind (in the
    caller's transaction; `hooks` when the caller already knows them). Returns how many
    were queued."""
    hooks = _subscribed(session, kind) if hooks is None else hooks
    if not hooks or policy.visible_event(kind, data, ticket_type, policy.WEBHOOK_ROLES) is None:
        return 0
    queued = 0
    documents: dict[str, dict[str, Any]] = {}
    for hook in hooks:
        language = messages.language_of(hook.language)
        if language not in documents:
            documents[language] = webhook_document(
                kind=kind, event_id=event_id, actor=actor, data=data, ticket=ticket,
                ticket_type=ticket_type, now=now, language=language)
        enqueue(session, channel=Channel.WEBHOOK, recipient=hook.name,
                subject=f"{kind} {ticket.number}", payload=documents[language], now=now,
                language=language, ticket_id=ticket.id, caused_by=event_id)
        queued += 1
    return queued
