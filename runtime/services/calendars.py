"""Business calendars by key: the bundled files in templates_library/calendars, the
built-in `24x7`, and calendars an administrator added, changed or imported (kept as
configuration documents, `runtime.services.configuration`, which take precedence over a
bundled file of the same key).

SLA clocks look calendars up by the key their definition names, when they are computed;
a changed calendar applies to clocks computed after the change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from engine.calendar import ALWAYS, BusinessCalendar
from engine.calendar_compile import bundled_calendars, loads_calendar
from engine.errors import DefinitionError
from runtime import policy
from runtime.context import Request
from runtime.db import Database
from runtime.models import ConfigDocument, ConfigKind, EventKind
from runtime.prepared import Prepared
from runtime.services import configuration
from runtime.services.errors import Forbidden, Invalid, NotFound
from runtime.services.events import record


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
def bundled() -> dict[str, BusinessCalendar]:
    """The calendars shipped with ticketflow, and the built-in 24x7 (read once: they
    change with a release)."""
    return bundled_calendars(configuration.LIBRARY / "calendars")


@lru_cache(maxsize=256)
def _compiled(source: str, key: str) -> BusinessCalendar:
    # Keyed by the text itself: a changed document is a new entry, so nothing goes stale.
    return loads_calendar(source, f"{key}.yaml")


_STORED = Prepared(select(ConfigDocument.source)
                   .where(ConfigDocument.kind == str(ConfigKind.CALENDAR),
                          ConfigDocument.key == bindparam("key")))


def calendar_for(executor: Session | Connection, key: str) -> BusinessCalendar:
    """The calendar named `key`: a stored document, else a bundled one (404 if none)."""
    source = _STORED.scalar(executor, {"key": key})
    if source is not None:
        return _compiled(source, key)
    found = bundled().get(key)
    if found is None:
        raise NotFound(f"there is no calendar '{key}'")
    return found


def _info(calendar: BusinessCalendar, origin: str, updated_at: datetime | None
          ) -> CalendarInfo:
    name = dict(calendar.name.texts) if calendar.name else {}
    return CalendarInfo(calendar.id, name, calendar.timezone, origin, updated_at)


def list_calendars(db: Database, request: Request) -> list[CalendarInfo]:
    """Every calendar by key (staff)."""
    if not policy.can_read_definitions(request.actor):
        raise Forbidden("only staff may read calendars")
    infos = {key: _info(calendar, "built-in" if key == ALWAYS.id else "bundled", None)
             for key, calendar in bundled().items()}
    with db.read() as session:
        for key, row in configuration.documents(session, ConfigKind.CALENDAR).items():
            infos[key] = _info(_compiled(row.source, key), "custom", row.updated_at)
    return [infos[key] for key in sorted(infos)]


def get_source(db: Database, request: Request, key: str) -> tuple[CalendarInfo, str]:
    """A calendar's info and source text (staff)."""
    if not policy.can_read_definitions(request.actor):
        raise Forbidden("only staff may read calendars")
    with db.read() as session:
        row = configuration.documents(session, ConfigKind.CALENDAR, [key]).get(key)
        if row is not None:
            return _info(_compiled(row.source, key), "custom", row.updated_at), row.source
    # Only a key the library has reaches the file system (a URL's key is anything).
    calendar = bundled().get(key)
    source = configuration.bundled_calendar(key) if calendar is not None else None
    if calendar is None or source is None:
        raise NotFound(f"there is no calendar '{key}' with a source")
    return _info(calendar, "bundled", None), source


def save(db: Database, request: Request, key: str, source: str) -> CalendarInfo:
    """Add or change the calendar `key` (administrators; YAML, or JSON which is YAML too);
    refused whole with every located issue when it does not compile or names another
    key."""
    if not policy.can_manage_definitions(request.actor):
        raise Forbidden("only administrators may change calendars")
    try:
        calendar = _compiled(source, key)
    except DefinitionError as error:
        raise Invalid("the calendar has problems; nothing was saved",
                      details=[issue.to_dict() for issue in error.issues]) from None
    if calendar.id != key:
        raise Invalid(f"the source declares calendar '{calendar.id}', not '{key}'",
                      details=[{"code": "key-mismatch", "pointer": "/calendar",
                                "message": f"calendar is '{calendar.id}' but the URL "
                                           f"names '{key}'"}])
    with db.write() as session:
        configuration.put_document(session, request, ConfigKind.CALENDAR, key, source)
        record(session, request, EventKind.CALENDAR_SAVED, {"calendar": key})
    return _info(calendar, "custom", request.now)
