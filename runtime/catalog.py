"""Compiled ticket types by definition version.

Published versions never change, so a compiled version is kept for the life of the
process, keyed by the version's id; the cache holds derived data only and is never
needed for correctness. Lookups read only ids and numbers, not the source text, except
the first time a version is compiled in this process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import URL, Connection, Select, bindparam, literal_column, select, update
from sqlalchemy.orm import Session

from engine.compile import compile_source
from engine.model import TicketType
from engine.source import parse_text
from runtime.models import Definition, DefinitionVersion, VersionStatus
from runtime.prepared import Prepared
from runtime.services.errors import NotFound


@dataclass(frozen=True)
class Compiled:
    """A published version, compiled."""

    version_id: int
    definition_id: int
    key: str
    version: int
    ticket_type: TicketType


# Keyed by database and version id: ids are only unique within one database, and a
# process (a test run, say) may talk to several.
_compiled: dict[tuple[URL, int], Compiled] = {}
_lock = threading.Lock()


@lru_cache(maxsize=512)
def compile_text(source: str, source_format: str, name: str) -> TicketType:
    """Compile definition text (YAML or JSON); identical texts are compiled once.
    Raises `DefinitionError` with every located issue."""
    return compile_source(parse_text(source, name, json_format=source_format == "json"))


def compiled_version(session: Session | Connection, version_id: int) -> Compiled:
    """The compiled version with this id (compiled once per process)."""
    bind = session.engine if isinstance(session, Connection) else session.get_bind()
    cache_key = (bind.url, version_id)
    found = _compiled.get(cache_key)
    if found is not None:
        return found
    row = session.execute(
        select(DefinitionVersion.definition_id, DefinitionVersion.version,
               DefinitionVersion.source, DefinitionVersion.source_format, Definition.key)
        .join(Definition).where(DefinitionVersion.id == version_id)).one()
    name = f"{row.key}@{row.version}.{row.source_format}"
    found = Compiled(version_id, row.definition_id, row.key, row.version,
                     compile_text(row.source, row.source_format, name))
    with _lock:
        _compiled.setdefault(cache_key, found)
    return found


def _newest_published(definition_id: Any) -> Select[Any]:
    """The id of a definition's newest published version: what new tickets are created
    under (`latest_published`, `take_number`)."""
    return (select(DefinitionVersion.id)
            .where(DefinitionVersion.definition_id == definition_id,
                   DefinitionVersion.status == VersionStatus.PUBLISHED)
            .order_by(DefinitionVersion.version.desc()).limit(1))


_LATEST = _newest_published(
    select(Definition.id).where(Definition.key == bindparam("key")).scalar_subquery())


def latest_published(session: Session | Connection, key: str) -> Compiled:
    """The newest published version of a ticket type (what new tickets are created under).

    One small indexed query every time, so a version published by another process is
    used at once.
    """
    connection = session if isinstance(session, Connection) else session.connection()
    version_id = connection.execute(_LATEST, {"key": key}).scalar()
    if version_id is None:
        raise NotFound(f"there is no ticket type '{key}'")
    return compiled_version(session, version_id)


# RETURNING renders its columns unqualified, where a bare `id` would be the version's own:
# the updated row's id is named in full.
_NEWEST_OF_DEFINITION = _newest_published(
    literal_column(f"{Definition.__tablename__}.id")).scalar_subquery()
_TAKE_NUMBER = Prepared(update(Definition).where(Definition.key == bindparam("type_key"))
                        .values(next_number=Definition.next_number + 1)
                        .returning(Definition.next_number, _NEWEST_OF_DEFINITION))


def take_number(connection: Connection, key: str) -> tuple[Compiled, int]:
    """For a ticket being created: the newest published version of its type and the next
    ticket number of that type, taken in one statement — an atomic increment, so
    concurrent creators each get their own number (the row stays locked, on PostgreSQL,
    until the caller's transaction ends; rolling it back gives the number back)."""
    row = _TAKE_NUMBER.first(connection, {"type_key": key})
    if row is None or row[1] is None:
        raise NotFound(f"there is no ticket type '{key}'")
    return compiled_version(connection, row[1]), row[0] - 1
