"""The in-app inbox: each user reads and marks their own notifications (written by
runtime/services/notify.py in the transaction of the change they tell about)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from runtime import policy
from runtime.context import Request
from runtime.db import Database
from runtime.delivery import messages
from runtime.models import Notification, Ticket
from runtime.services.errors import BadRequest, NotFound

MAX_PAGE = 100


@dataclass(frozen=True)
class NotificationView:
    id: int
    kind: str
    title: str
    ticket: str | None
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "title": self.title, "ticket": self.ticket,
                "data": self.data, "created_at": self.created_at.isoformat(),
                "read_at": self.read_at.isoformat() if self.read_at else None}


@dataclass(frozen=True)
class InboxPage:
    items: list[NotificationView]
    next_before: int | None
    unread: int


def _view(notification: Notification, number: str | None, language: str) -> NotificationView:
    """An entry as its reader reads it now: its title in their current language."""
    data = dict(notification.data)
    return NotificationView(notification.id, notification.kind,
                            messages.inbox_title(notification.kind, language, data,
                                                 notification.title),
                            number, data, notification.created_at, notification.read_at)


def list_notifications(db: Database, request: Request, *, unread_only: bool = False,
                       before: int | None = None, limit: int = 50) -> InboxPage:
    """The caller's notifications, newest first (keyset: `before` is the last id seen),
    with the count of unread ones."""
    if before is not None and before < 1:
        raise BadRequest("'before' must be a positive notification id", code="bad-cursor")
    limit = max(1, min(limit, MAX_PAGE))
    mine = policy.own_notifications(request.actor)
    query = (select(Notification, Ticket.number)
             .outerjoin(Ticket, Ticket.id == Notification.ticket_id).where(mine))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if before is not None:
        query = query.where(Notification.id < before)
    with db.read() as session:
        rows = session.execute(query.order_by(Notification.id.desc()).limit(limit + 1)).all()
        unread = session.scalar(select(func.count()).select_from(Notification)
                                .where(mine, Notification.read_at.is_(None))) or 0
    items = [_view(notification, number, request.actor.language)
             for notification, number in rows[:limit]]
    return InboxPage(items, items[-1].id if len(rows) > limit else None, unread)


def mark_read(db: Database, request: Request, notification_id: int) -> NotificationView:
    """Mark one of the caller's notifications read (again: no change). Someone else's
    is reported like a missing one."""
    with db.write() as session:
        row = session.execute(
            select(Notification, Ticket.number)
            .outerjoin(Ticket, Ticket.id == Notification.ticket_id)
            .where(Notification.id == notification_id,
                   policy.own_notifications(request.actor))).first()
        if row is None:
            raise NotFound(f"there is no notification {notification_id}")
        notification, number = row
        if notification.read_at is None:
            notification.read_at = request.now
        session.flush()
        return _view(notification, number, request.actor.language)


def mark_all_read(db: Database, request: Request) -> int:
    """Mark every unread notification of the caller read; returns how many changed.
    Only those that exist when it runs: one arriving a moment later stays unread."""
    with db.write() as session:
        result = session.execute(
            update(Notification)
            .where(policy.own_notifications(request.actor), Notification.read_at.is_(None))
            .values(read_at=request.now)
            .execution_options(synchronize_session=False))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def unread_count(db: Database, request: Request) -> int:
    """How many of the caller's notifications are unread (the header's badge: one
    indexed count, no rows loaded)."""
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Notification)
                              .where(policy.own_notifications(request.actor),
                                     Notification.read_at.is_(None))) or 0
