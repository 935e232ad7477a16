"""The customer portal: tickets opened and followed without an account.

How an anonymous customer becomes a requester: each portal visitor who uploads a file or
sends a form gets a *guest* user of their own (role requester, no password, so it can
never log in), created on first need and remembered by the browser session until the
ticket is submitted. The name and e-mail the customer types are recorded on that guest,
so the ticket's requester is the contact. Guests are never merged by e-mail: typing
someone else's address must not give access to their tickets.

Following a ticket: the submission issues a secret link (number + random secret; only
the secret's SHA-256 is stored, in `portal_links`). Whoever holds the link acts on that
one ticket as its requester — sees what a requester sees, fires the requester's
transitions, comments, answers the survey — and nothing else.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine.model import RequesterDetail
from runtime import policy
from runtime.context import Actor, Request
from runtime.db import Database
from runtime.hashing import secret_digest
from runtime.models import PortalLink, Role, Ticket, User
from runtime.services import accounts, requesters, tickets
from runtime.services.accounts import actor_for
from runtime.services.errors import Invalid, NotFound

GUEST_PREFIX = "guest-"
MAX_NAME = accounts.MAX_DISPLAY_NAME


@dataclass(frozen=True)
class Submitted:
    """A ticket opened through the portal, and the secret that follows it (shown once)."""

    ticket: tickets.TicketView
    token: str



def guest(db: Database, now: datetime, guest_id: int | None, *, language: str,
          address: str | None = None) -> Request:
    """The visitor's guest requester (created unless `guest_id` names a live guest that
    has not submitted a ticket yet), as a service request in the visitor's language."""
    if guest_id is not None:
        # The common case (every keystroke of a live form): a read, no write lock.
        with db.read() as session:
            user = session.get(User, guest_id)
            if user is not None and _is_guest(user) and not _has_tickets(session, user.id):
                return Request(replace(actor_for(user), language=language), now, address)
    with db.write() as session:
        user = User(username=GUEST_PREFIX + secrets.token_hex(8), display_name="Guest",
                    role=str(Role.REQUESTER), language=language, active=True,
                    password_hash=None, created_at=now)
        session.add(user)
        session.flush()
        session.refresh(user)  # loads its (empty) teams for the actor
        return Request(replace(actor_for(user), language=language), now, address)


def _is_guest(user: User) -> bool:
    return (user.username.startswith(GUEST_PREFIX) and user.password_hash is None
            and user.role == Role.REQUESTER and user.active)


def _has_tickets(session: Any, user_id: int) -> bool:
    return session.scalar(select(Ticket.id).where(Ticket.requester_id == user_id).limit(1)) \
        is not None


# The portal's own contact inputs, by the requester detail each gives.
CONTACT_FIELDS = {RequesterDetail.NAME: "contact_name", RequesterDetail.EMAIL: "contact_email"}


def check_contact(name: Any, email: Any) -> list[dict[str, Any]]:
    """Problems with the contact a customer typed (both are needed to reply to them)."""
    problems = []
    if not accounts.is_display_name(name):
        problems.append({"field": CONTACT_FIELDS[RequesterDetail.NAME], "code": "required",
                         "message": f"enter your name (at most {MAX_NAME} characters)"})
    if not accounts.is_address(email):
        problems.append({"field": CONTACT_FIELDS[RequesterDetail.EMAIL], "code": "bad-email",
                         "message": "enter an e-mail address such as li.na@example.cn"})
    return problems


def submit(db: Database, request: Request, ticket_type_key: str, values: Any, *,
           name: Any, email: Any) -> Submitted:
    """Open a ticket as the visitor's guest requester and issue its follow link.

    Every problem (contact and form) is reported at once; nothing is created then.
    """
    from runtime.services import forms

    contact = check_contact(name, email)
    if contact:
        # Decide the form too, so the customer sees every problem in one go.
        preview = forms.intake(db, request, ticket_type_key,
                               values if isinstance(values, dict) else {},
                               contact=typed_contact(name, email))
        raise Invalid("the ticket has problems; nothing was created",
                      details=contact + list(preview.problems))
    _record_contact(db, request, str(name).strip(), str(email).strip())
    try:
        view = tickets.create(db, request, ticket_type_key, values)
    except Invalid as error:
        # A field filled from the contact (`from_requester`) is not on the guest's form:
        # its problem is shown at the contact field it came from.
        filled_by = forms.filled_from_requester(db, ticket_type_key)
        error.details = [_onto_contact(filled_by.get(str(item.get("field"))), item)
                         for item in error.details]
        raise
    return Submitted(view, issue_link(db, request, view.number))


def typed_contact(name: Any, email: Any) -> requesters.Contact:
    """The contact a guest typed, as the details `from_requester` fields are filled with."""
    return {RequesterDetail.NAME: name if isinstance(name, str) else None,
            RequesterDetail.EMAIL: email if isinstance(email, str) else None}


def _onto_contact(detail: RequesterDetail | None, item: dict[str, Any]) -> dict[str, Any]:
    if detail is None:
        return item
    return {**item, "field": CONTACT_FIELDS[detail], "pointer": ""}


def _record_contact(db: Database, request: Request, name: str, email: str) -> None:
    with db.write() as session:
        user = session.get(User, request.actor.user_id)
        assert user is not None
        user.display_name, user.email = name, email


def issue_link(db: Database, request: Request, number: str) -> str:
    """A new secret follow link for a ticket (its requester, or staff for a customer who
    called in); earlier links keep working. Returns the secret, shown once."""
    from runtime.services.tickets import _load

    token = secrets.token_urlsafe(24)
    with db.write() as session:
        loaded = _load(session, request, number)
        if not policy.can_issue_portal_link(request.actor, loaded.roles):
            raise NotFound(f"there is no ticket {number}")
        session.add(PortalLink(ticket_id=loaded.ticket.id, token_hash=secret_digest(token),
                               created_at=request.now))
    return token


def follow(db: Database, number: str, token: str, *, now: datetime, language: str,
           address: str | None = None) -> Request:
    """The service request of whoever holds the follow link: the ticket's requester, in
    the visitor's language. A wrong, revoked or mismatched link is a 404."""
    with db.read() as session:
        row = session.execute(
            select(Ticket.requester_id)
            .join(PortalLink, PortalLink.ticket_id == Ticket.id)
            .where(Ticket.number == number, PortalLink.token_hash == secret_digest(token),
                   PortalLink.revoked_at.is_(None))).first()
        user = session.get(User, row.requester_id) if row and row.requester_id else None
        if user is None or not user.active:
            raise NotFound("this link is not valid: check that it was copied whole")
        actor: Actor = replace(actor_for(user), language=language)
        return Request(actor, now, address)
