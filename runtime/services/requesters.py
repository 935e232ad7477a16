"""What a customer has told us already is not asked again.

A definition may fill intake fields from the ticket's requester (`from_requester: name` or
`email`). When the requester is a customer, those fields take the customer's display
name and e-mail address from their account, or, on the public portal, the contact
details the guest typed above the form; the form then leaves out each field it can fill.
Staff opening a ticket (for a caller, say) fill the fields themselves: a colleague's own
name is never taken for a customer's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.forms import requester_fields, requester_values
from engine.model import RequesterDetail, TicketType
from runtime.context import Request
from runtime.db import Transaction
from runtime.models import Role, User

Contact = Mapping[RequesterDetail, str | None]


@dataclass(frozen=True)
class RequesterPart:
    """The part of an intake form the requester has already answered."""

    values: dict[str, str]  # field id -> the value taken from the requester
    hidden: frozenset[str]  # fields left out of the form


NOTHING = RequesterPart({}, frozenset())


def contact_of(session: Transaction, user_id: int) -> Contact | None:
    """A customer's name and e-mail address (None for staff or an unknown user)."""
    row = session.execute(select(User.role, User.display_name, User.email)
                          .where(User.id == user_id)).first()
    if row is None or row.role != str(Role.REQUESTER):
        return None
    return {RequesterDetail.NAME: row.display_name, RequesterDetail.EMAIL: row.email}


def fill(session: Transaction, ticket_type: TicketType, requester_id: int,
         values: Mapping[str, Any]) -> Mapping[str, Any]:
    """`values` with the `from_requester` fields left empty filled from the requester
    (a customer's account; nothing for staff). The hot path of intake pays nothing for a
    definition without such fields."""
    if not requester_fields(ticket_type):
        return values
    contact = contact_of(session, requester_id)
    if contact is None:
        return values
    given = {name: value for name, value in values.items() if value not in (None, "")}
    return {**values, **requester_values(ticket_type, contact), **given}


def form_part(session: Session, request: Request, ticket_type: TicketType,
              contact: Contact | None) -> RequesterPart:
    """What the creator's intake form leaves out. `contact`: the details a portal guest
    typed in the caller's own contact fields (every `from_requester` field is left out:
    the caller asks for them); None: a logged-in user's account is read."""
    fields = requester_fields(ticket_type)
    if not fields or request.actor.role is not Role.REQUESTER:
        return NOTHING
    if contact is not None:
        return RequesterPart(requester_values(ticket_type, contact),
                             frozenset(spec.id for spec in fields))
    known = contact_of(session, request.actor.user_id)
    values = requester_values(ticket_type, known) if known is not None else {}
    return RequesterPart(values, frozenset(values))
