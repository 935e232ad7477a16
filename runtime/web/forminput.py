"""From an HTML form post to field values the engine understands, and back.

Browsers send text; fields have types. This module only converts (numbers, check boxes,
multi-choices, date-times from the local clock, table rows, uploaded-file references):
it never decides whether a value is acceptable — a value it cannot convert is passed on
as typed, so the engine reports it in the user's language like any other problem.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from engine.model import Field, FieldType

MAX_ROWS = 200  # far above any table's max_rows; bounds what a forged form can make us do
ROW_KEY = "{field}.{row}.{column}"


def parse(fields: Iterable[Field], form: MultiDict[str, str], zone: ZoneInfo
          ) -> dict[str, Any]:
    """The values of `fields` in a form post. A field the post does not mention is left
    out (so a live preview of a half-typed form does not blank the others); an emptied
    input is None."""
    values: dict[str, Any] = {}
    for spec in fields:
        if spec.computed:
            continue
        present = f"present.{spec.id}" in form or spec.id in form
        if not present:
            continue
        values[spec.id] = _value(spec, form, zone)
    return values


def _value(spec: Field, form: MultiDict[str, str], zone: ZoneInfo, name: str | None = None
           ) -> Any:
    """One field's value; `name` is the input's name when it is not the field id (a cell)."""
    kind, key = spec.type, name or spec.id
    if kind is FieldType.MULTI_CHOICE:
        return [value for value in form.getlist(key) if value] or None
    if kind is FieldType.ATTACHMENTS:
        return [{"id": value} for value in form.getlist(key) if value] or None
    if kind is FieldType.TABLE:
        return _rows(spec, form, zone)
    raw = form.get(key, "")
    if kind is FieldType.BOOLEAN:
        # A check box sends nothing when unticked: unticked is "no answer", so a field a
        # step `requires` stays unanswered until it is ticked.
        return True if raw in ("on", "true", "1", "yes") else None
    if raw.strip() == "":
        return None
    if kind is FieldType.NUMBER:
        return _number(raw)
    if kind is FieldType.DATETIME:
        return _instant(raw, zone)
    if kind in (FieldType.STRING, FieldType.EMAIL, FieldType.PHONE, FieldType.USER):
        return raw.strip()
    return raw


def _number(raw: str) -> Any:
    text = raw.strip().replace(",", "")
    try:
        number = float(text)
    except ValueError:
        return raw  # the engine says "not a number" in the user's language
    if not math.isfinite(number):
        return raw
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() \
        else number


def _instant(raw: str, zone: ZoneInfo) -> str:
    """A `datetime-local` value ("2026-11-23T09:30") read on the UI's clock, as RFC 3339;
    anything else is passed on as typed."""
    try:
        local = datetime.fromisoformat(raw.strip())
    except ValueError:
        return raw
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone)
    return local.isoformat()


def _rows(spec: Field, form: MultiDict[str, str], zone: ZoneInfo) -> list[dict[str, Any]] | None:
    count = _row_count(spec, form)
    rows = []
    for index in range(count):
        if form.get(f"{spec.id}.{index}.removed"):
            continue
        row: dict[str, Any] = {}
        for column in spec.columns:
            if column.computed:
                continue
            key = ROW_KEY.format(field=spec.id, row=index, column=column.id)
            cell = _value(column, form, zone, key) if key in form else None
            if cell is not None:
                row[column.id] = cell
        if row:
            rows.append(row)
    return rows or None


def _row_count(spec: Field, form: MultiDict[str, str]) -> int:
    try:
        count = int(form.get(f"rows.{spec.id}", "0"))
    except ValueError:
        count = 0
    return max(0, min(count, MAX_ROWS))


def display(spec: Field, value: Any, zone: ZoneInfo) -> Any:
    """A stored value as an input shows it (date-times on the UI's clock, no zone)."""
    if value is None:
        return ""
    if spec.type is FieldType.DATETIME and isinstance(value, str):
        try:
            instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if instant.tzinfo is not None:
            instant = instant.astimezone(zone)
        return instant.strftime("%Y-%m-%dT%H:%M")
    return value
