"""Checks of one field's value: type, size, format, options, files, table rows.

Written for the common case: a valid value passes through a couple of type tests and
returns the shared empty tuple; localised problems are only built when something is
wrong. `""`, `[]` and `{}` mean "no value" (a browser sends `""` for an empty input) and
are normalised to `None` before any check; requiredness is decided elsewhere
(`engine.forms`), because it depends on the state, the step and the other fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import re2
from rfc3339_validator import validate_rfc3339

from engine.errors import Problem
from engine.messages import ProblemCode, problem
from engine.model import Field, FieldType

NO_PROBLEMS: tuple[Problem, ...] = ()

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_PATTERN = r"^\+?[0-9][0-9 ().-]{3,30}[0-9]$"
USER_PATTERN = r"^[A-Za-z0-9_.@-]{1,150}$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_EMAIL = re.compile(EMAIL_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)
_USER = re.compile(USER_PATTERN)
_DATE = re.compile(DATE_PATTERN)
_INFINITIES = (float("inf"), float("-inf"))
_FILE_KEYS = frozenset({"name", "size", "content_type", "id"})


_CONTAINERS = (str, list, dict)


def is_empty(value: Any) -> bool:
    """No value: null, empty text, an empty list or map."""
    return value is None or (value.__class__ in _CONTAINERS and not value)


def normalize(value: Any) -> Any:
    """`""`, `[]` and `{}` become `None`; anything else is returned as it is."""
    # is_empty, inlined: this runs for every submitted value and table cell. Only the
    # exact container types count (a bool or 0 is a value, not "empty").
    return None if value is None or (value.__class__ in _CONTAINERS and not value) else value


@cache
def compiled_pattern(pattern: str) -> Any:
    """An admin's pattern compiled with RE2 (linear time, whatever the input)."""
    return re2.compile(pattern)


_NOT_FOUND = (-1, -1)


@cache
def pattern_search(pattern: str) -> Callable[[str], bool]:
    """A yes/no test: is an admin's (RE2) pattern found in a text?

    Same answer as `compiled_pattern(pattern).search(text) is not None`. The google-re2
    wrapper's `search` builds a generator, an offset table and a match object in Python
    (about 4 µs a call); asking its compiled regexp directly costs a fraction of that.
    Should a google-re2 release lay its internals out differently, the public call is used.
    """
    regexp = compiled_pattern(pattern)
    raw = getattr(regexp, "_regexp", None)
    anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
    public = raw is None or anchor is None or not hasattr(raw, "Match")

    def found(text: str) -> bool:
        try:
            if public:
                return regexp.search(text) is not None
            encoded = text.encode("utf-8")
        except UnicodeEncodeError:
            return False  # lone surrogates are not text: nothing can match them
        return raw.Match(anchor, encoded, 0, len(encoded))[0] != _NOT_FOUND

    return found


# fullmatch, not match: a `$` also matches before a trailing newline ("a@b.cn\n").
def is_email(value: object) -> bool:
    return not isinstance(value, str) or _EMAIL.fullmatch(value) is not None


def is_phone(value: object) -> bool:
    return not isinstance(value, str) or _PHONE.fullmatch(value) is not None


def is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _DATE.match(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_datetime(value: object) -> bool:
    # rfc3339-validator's pattern ends in `$`, which lets a trailing newline through.
    return not isinstance(value, str) or (not value.endswith("\n") and validate_rfc3339(value))


def check_value(
    field: Field, value: Any, language: str, *, path: str, owner: str | None = None
) -> tuple[Problem, ...] | list[Problem]:
    """Problems with one (already normalised) value; the empty tuple when it is fine.

    `owner` is the top-level field a table cell belongs to (problems are reported there).
    """
    if value is None:
        return NO_PROBLEMS
    checker = _CHECKERS[field.type]
    return checker(field, value, language, path, owner or field.id)


def _label(field: Field, language: str) -> str:
    return field.label.text(language)


def _wrong_type(field: Field, language: str, path: str, owner: str, expected: str) -> list[Problem]:
    return [problem(ProblemCode.WRONG_TYPE, owner, path, language,
                    label=_label(field, language), expected=expected)]


def _check_text(field: Field, value: Any, language: str, path: str, owner: str) -> Any:
    if type(value) is not str:
        return _wrong_type(field, language, path, owner, "text")
    size = len(value)
    if (field.max_length is None or size <= field.max_length) and (
        field.min_length is None or size >= field.min_length
    ) and (field.pattern is None or pattern_search(field.pattern)(value)):
        return NO_PROBLEMS
    problems: list[Problem] = []
    label = _label(field, language)
    if field.min_length is not None and size < field.min_length:
        problems.append(problem(ProblemCode.TOO_SHORT, owner, path, language, label=label,
                                limit=field.min_length))
    if field.max_length is not None and size > field.max_length:
        problems.append(problem(ProblemCode.TOO_LONG, owner, path, language, label=label,
                                limit=field.max_length))
    elif field.pattern is not None and not pattern_search(field.pattern)(value):
        problems.append(problem(ProblemCode.PATTERN_MISMATCH, owner, path, language, label=label))
    return problems


def _format_checker(
    test: Any, code: ProblemCode, max_length: int | None = None
) -> Any:
    def check(field: Field, value: Any, language: str, path: str, owner: str) -> Any:
        if type(value) is not str:
            return _wrong_type(field, language, path, owner, "text")
        limit = field.max_length or max_length
        if limit is not None and len(value) > limit:
            return [problem(ProblemCode.TOO_LONG, owner, path, language,
                            label=_label(field, language), limit=limit)]
        if test(value):
            return NO_PROBLEMS
        return [problem(code, owner, path, language, label=_label(field, language))]

    return check


def _decimal_places(value: float | int) -> int:
    text = repr(value)
    if "e" not in text and "n" not in text:
        # Plain notation (no exponent, not inf/nan): count the fraction's digits, as the
        # Decimal below would, at a fraction of its cost.
        return len(text.partition(".")[2].rstrip("0"))
    try:
        exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    except InvalidOperation:
        return 0
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _check_number(field: Field, value: Any, language: str, path: str, owner: str) -> Any:
    kind = type(value)
    if kind is not int and kind is not float:
        return _wrong_type(field, language, path, owner, "a number")
    if (field.minimum is None or value >= field.minimum) and (
        field.maximum is None or value <= field.maximum
    ) and (not field.integer or kind is int or value.is_integer()) and (
        field.decimals is None or kind is int or _decimal_places(value) <= field.decimals
    ) and value == value and value not in _INFINITIES:
        return NO_PROBLEMS
    label = _label(field, language)
    problems: list[Problem] = []
    if value != value or value in _INFINITIES:
        return _wrong_type(field, language, path, owner, "a number")
    if field.integer and not (kind is int or value.is_integer()):
        problems.append(problem(ProblemCode.NOT_INTEGER, owner, path, language, label=label))
    elif field.decimals is not None and _decimal_places(value) > field.decimals:
        problems.append(problem(ProblemCode.TOO_MANY_DECIMALS, owner, path, language,
                                label=label, limit=field.decimals))
    if field.minimum is not None and value < field.minimum:
        problems.append(problem(ProblemCode.TOO_SMALL, owner, path, language, label=label,
                                limit=_plain(field.minimum)))
    if field.maximum is not None and value > field.maximum:
        problems.append(problem(ProblemCode.TOO_LARGE, owner, path, language, label=label,
                                limit=_plain(field.maximum)))
    return problems


def _plain(number: float) -> int | float:
    return int(number) if float(number).is_integer() else number


def _check_choice(field: Field, value: Any, language: str, path: str, owner: str) -> Any:
    if type(value) is not str:
        return _wrong_type(field, language, path, owner, "text")
    if value in field.option_values:
        return NO_PROBLEMS
    return [problem(ProblemCode.NOT_AN_OPTION, owner, path, language,
                    label=_label(field, language), value=value)]


def _check_multi_choice(field: Field, value: Any, language: str, path: str, owner: str) -> Any:
    if type(value) is not list:
        return _wrong_type(field, language, path, owner, "a list")
    allowed = field.option_values
    if (
        all(type(item) is str and item in allowed for item in value)
        and len(set(value)) == len(value)
        and (field.min_selected is None or len(value) >= field.min_selected)
        and (field.max_selected is None or len(value) <= field.max_selected)
    ):
        return NO_PROBLEMS
    label = _label(field, language)
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = f"{path}/{index}"
        if type(item) is not str:
            problems += _wrong_type(field, language, where, owner, "text")
        elif item not in allowed:
            problems.append(problem(ProblemCode.NOT_AN_OPTION, owner, where, language,
                                    label=label, value=item))
        elif item in seen:
            problems.append(problem(ProblemCode.DUPLICATE_CHOICE, owner, where, language,
                                    label=label, value=item))
        else:
            seen.add(item)
    if field.min_selected is not None and len(value) < field.min_selected:
        problems.append(problem(ProblemCode.TOO_FEW_SELECTED, owner, path, language,
                                label=label, limit=field.min_selected))
    if field.max_selected is not None and len(value) > field.max_selected:
        problems.append(problem(ProblemCode.TOO_MANY_SELECTED, owner, path, language,
                                label=label, limit=field.max_selected))
    return problems


def _check_boolean(field: Field, value: Any, language: str, path: str, owner: str) -> Any:
    if type(value) is bool:
        return NO_PROBLEMS
    return _wrong_type(field, language, path, owner, "true or false")


def _size_text(size: int) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def _valid_file(item: Any) -> bool:
    return (
        type(item) is dict
        and type(item.get("name")) is str and 0 < len(item["name"]) <= 255
        and type(item.get("size")) is int and item["size"] >= 0
        and type(item.get("content_type")) is str and 0 < len(item["content_type"]) <= 255
        and item.keys() <= _FILE_KEYS
        and (type(item.get("id", "")) is str)
    )


def _check_attachments(field: Field, value: Any, language: str, path: str, owner: str) -> Any:
    if type(value) is not list:
        return _wrong_type(field, language, path, owner, "a list of files")
    limits = field.attachment
    assert limits is not None
    if limits.max_files is None or len(value) <= limits.max_files:
        # One pass over the files for the common case; the walk below builds the messages.
        for item in value:
            if not (
                _valid_file(item)
                and (limits.max_size is None or item["size"] <= limits.max_size)
                and limits.accepts(item["name"], item["content_type"])
            ):
                break
        else:
            return NO_PROBLEMS
    label = _label(field, language)
    problems: list[Problem] = []
    if limits.max_files is not None and len(value) > limits.max_files:
        problems.append(problem(ProblemCode.TOO_MANY_FILES, owner, path, language, label=label,
                                limit=limits.max_files))
    for index, item in enumerate(value):
        where = f"{path}/{index}"
        if not _valid_file(item):
            problems.append(problem(ProblemCode.BAD_ATTACHMENT, owner, where, language,
                                    label=label))
            continue
        if limits.max_size is not None and item["size"] > limits.max_size:
            problems.append(problem(ProblemCode.FILE_TOO_LARGE, owner, where, language,
                                    label=label, name=item["name"],
                                    limit_text=_size_text(limits.max_size)))
        if not limits.accepts(item["name"], item["content_type"]):
            problems.append(problem(ProblemCode.FILE_TYPE_NOT_ACCEPTED, owner, where, language,
                                    label=label, name=item["name"],
                                    accept=", ".join(limits.accept)))
    return problems


def _check_table(field: Field, value: Any, language: str, path: str, owner: str) -> Any:
    if type(value) is not list:
        return _wrong_type(field, language, path, owner, "a list of rows")
    label = _label(field, language)
    if field.max_rows is not None and len(value) > field.max_rows:
        # Do not walk thousands of rows of an oversized table: one problem says it all.
        return [problem(ProblemCode.TOO_MANY_ROWS, owner, path, language, label=label,
                        limit=field.max_rows)]
    too_few = field.min_rows is not None and len(value) < field.min_rows
    if not too_few and _rows_are_fine(field, value, language):
        return NO_PROBLEMS
    problems: list[Problem] = []
    if too_few:
        problems.append(problem(ProblemCode.TOO_FEW_ROWS, owner, path, language, label=label,
                                limit=field.min_rows))
    for index, row in enumerate(value):
        problems += check_row(field, row, language, f"{path}/{index}", owner)
    return problems or NO_PROBLEMS


def _rows_are_fine(field: Field, rows: list[Any], language: str) -> bool:
    """The common case, cheaply: every row well formed. No path or message is built;
    when this says no, `check_row` walks the rows again and reports each problem."""
    column_ids = {column.id for column in field.columns}
    for row in rows:
        if type(row) is not dict or not column_ids.issuperset(row):
            return False
        for column in field.columns:
            if column.compute is not None:
                continue
            cell = normalize(row.get(column.id))
            if cell is None:
                if column.required:
                    return False
            elif check_value(column, cell, language, path="", owner=field.id):
                return False
    return True


def check_row(field: Field, row: Any, language: str, path: str, owner: str) -> list[Problem]:
    """Problems of one table row: its shape, each cell, and its required cells."""
    if type(row) is not dict:
        return _wrong_type(field, language, path, owner, "a map of column values")
    problems: list[Problem] = []
    columns = {column.id: column for column in field.columns}
    for key in row:
        if key not in columns:
            problems.append(problem(ProblemCode.UNKNOWN_FIELD, owner, f"{path}/{key}", language,
                                    name=key))
    for column in field.columns:
        if column.computed:
            continue
        cell = normalize(row.get(column.id))
        where = f"{path}/{column.id}"
        if cell is None:
            if column.required:
                problems.append(problem(ProblemCode.REQUIRED, owner, where, language,
                                        label=_label(column, language)))
            continue
        problems += check_value(column, cell, language, path=where, owner=owner)
    return problems


def _check_user(field: Field, value: Any, language: str, path: str, owner: str) -> Any:
    if type(value) is str and _USER.fullmatch(value):
        return NO_PROBLEMS
    if type(value) is not str:
        return _wrong_type(field, language, path, owner, "text")
    return [problem(ProblemCode.BAD_USER, owner, path, language, label=_label(field, language))]


_CHECKERS = {
    FieldType.STRING: _check_text,
    FieldType.TEXT: _check_text,
    FieldType.NUMBER: _check_number,
    FieldType.CHOICE: _check_choice,
    FieldType.MULTI_CHOICE: _check_multi_choice,
    FieldType.BOOLEAN: _check_boolean,
    FieldType.DATE: _format_checker(is_date, ProblemCode.BAD_DATE, 10),
    FieldType.DATETIME: _format_checker(is_datetime, ProblemCode.BAD_DATETIME, 40),
    FieldType.EMAIL: _format_checker(is_email, ProblemCode.BAD_EMAIL),
    FieldType.PHONE: _format_checker(is_phone, ProblemCode.BAD_PHONE),
    FieldType.USER: _check_user,
    FieldType.ATTACHMENTS: _check_attachments,
    FieldType.TABLE: _check_table,
}
