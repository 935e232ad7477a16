"""Who may see and do what. Every channel (pages, fragments, API, exports, notifications)
asks this module; none decides access on its own.

Tickets: admins see all; agents and supervisors see their teams' tickets, tickets not yet
routed to a team, and tickets they requested or are assigned; requesters see their own.
A ticket someone may not see does not exist for them (404, never 403).

Fields: a field marked `visible_to` reaches only those roles — in values, in the
timeline, in errors and in every export — through `visible_values` and `visible_event`.

Notifications: an e-mail or inbox entry carries only what its recipient may see; a
webhook (or a chat-group robot) reaches people we cannot name, so it carries only what
needs no role at all (`WEBHOOK_ROLES`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import ColumnElement, false, func, or_, true

from engine.flow import may_see
from engine.model import TicketType
from runtime.context import Actor
from runtime.models import Attachment, EventKind, Notification, Role, Ticket


def ticket_roles(actor: Actor, ticket: Ticket) -> frozenset[str]:
    """The definition roles `actor` holds on `ticket` (empty: may not see it at all)."""
    roles: set[str] = set()
    if ticket.requester_id == actor.user_id:
        roles.add("requester")
    if ticket.assignee_id == actor.user_id:
        roles.add("assignee")
    if actor.is_admin:
        roles.update(("admin", "supervisor", "agent"))
    elif actor.is_staff and (ticket.team_id is None or ticket.team_id in actor.team_ids
                             or "assignee" in roles):
        roles.add("agent")
        if actor.role is Role.SUPERVISOR:
            roles.add("supervisor")
    return frozenset(roles)


def creator_roles(actor: Actor) -> frozenset[str]:
    """Roles of someone creating a ticket: its requester, plus their staff roles."""
    roles = {"requester"}
    if actor.is_staff:
        roles.add("agent")
    if actor.role in (Role.SUPERVISOR, Role.ADMIN):
        roles.add("supervisor")
    if actor.is_admin:
        roles.add("admin")
    return frozenset(roles)


def visible_tickets(actor: Actor) -> ColumnElement[bool]:
    """The SQL condition selecting the tickets `actor` may see (the same rule as
    `ticket_roles`, for lists and search)."""
    if actor.is_admin:
        return true()
    mine = or_(Ticket.requester_id == actor.user_id, Ticket.assignee_id == actor.user_id)
    if not actor.is_staff:
        return mine
    team_ids = sorted(actor.team_ids)
    in_team = Ticket.team_id.in_(team_ids) if team_ids else false()
    # Staff see a large share of all tickets: the newest page is found fastest by walking
    # the ids backwards and testing each row. Wrapped in a function so that the database
    # does not instead gather every visible ticket through four indexes and sort them
    # (SQLite's "multi-index OR": 24 ms instead of 2 with 100,000 tickets).
    return func.coalesce(or_(mine, Ticket.team_id.is_(None), in_team), false())


def visible_values(
    ticket_type: TicketType, values: Mapping[str, Any], roles: frozenset[str]
) -> dict[str, Any]:
    """The field values these roles may see."""
    fields = ticket_type.field_by_id
    return {name: value for name, value in values.items()
            if name in fields and may_see(fields[name], roles)}


def can_post_internal(roles: frozenset[str]) -> bool:
    """Internal comments are written and read by staff only."""
    return bool(roles & {"agent", "supervisor", "admin"})


def takes_additions(closed: bool, roles: frozenset[str], *, internal: bool) -> bool:
    """Whether a comment (`internal` or public) or a file may be added to a ticket. A
    closed ticket takes no more replies or files: its requester was told it is done and
    asked for a survey, and a reply there would reach a queue that no longer lists it.
    Staff may still leave an internal note on it (a refund posted, a part returned)."""
    return not closed or (internal and can_post_internal(roles))


ASSIGNMENT_SEEN_BY_CUSTOMERS = ("outcome", "team", "winner")
# Reminders, SLA warnings, breaches and escalations are the staff's business.
STAFF_ONLY_EVENTS = frozenset({EventKind.TIMER_FIRED, EventKind.SLA_WARNING,
                               EventKind.SLA_BREACHED, EventKind.ESCALATED})


def visible_event(
    kind: str, data: Mapping[str, Any], ticket_type: TicketType, roles: frozenset[str]
) -> dict[str, Any] | None:
    """An event as these roles may see it, or None when they may not see it at all."""
    if kind == EventKind.COMMENTED and data.get("internal") and not can_post_internal(roles):
        return None
    shown = dict(data)
    for key in ("changes", "values"):
        if isinstance(shown.get(key), dict):
            shown[key] = visible_values(ticket_type, shown[key], roles)
    if shown.get("branch") and not _may_read_branch(ticket_type, shown.get("transition"),
                                                     shown["branch"], roles):
        shown.pop("branch")
    if kind in (EventKind.TRANSFERRED, EventKind.ASSIGNED) and not can_post_internal(roles):
        shown.pop("reason", None)  # reasons for internal routing are not for customers
    if kind == EventKind.ASSIGNED and not can_post_internal(roles):
        # Customers learn where their ticket went, not who was on leave or how loaded.
        shown = {key: shown.get(key) for key in ASSIGNMENT_SEEN_BY_CUSTOMERS}
    if kind in STAFF_ONLY_EVENTS and not can_post_internal(roles):
        return None  # reminders and SLA clocks are the staff's business
    return shown


def _may_read_branch(ticket_type: TicketType, transition: Any, condition: str,
                     roles: frozenset[str]) -> bool:
    """A branch's condition is the definition's reasoning: staff read it, and only when it
    names no field hidden from them (`risk_score > 80` says something of a hidden score).
    One the version does not know is not shown."""
    if not can_post_internal(roles):
        return False
    known = ticket_type.transition_by_id.get(transition) if isinstance(transition, str) else None
    names = next((branch.when.names for branch in known.branches if branch.when is not None
                  and branch.when.source == condition), None) if known else None
    if names is None:
        return False
    fields = ticket_type.field_by_id
    return all(may_see(fields[name], roles) for name in names if name in fields)


def reached_by_mention(actor: Actor, ticket: Ticket, *, internal: bool) -> bool:
    """Whether an @mention in a comment on `ticket` reaches `actor`: they may see the
    ticket, and, for an internal note, read internal notes."""
    roles = ticket_roles(actor, ticket)
    return bool(roles) and (not internal or can_post_internal(roles))


def sees_sla(roles: frozenset[str]) -> bool:
    """SLA targets and due instants are the staff's commitments to watch, not shown to
    customers (their page shows progress, not internal deadlines)."""
    return can_post_internal(roles)


def can_claim(actor: Actor, roles: frozenset[str]) -> bool:
    return actor.is_staff and "agent" in roles


def can_transfer(actor: Actor, roles: frozenset[str]) -> bool:
    """The assignee passes a ticket on; supervisors and admins may move any they see."""
    return actor.is_staff and bool(roles & {"assignee", "supervisor", "admin"})


def can_read_definitions(actor: Actor) -> bool:
    return actor.is_staff


def can_manage_definitions(actor: Actor) -> bool:
    return actor.is_admin


def can_manage_templates(actor: Actor) -> bool:
    """Installing and cloning templates, importing and exporting definitions."""
    return actor.is_admin


def can_manage_users(actor: Actor) -> bool:
    return actor.is_admin


def can_manage_account(actor: Actor, username: str) -> bool:
    """A user's display name, address, language and API tokens: one's own;
    administrators: anyone's."""
    return username == actor.username or can_manage_users(actor)


def locks_self_out(actor: Actor, username: str, *, active: bool | None,
                   role: Role | None) -> bool:
    """Whether a change to `username` would disable the actor or take away their own
    administrator role: nobody else might be left to undo it."""
    return username == actor.username and (
        active is False or (role is not None and role is not Role.ADMIN))


def can_manage_agent(actor: Actor, agent_team_ids: frozenset[int]) -> bool:
    """Routing profiles (skills, capacity, schedule): administrators anyone's,
    supervisors those of the agents in their teams."""
    return actor.is_admin or (actor.role is Role.SUPERVISOR
                              and bool(agent_team_ids & actor.team_ids))


class FileUse(Protocol):
    """What deciding on a file's use reads: who uploaded it and which ticket has it."""

    uploaded_by: int | None
    ticket_id: int | None


def may_use_file(actor: Actor, attachment: FileUse, ticket: Ticket | None) -> bool:
    """A file may go into a ticket's field if the actor uploaded it and no ticket uses it
    yet, or if it already belongs to this very ticket."""
    if attachment.ticket_id is None:
        return attachment.uploaded_by == actor.user_id
    return ticket is not None and attachment.ticket_id == ticket.id


def may_download(actor: Actor, attachment: Attachment, ticket: Ticket | None,
                 ticket_type: TicketType | None) -> bool:
    """Your own upload; or a file of a ticket you may see, unless it sits only in fields
    hidden from you (an ID-card scan stays as hidden as the ID-card number)."""
    if attachment.uploaded_by == actor.user_id:
        return True
    roles = ticket_roles(actor, ticket) if ticket is not None else frozenset()
    if ticket is None or ticket_type is None or not roles:
        return False
    holders = {name for name, value in ticket.data.items()
               if isinstance(value, list) and any(
                   isinstance(item, dict) and item.get("id") == attachment.public_id
                   for item in value)}
    # A file in no field was attached to the ticket itself and is shown on its timeline.
    return not holders or bool(holders & set(visible_values(ticket_type, ticket.data, roles)))


def can_answer_survey(actor: Actor, ticket: Ticket) -> bool:
    """Only the ticket's requester rates the service (staff may not answer for them)."""
    return ticket.requester_id == actor.user_id


def can_list_users(actor: Actor) -> bool:
    """Staff see colleagues (to transfer, mention, filter); requesters see nobody."""
    return actor.is_staff


def sees_every_user(actor: Actor) -> bool:
    """Administrators also see requesters and disabled accounts."""
    return actor.is_admin


def can_list_teams(actor: Actor) -> bool:
    return actor.is_staff


def can_revoke_token(actor: Actor, owner_id: int) -> bool:
    """Your own tokens; administrators: anyone's."""
    return owner_id == actor.user_id or can_manage_users(actor)


def can_read_audit_log(actor: Actor) -> bool:
    return actor.is_admin


def can_choose_requester(actor: Actor) -> bool:
    """Staff may open a ticket on someone's behalf (a phone call, a walk-in)."""
    return actor.is_staff


def can_supervise(actor: Actor) -> bool:
    """Supervisors and admins watch breaches and agents' load and reassign in bulk."""
    return actor.role in (Role.SUPERVISOR, Role.ADMIN)


def can_export_tickets(actor: Actor) -> bool:
    """Supervisors and admins may take tickets out of the app as a file: a file is beyond
    the reach of roles and of the audit log once written, so it is for those who answer
    for their teams' data. It holds what they may see and no more (an export walks the
    same list, so its rows and fields follow `visible_tickets` and `visible_values`)."""
    return actor.role in (Role.SUPERVISOR, Role.ADMIN)


def export_roles(actor: Actor) -> frozenset[str]:
    """Every definition role `actor` may hold on some ticket. A field visible to none of
    them gets no column in their export: not even its label is theirs to read."""
    return creator_roles(actor) | {"assignee"}


def supervised_team_ids(actor: Actor) -> frozenset[int] | None:
    """The teams whose agents a supervisor oversees (None: every team, for admins)."""
    return None if actor.is_admin else actor.team_ids


def can_issue_portal_link(actor: Actor, roles: frozenset[str]) -> bool:
    """The ticket's requester, or staff acting for a customer who called in."""
    return "requester" in roles or (actor.is_staff and bool(roles))


def can_use_workspace(actor: Actor) -> bool:
    """The agent workspace (queues, claim pool, board) is for people who work tickets."""
    return actor.is_staff


# --- notifications -------------------------------------------------------------------

# The roles a webhook's audience holds: none. Only fields without `visible_to`, no
# internal comments, no routing reasons.
WEBHOOK_ROLES: frozenset[str] = frozenset()


def visible_title(ticket_type: TicketType, ticket: Ticket, roles: frozenset[str]) -> str:
    """The ticket's title for these roles: the title is copied from a field, so when that
    field is hidden from them the number stands in for it."""
    hidden = {name for name in ticket.data if name in ticket_type.field_by_id
              and not may_see(ticket_type.field_by_id[name], roles)}
    if any(ticket.data.get(name) == ticket.title for name in hidden):
        return ticket.number
    return ticket.title


def own_notifications(actor: Actor) -> ColumnElement[bool]:
    """Everyone reads their own inbox and nobody else's."""
    return Notification.user_id == actor.user_id


def can_manage_webhooks(actor: Actor) -> bool:
    return actor.is_admin


def can_read_outbox(actor: Actor) -> bool:
    """The outbox holds messages to many people: administrators only."""
    return actor.is_admin


def may_remind(actor: Actor, roles: frozenset[str]) -> bool:
    """Anyone who may see a ticket may set themselves a reminder on it."""
    return bool(roles)
