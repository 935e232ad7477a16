"""The audit log: every event, newest first, for administrators. It is read from the same
append-only events the timelines come from; nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from runtime import policy
from runtime.context import Request
from runtime.db import Database
from runtime.models import Event, Ticket, User
from runtime.services.errors import BadRequest, Forbidden

MAX_PAGE = 200


@dataclass(frozen=True)
class AuditEntry:
    id: int
    kind: str
    at: datetime
    actor: str | None
    address: str | None
    ticket: str | None
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "at": self.at.isoformat(),
                "actor": self.actor, "address": self.address, "ticket": self.ticket,
                "data": self.data}


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEntry]
    next_cursor: int | None


def entries(db: Database, request: Request, *, kind: str | None = None,
            actor: str | None = None, before: int | None = None,
            limit: int = 50) -> AuditPage:
    """Events newest first (keyset: `before` is the last id seen), admins only."""
    if not policy.can_read_audit_log(request.actor):
        raise Forbidden("only administrators may read the audit log")
    if before is not None and before < 1:
        raise BadRequest("'before' must be a positive event id", code="bad-cursor")
    limit = max(1, min(limit, MAX_PAGE))
    query = (select(Event, User.username, Ticket.number)
             .outerjoin(User, User.id == Event.actor_id)
             .outerjoin(Ticket, Ticket.id == Event.ticket_id))
    if kind is not None:
        query = query.where(Event.kind == kind)
    if actor is not None:
        query = query.where(User.username == actor)
    if before is not None:
        query = query.where(Event.id < before)
    with db.read() as session:
        rows = session.execute(query.order_by(Event.id.desc()).limit(limit + 1)).all()
    items = [AuditEntry(event.id, event.kind, event.at, username, event.client_address,
                        number, dict(event.data)) for event, username, number in rows[:limit]]
    return AuditPage(items, items[-1].id if len(rows) > limit else None)
