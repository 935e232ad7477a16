"""Writing events: the append-only record every change leaves in its own transaction."""

from __future__ import annotations

from datetime import datetime
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
        actor_id=request.actor.user_id or None,  # 0: the system (escalations), nobody
        at=request.now,
        client_address=request.address,
        data=data,
    )
    session.add(event)
    session.flush()
    return event


def record_system(session: Session, kind: EventKind, data: dict[str, Any], *,
                  now: datetime, ticket_id: int | None = None) -> Event:
    """An event nobody's request caused (the scheduler firing a timer): no actor, no
    address."""
    event = Event(ticket_id=ticket_id, kind=str(kind), actor_id=None, at=now,
                  client_address=None, data=data)
    session.add(event)
    session.flush()
    return event
