"""Configuration documents kept by stable key (business calendars), and the keys of
teams and calendars that definitions refer to.

A definition never holds a database id: it names teams (`assignment[].team`,
`sla.escalate[].reassign_to`) and calendars (`sla.calendar`) by key, so a folder of
definitions moves between installations. Calendars are YAML documents stored as text
under their key; the bundled ones live in `templates_library/calendars/<key>.yaml` and
are copied in when a template that uses them is installed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import templates_library
from runtime.context import Request
from runtime.models import ConfigDocument, ConfigKind

# The bundled library is a package of data files, wherever it is installed.
LIBRARY = Path(templates_library.__file__).resolve().parent


def referenced_teams(definition: Mapping[str, Any]) -> set[str]:
    """Team keys a definition's data refers to."""
    teams = {rule["team"] for rule in definition.get("assignment", ())
             if isinstance(rule, Mapping) and isinstance(rule.get("team"), str)}
    sla = definition.get("sla") or {}
    teams |= {step["reassign_to"] for step in sla.get("escalate", ())
              if isinstance(step, Mapping) and isinstance(step.get("reassign_to"), str)}
    return teams


def referenced_calendars(definition: Mapping[str, Any]) -> set[str]:
    """Calendar keys a definition's data refers to."""
    calendar = (definition.get("sla") or {}).get("calendar")
    return {calendar} if isinstance(calendar, str) else set()


def documents(session: Session, kind: ConfigKind, keys: Iterable[str] | None = None
              ) -> dict[str, ConfigDocument]:
    """Stored documents of a kind by key (all, or those with the given keys)."""
    query = select(ConfigDocument).where(ConfigDocument.kind == str(kind))
    if keys is not None:
        query = query.where(ConfigDocument.key.in_(sorted(set(keys))))
    return {row.key: row for row in session.scalars(query)}


def put_document(session: Session, request: Request, kind: ConfigKind, key: str,
                 source: str) -> bool:
    """Store a document's text under its key; False when it was already exactly this."""
    row = session.scalar(select(ConfigDocument).where(
        ConfigDocument.kind == str(kind), ConfigDocument.key == key))
    if row is not None and row.source == source:
        return False
    if row is None:
        row = ConfigDocument(kind=str(kind), key=key)
        session.add(row)
    row.source = source
    row.updated_at = request.now
    row.updated_by = request.actor.user_id
    session.flush()
    return True


def bundled_calendar(key: str, library: Path = LIBRARY) -> str | None:
    """The text of a bundled calendar, if the library has one with this key."""
    path = library / "calendars" / f"{key}.yaml"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def install_bundled_calendars(session: Session, request: Request, keys: Iterable[str],
                              library: Path = LIBRARY) -> list[str]:
    """Copy in the bundled calendars among `keys` that are not stored yet; their keys."""
    present = documents(session, ConfigKind.CALENDAR, keys)
    added = []
    for key in sorted(set(keys) - set(present)):
        text = bundled_calendar(key, library)
        if text is not None:
            put_document(session, request, ConfigKind.CALENDAR, key, text)
            added.append(key)
    return added
