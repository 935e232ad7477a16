"""Reminders and scheduled notices: the timer kinds `remind` and `notify`.

`remind` tells one user about a ticket at a chosen instant (an inbox entry and an
e-mail), if they may still see it then. `notify` tells a list of users a free text (in
each one's language when the text comes in several). Both fire through the scheduler
(runtime/services/timers.py), so they fire once however many workers run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from runtime import policy
from runtime.catalog import compiled_version
from runtime.context import Request
from runtime.db import Database
from runtime.models import NoticeKind, Ticket, TimerKind, User
from runtime.services import notify, timers
from runtime.services.errors import Forbidden, Invalid, NotFound

MAX_NOTE = 1_000


@dataclass(frozen=True)
class Reminder:
    key: str
    ticket: str
    due_at: datetime
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "ticket": self.ticket, "due_at": self.due_at.isoformat(),
                "note": self.note}


def remind(db: Database, request: Request, number: str, *, at: datetime,
           note: str | None = None) -> Reminder:
    """Remind the caller of a ticket they may see at `at` (in the future)."""
    if at <= request.now:
        raise Invalid("a reminder must be in the future", details=[
            {"field": "at", "code": "in-the-past", "message": "a reminder must be in the future"}])
    if note is not None and len(note) > MAX_NOTE:
        raise Invalid(f"a note may have at most {MAX_NOTE} characters", details=[
            {"field": "note", "code": "too-long",
             "message": f"a note may have at most {MAX_NOTE} characters"}])
    with db.write() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        roles = policy.ticket_roles(request.actor, ticket) if ticket is not None else frozenset()
        if ticket is None or not roles:
            raise NotFound(f"there is no ticket {number}")
        if not policy.may_remind(request.actor, roles):
            raise Forbidden("you may not set reminders on this ticket")
        key = f"remind:{number}:{request.actor.user_id}:{secrets.token_hex(8)}"
        timers.schedule(session, kind=TimerKind.REMIND, key=key, due_at=at, now=request.now,
                        ticket_id=ticket.id,
                        payload={"user_id": request.actor.user_id, "note": note})
        return Reminder(key, number, at, note)


@timers.handler(TimerKind.REMIND)
def _remind(session: Session, firing: timers.Firing) -> None:
    user = session.get(User, firing.payload.get("user_id"))
    ticket = session.get(Ticket, firing.ticket_id) if firing.ticket_id is not None else None
    if user is None:
        return  # the user is gone; the firing itself is on record
    note = firing.payload.get("note")
    ticket_type = (compiled_version(session, ticket.definition_version_id).ticket_type
                   if ticket is not None else None)
    notify.tell(session, user, NoticeKind.REMINDER, now=firing.now, ticket=ticket,
                ticket_type=ticket_type, event_id=firing.event.id,
                params={"detail": note, "note": note})


def _text_param(text: Any) -> Any:
    # One text per language stays so (`messages.localised` picks the reader's).
    if isinstance(text, dict):
        return {str(key): str(value) for key, value in text.items()}
    return "" if text is None else str(text)


@timers.handler(TimerKind.NOTIFY)
def _notify(session: Session, firing: timers.Firing) -> None:
    """Payload: `users` (user names), `subject` and `text` (a string, or one per
    language: {"en": ..., "zh": ...}), `email` (default true)."""
    payload = firing.payload
    names = [name for name in payload.get("users") or () if isinstance(name, str)]
    ticket = session.get(Ticket, firing.ticket_id) if firing.ticket_id is not None else None
    ticket_type = (compiled_version(session, ticket.definition_version_id).ticket_type
                   if ticket is not None else None)
    for user in session.scalars(select(User).where(User.username.in_(names)).order_by(User.id)):
        notify.tell(session, user, NoticeKind.NOTICE, now=firing.now, ticket=ticket,
                    ticket_type=ticket_type, event_id=firing.event.id,
                    email=payload.get("email", True) is not False,
                    params={"subject": _text_param(payload.get("subject")),
                            "text": _text_param(payload.get("text"))})
