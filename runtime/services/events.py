"""Writing events: the append-only record every change leaves in its own transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from runtime.context import Request
from runtime.models import Event, EventKind, Ticket


def record(session: Session, request: Request, kind: EventKind, data: dict[str, Any],
           ticket: Ticket | None = None) -> Event:
    """Add an event to the current transaction (committed together with the change)."""
    event = Event(
        ticket_id=ticket.id if ticket is not None else None,
        kind=str(kind),
        actor_id=request.actor.user_id,
        at=request.now,
        client_address=request.address,
        data=data,
    )
    session.add(event)
    session.flush()
    return event
