"""Repeat detection (重复报修 / 二次派工): is a new ticket a repeat of a recent one?

A definition's `duplicate_check` names the fields that identify the thing being serviced
(a device number, a serial number), a window (`within: 30d`), a boolean `flag` field and
optionally a string `link` field. Finding earlier tickets needs data from other tickets,
so the work is split the usual way: the runtime asks the database for earlier tickets of
the same type with the same key values inside the window (`match_key`, `window_start`),
and the engine decides (`find_repeat`) and says which values to preset on the new ticket
(`preset`). The preset values go into `decide(..., current=...)`, so conditions,
branches and routing can use the flag on the very transition that creates the ticket.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any

from engine.durations import Duration


def window_of(within: Duration) -> timedelta:
    """How far back `within` looks: wall-clock time (a day is 24 hours, a week 7 days),
    since a repeat is about the calendar, not about anyone's working hours."""
    return timedelta(minutes=within.plain_minutes)


@dataclass(frozen=True, slots=True)
class DuplicateCheck:
    """A compiled `duplicate_check` block."""

    fields: tuple[str, ...]
    within: timedelta
    within_text: str
    flag: str
    link: str | None = None


@dataclass(frozen=True, slots=True)
class Earlier:
    """An earlier ticket as the runtime found it: enough to decide and to link."""

    number: str
    created_at: datetime
    values: Mapping[str, Any]


def match_key(check: DuplicateCheck, values: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The key values of a ticket, or None when any is missing (nothing to compare).

    Keys are compared as text exactly as stored: field patterns are where an admin
    decides that `prn-0042` and `PRN-0042` are not both allowed.
    """
    key = []
    for name in check.fields:
        value = values.get(name)
        if not isinstance(value, str) or not value.strip():
            return None
        key.append(value)
    return tuple(key)


def key_digest(ticket_type: str, check: DuplicateCheck, key: tuple[str, ...]) -> str:
    """A fixed-length fingerprint of (type, fields, values): what the runtime stores on a
    ticket and looks up by index, so finding earlier tickets never scans a whole window.

    The digest is stored, so its text may never change: it is what
    `json.dumps([ticket_type, list(check.fields), list(key)], ensure_ascii=False)` writes,
    put together from a prefix made once per type and fields and the same string encoder
    (json.dumps built an encoder per call, most of the cost on every ticket created)."""
    text = _prefix(ticket_type, check.fields) + ", ".join(map(encode_basestring, key)) + "]]"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@lru_cache(maxsize=256)
def _prefix(ticket_type: str, fields: tuple[str, ...]) -> str:
    return (f"[{encode_basestring(ticket_type)}, "
            f"[{', '.join(map(encode_basestring, fields))}], [")


def window_start(check: DuplicateCheck, now: datetime) -> datetime:
    """The earliest creation instant an earlier ticket may have to count."""
    return now - check.within


def find_repeat(check: DuplicateCheck, values: Mapping[str, Any], now: datetime,
                earlier: Iterable[Earlier]) -> Earlier | None:
    """The most recent earlier ticket this one repeats, or None.

    `earlier` may hold more than the runtime's query strictly needs (the decision does
    not trust the query): only tickets created inside the window, before `now`, with
    the same key count.
    """
    key = match_key(check, values)
    if key is None:
        return None
    start = window_start(check, now)
    found = [ticket for ticket in earlier
             if start <= ticket.created_at <= now and match_key(check, ticket.values) == key]
    return max(found, key=lambda ticket: (ticket.created_at, ticket.number), default=None)


def preset(check: DuplicateCheck, repeat: Earlier | None) -> dict[str, Any]:
    """Values the runtime puts on the new ticket before deciding its creation."""
    if repeat is None:
        return {}
    values: dict[str, Any] = {check.flag: True}
    if check.link is not None:
        values[check.link] = repeat.number
    return values
