"""Repeat detection at creation: the runtime half of a definition's `duplicate_check`.

The engine decides (`engine.duplicates`); this module only asks the database for the
candidates. Every ticket of a type with a duplicate check stores the fingerprint of its
key values (`tickets.repeat_key`), so the candidates are one indexed lookup (fingerprint,
creation time) however many tickets the window holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from engine.duplicates import (
    Earlier,
    find_repeat,
    key_digest,
    match_key,
    preset,
    window_start,
)
from engine.model import TicketType
from engine.values import normalize
from runtime.db import Transaction
from runtime.models import Ticket
from runtime.prepared import Prepared

MAX_CANDIDATES = 20


@dataclass(frozen=True)
class Repeat:
    """What creation needs: values to preset, and the fingerprint to store."""

    preset: dict[str, Any] = field(default_factory=dict)
    key: str | None = None


_EARLIER = Prepared(
    select(Ticket.number, Ticket.created_at, Ticket.data)
    .where(Ticket.repeat_key == bindparam("digest"),
           Ticket.created_at >= bindparam("since"), Ticket.created_at <= bindparam("now"))
    .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(MAX_CANDIDATES))


def check(session: Transaction, ticket_type: TicketType, submitted: Mapping[str, Any],
          now: datetime) -> Repeat:
    """Is a ticket being created a repeat? Its preset values (flag, link) and fingerprint."""
    spec = ticket_type.duplicate_check
    if spec is None:
        return Repeat()
    values = {name: normalize(submitted.get(name)) for name in spec.fields}
    key = match_key(spec, values)
    if key is None:
        return Repeat()
    digest = key_digest(ticket_type.id, spec, key)
    rows = _EARLIER.rows(session, {
        "digest": digest, "since": window_start(spec, now), "now": now})
    if not rows:  # the common case: nothing earlier to decide about, so nothing to preset
        return Repeat({}, digest)
    earlier = [Earlier(number, created_at, data) for number, created_at, data in rows]
    return Repeat(preset(spec, find_repeat(spec, values, now, earlier)), digest)

