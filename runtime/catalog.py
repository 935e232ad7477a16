"""Compiled ticket types by definition version.

Published versions never change, so a compiled version can be kept for the life of the
process; the cache holds derived data only and is never needed for correctness.
"""

from __future__ import annotations

from functools import lru_cache

from engine.compile import compile_source
from engine.model import TicketType
from engine.source import parse_text
from runtime.models import DefinitionVersion


@lru_cache(maxsize=512)
def _compile(version_id: int, source: str, source_format: str, name: str) -> TicketType:
    return compile_source(parse_text(source, name, json_format=source_format == "json"))


def ticket_type_of(version: DefinitionVersion) -> TicketType:
    """The compiled ticket type of a stored version (compiled once per process)."""
    name = f"{version.definition.key}@{version.version}.{version.source_format}"
    return _compile(version.id, version.source, version.source_format, name)
