"""Tickets as a file: CSV for spreadsheets, JSON Lines for programs.

An export holds exactly what the exporter's ticket list shows them: it walks
`tickets.list_tickets` a page at a time, so which tickets and which field values it holds
are the policy's decision, as in every other channel. A field none of the exporter's
roles may see gets no column at all. Each export is an event in the audit log, written
before the first row leaves.

The file is produced as it is sent (pages of `tickets.MAX_PAGE` rows, each read in its
own short transaction), so a large export neither holds the whole table in memory nor a
read transaction open for its whole length. Tickets opened after the export started are
left out (`created_before` is capped at its start), so an export of a busy system ends.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

import orjson

from engine.flow import may_see
from engine.model import Field, FieldType
from runtime import policy
from runtime.context import Request
from runtime.db import Database
from runtime.delivery import messages
from runtime.models import EventKind
from runtime.services import tickets
from runtime.services.errors import Forbidden
from runtime.services.events import record
from runtime.services.tickets import Filters, TicketView


class ExportFormat(StrEnum):
    CSV = "csv"  # UTF-8 with a byte-order mark, so spreadsheet programs read Chinese right
    JSONL = "jsonl"  # one ticket per line, as GET /api/v1/tickets/{number} gives it


MEDIA_TYPES = {ExportFormat.CSV: "text/csv; charset=utf-8",
               ExportFormat.JSONL: "application/x-ndjson"}

# The columns every CSV export starts with, then one per field.
COLUMNS = ("number", "ticket_type", "state", "title", "requester", "assignee", "team",
           "created_at", "updated_at", "closed_at", "reopen_count", "sla")
HEADINGS: dict[str, dict[str, str]] = {
    "en": {"number": "Number", "ticket_type": "Type", "state": "State", "title": "Title",
           "requester": "Requester", "assignee": "Assignee", "team": "Team",
           "created_at": "Created ({zone})", "updated_at": "Updated ({zone})",
           "closed_at": "Closed ({zone})", "reopen_count": "Reopened", "sla": "SLA"},
    "zh": {"number": "编号", "ticket_type": "类型", "state": "状态", "title": "标题",
           "requester": "提单人", "assignee": "处理人", "team": "团队",
           "created_at": "创建时间（{zone}）", "updated_at": "更新时间（{zone}）",
           "closed_at": "关闭时间（{zone}）", "reopen_count": "重开次数", "sla": "SLA"},
}
SLA_STATUS: dict[str, dict[str, str]] = {
    "en": {"breached": "breached", "met_late": "met late", "warning": "warning",
           "running": "running", "paused": "paused", "met": "met", "stopped": "stopped"},
    "zh": {"breached": "已超时", "met_late": "超时后完成", "warning": "即将超时",
           "running": "计时中", "paused": "已暂停", "met": "按时完成", "stopped": "已停止"},
}
# A cell a spreadsheet would run as a formula (CSV injection): it is kept as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class TicketExport:
    """A file to send: its name, its media type and its bytes, produced as they are read."""

    filename: str
    media_type: str
    chunks: Iterator[bytes]


@dataclass(frozen=True)
class _Column:
    field_id: str
    spec: Field
    labels: dict[str, str] | None  # a choice field's labels by value, in the language


def export_tickets(db: Database, request: Request, filters: Filters,
                   export_format: ExportFormat, *, zone: tzinfo = UTC) -> TicketExport:
    """The tickets the actor may see that match `filters`, oldest first, as a file.

    CSV cells are for people: labels in the actor's language, instants on `zone`'s clock
    (the installation's time zone), choices by their label. JSON Lines are for programs:
    each line is the API's ticket object. Refused (403) for anyone but supervisors and
    administrators; recorded in the audit log with the format and the filters."""
    if not policy.can_export_tickets(request.actor):
        raise Forbidden("only supervisors and administrators may export tickets")
    # Up to and including the export's instant (the bound is exclusive).
    cap = request.now + timedelta(microseconds=1)
    before = filters.created_before
    bounded = replace(filters, created_before=cap if before is None else min(before, cap))
    language = messages.language_of(request.actor.language)
    if export_format is ExportFormat.CSV:
        chunks = _csv(db, request, bounded, language, zone)
    else:
        chunks = (orjson.dumps(view.to_dict(), option=orjson.OPT_APPEND_NEWLINE)
                  for view in _views(db, request, bounded))
    first = next(chunks, b"")  # the first page read: a failure is still an error answer
    with db.write() as session:
        record(session, request, EventKind.DATA_EXPORTED,
               {"what": "tickets", "format": str(export_format),
                "filters": _described(filters)})
    return TicketExport(f"tickets-{request.now.astimezone(zone):%Y%m%d-%H%M%S}.{export_format}",
                        MEDIA_TYPES[export_format], _prefixed(first, chunks))


def _prefixed(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _described(filters: Filters) -> dict[str, Any]:
    """The filters as the audit log keeps them (only those set)."""
    return {name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in vars(filters).items() if value is not None}


def _views(db: Database, request: Request, filters: Filters) -> Iterator[TicketView]:
    cursor: str | None = None
    while True:
        page = tickets.list_tickets(db, request, filters, cursor=cursor,
                                    limit=tickets.MAX_PAGE, order=tickets.Order.OLDEST)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _csv(db: Database, request: Request, filters: Filters, language: str,
         zone: tzinfo) -> Iterator[bytes]:
    versions = tickets.matching_versions(db, request, filters)
    type_names = {compiled.ticket_type.id: compiled.ticket_type.name.text(language)
                  for compiled in versions}  # sorted by version: the newest name wins
    columns = _field_columns([compiled.ticket_type.fields for compiled in versions],
                             policy.export_roles(request.actor), language)
    zone_name = str(getattr(zone, "key", None) or zone.tzname(None) or "UTC")
    headings = HEADINGS[language]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([headings[name].format(zone=zone_name) for name in COLUMNS]
                    + [column.spec.label.text(language) for column in columns])
    yield ("\ufeff" + _taken(buffer)).encode()
    statuses = SLA_STATUS[language]
    for view in _views(db, request, filters):
        status = view.sla_status
        writer.writerow([
            view.number, type_names.get(view.ticket_type, view.ticket_type),
            _text(view.state_label), _text(view.title), view.requester or "",
            view.assignee or "", view.team or "", _local(view.created_at, zone),
            _local(view.updated_at, zone), _local(view.closed_at, zone), view.reopen_count,
            statuses.get(status, status) if status else "",
            *(_cell(column, view.values.get(column.field_id), language, zone)
              for column in columns),
        ])
        if buffer.tell() > 64 * 1024:
            yield _taken(buffer).encode()
    yield _taken(buffer).encode()


def _taken(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _field_columns(forms: list[tuple[Field, ...]], roles: frozenset[str],
                   language: str) -> list[_Column]:
    """One column per field id, in the order the forms list them (the first form to name
    an id gives its label); fields these roles may never see are left out."""
    columns: dict[str, _Column] = {}
    for fields in forms:
        for spec in fields:
            if spec.id not in columns and may_see(spec, roles):
                choice = spec.type in (FieldType.CHOICE, FieldType.MULTI_CHOICE)
                columns[spec.id] = _Column(
                    spec.id, spec, messages.option_labels(spec, language) if choice else None)
    return list(columns.values())


def _cell(column: _Column, value: Any, language: str, zone: tzinfo) -> str | int | float:
    """A field value as a spreadsheet cell: choices by label, yes/no, files by name,
    instants on the installation's clock, a table as its JSON."""
    if value is None or value == "" or value == []:
        return ""
    spec = column.spec
    if spec.type is FieldType.TABLE:
        return orjson.dumps(value).decode()
    if spec.type is FieldType.DATETIME and isinstance(value, str):
        try:
            return _local(datetime.fromisoformat(value.replace("Z", "+00:00")), zone)
        except ValueError:
            return _text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return _text(messages.display(value, language, column.labels))


def _text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _local(instant: datetime | None, zone: tzinfo) -> str:
    if instant is None:
        return ""
    if instant.tzinfo is None:  # a naive value in a field: taken as UTC, as stored
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
