"""Repeat detection at creation: the runtime half of a definition's `duplicate_check`.

The engine decides (`engine.duplicates`); this module only asks the database for the
candidates: earlier tickets of the same type, created inside the window, whose key fields
hold the same values (an indexed range on type and creation time, then a JSON equality
per key field, the same expression on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.duplicates import Earlier, find_repeat, match_key, preset, window_start
from engine.model import TicketType
from engine.values import normalize
from runtime.models import Ticket

MAX_CANDIDATES = 20


def _storable(text: str) -> bool:
    # PostgreSQL refuses NUL in text parameters; such a value was never stored either.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def preset_for(session: Session, ticket_type: TicketType, submitted: Mapping[str, Any],
               now: datetime) -> dict[str, Any]:
    """Values to set on a ticket being created (the repeat flag and link), or nothing."""
    check = ticket_type.duplicate_check
    if check is None:
        return {}
    values = {name: normalize(submitted.get(name)) for name in check.fields}
    key = match_key(check, values)
    if key is None or not all(_storable(value) for value in key):
        return {}
    query = select(Ticket.number, Ticket.created_at, Ticket.data).where(
        Ticket.ticket_type == ticket_type.id,
        Ticket.created_at >= window_start(check, now), Ticket.created_at <= now)
    for name, value in zip(check.fields, key, strict=True):
        query = query.where(Ticket.data[name].as_string() == value)
    rows = session.execute(query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
                           .limit(MAX_CANDIDATES)).all()
    earlier = [Earlier(number, created_at, data) for number, created_at, data in rows]
    return preset(check, find_repeat(check, values, now, earlier))
