"""Business calendars by key: the bundled files in templates_library/calendars, the
built-in `24x7`, and calendars an administrator added or changed (rows in `calendars`,
which take precedence over a bundled file of the same key).

SLA clocks look calendars up by the key their definition names, when they are computed;
a changed calendar applies to clocks computed after the change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

import templates_library
from engine.calendar import ALWAYS, BusinessCalendar
from engine.calendar_compile import CALENDAR_SUFFIXES, load_calendar, loads_calendar
from engine.errors import DefinitionError
from runtime import policy
from runtime.context import Request
from runtime.db import Database
from runtime.models import Calendar, EventKind
from runtime.services.errors import Forbidden, Invalid, NotFound
from runtime.services.events import record

BUNDLED = Path(templates_library.__file__).parent / "calendars"
FORMATS = ("yaml", "json")


@dataclass(frozen=True)
class CalendarInfo:
    key: str
    name: dict[str, str]
    timezone: str
    origin: str  # "built-in", "bundled" or "custom"
    updated_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        return data


@lru_cache(maxsize=1)
def bundled() -> dict[str, tuple[BusinessCalendar, Path | None]]:
    """The calendars shipped with ticketflow (read once: they change with a release)."""
    found: dict[str, tuple[BusinessCalendar, Path | None]] = {ALWAYS.id: (ALWAYS, None)}
    for path in sorted(BUNDLED.iterdir()):
        if path.suffix.lower() in CALENDAR_SUFFIXES:
            calendar = load_calendar(path)
            found[calendar.id] = (calendar, path)
    return found


@lru_cache(maxsize=256)
def _compiled(source: str, source_format: str, key: str) -> BusinessCalendar:
    # Keyed by the text itself: a changed row is a new entry, so nothing goes stale.
    return loads_calendar(source, f"{key}.{source_format}")


def calendar_for(executor: Session | Connection, key: str) -> BusinessCalendar:
    """The calendar named `key`: an administrator's row, else a bundled one (404 if none)."""
    row = executor.execute(select(Calendar.source, Calendar.source_format)
                           .where(Calendar.key == key)).first()
    if row is not None:
        return _compiled(row.source, row.source_format, key)
    found = bundled().get(key)
    if found is None:
        raise NotFound(f"there is no calendar '{key}'")
    return found[0]


def _info(calendar: BusinessCalendar, origin: str, updated_at: datetime | None
          ) -> CalendarInfo:
    name = dict(calendar.name.texts) if calendar.name else {}
    return CalendarInfo(calendar.id, name, calendar.timezone, origin, updated_at)


def list_calendars(db: Database, request: Request) -> list[CalendarInfo]:
    """Every calendar by key (staff)."""
    if not policy.can_read_definitions(request.actor):
        raise Forbidden("only staff may read calendars")
    infos = {key: _info(calendar, "built-in" if path is None else "bundled", None)
             for key, (calendar, path) in bundled().items()}
    with db.read() as session:
        for row in session.scalars(select(Calendar)):
            infos[row.key] = _info(_compiled(row.source, row.source_format, row.key),
                                   "custom", row.updated_at)
    return [infos[key] for key in sorted(infos)]


def get_source(db: Database, request: Request, key: str) -> tuple[CalendarInfo, str, str]:
    """A calendar's info, source text and format (staff)."""
    if not policy.can_read_definitions(request.actor):
        raise Forbidden("only staff may read calendars")
    with db.read() as session:
        row = session.scalar(select(Calendar).where(Calendar.key == key))
        if row is not None:
            calendar = _compiled(row.source, row.source_format, key)
            return _info(calendar, "custom", row.updated_at), row.source, row.source_format
    calendar, path = bundled().get(key, (None, None))
    if calendar is None or path is None:
        raise NotFound(f"there is no calendar '{key}' with a source")
    return (_info(calendar, "bundled", None), path.read_text(encoding="utf-8"),
            path.suffix.lstrip(".").replace("yml", "yaml"))


def save(db: Database, request: Request, key: str, source: str,
         source_format: str = "yaml") -> CalendarInfo:
    """Add or change the calendar `key` (administrators); refused whole with every
    located issue when it does not compile or names another key."""
    if not policy.can_manage_definitions(request.actor):
        raise Forbidden("only administrators may change calendars")
    if source_format not in FORMATS:
        raise Invalid(f"format must be one of {', '.join(FORMATS)}")
    try:
        calendar = _compiled(source, source_format, key)
    except DefinitionError as error:
        raise Invalid("the calendar has problems; nothing was saved",
                      details=[issue.to_dict() for issue in error.issues]) from None
    if calendar.id != key:
        raise Invalid(f"the source declares calendar '{calendar.id}', not '{key}'",
                      details=[{"code": "key-mismatch", "pointer": "/calendar",
                                "message": f"calendar is '{calendar.id}' but the URL "
                                           f"names '{key}'"}])
    with db.write() as session:
        row = session.scalar(select(Calendar).where(Calendar.key == key))
        if row is None:
            row = Calendar(key=key, created_at=request.now)
            session.add(row)
        row.source, row.source_format, row.updated_at = source, source_format, request.now
        record(session, request, EventKind.CALENDAR_SAVED, {"calendar": key})
    return _info(calendar, "custom", request.now)
