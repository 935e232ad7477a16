"""A form as JSON Schema (draft 2020-12) plus a UI description.

`json_schema` describes the values a form takes, for editors, API clients and the
OpenAPI document; `ui_description` says how to draw it (order, labels, help, widgets,
options, conditions). Neither decides anything: `engine.forms.decide` is the authority,
and the schema is generated from the same compiled fields and written to accept exactly
what `engine.values.check_value` accepts, field by field. The tests hold the two to that.

What the schema deliberately leaves to the engine:

* decimal places (`decimals`): `multipleOf: 0.01` fails on binary floats (0.07 is not a
  multiple of 0.01 in floating point), so the engine alone counts decimals;
* conditions: `visible_when`, `required_when`, rules, transition `requires` and branches
  are expressions only the engine evaluates; the UI description carries their source;
* role visibility (`visible_to`): pass `roles` to leave out what those roles may not see;
* NaN and ±Infinity, which JSON cannot carry: the engine refuses them, the schema has no
  keyword for them;
* an attachment's `size` written as a float (3.0): JSON Schema's `integer` admits it,
  the engine wants an integer.

Patterns are an admin's RE2 patterns, copied as they are: `make_form_validator` runs them
with RE2, as the engine does. A validator built on another regex engine (ECMA-262 in a
browser) agrees on common patterns but may refuse RE2-only syntax.

Empty values: the top-level properties describe a normalised submission, in which an
empty field is null or absent (`decide` also reads "", [] and {} as empty). Table cells
are normalised by the engine itself, so cell schemas accept "", [] and {} as empty too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from jsonschema import FormatChecker

from engine.flow import may_see
from engine.model import Attachment, Field, FieldType, Label, Option, TicketType
from engine.schema import make_validator
from engine.values import DATE_PATTERN, PHONE_PATTERN, USER_PATTERN, is_date, is_datetime, is_email

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
FILE_NAME_MAX = 255  # engine.values checks names and content types against these
CONTENT_TYPE_MAX = 255
_DATE_MAX = 10  # engine.values: a date or date-time longer than this is refused unread
_DATETIME_MAX = 40
_EMPTY_CELL: dict[str, Any] = {"enum": [None, "", [], {}]}
_SCHEMA_TYPES = {
    FieldType.STRING: "string", FieldType.TEXT: "string", FieldType.NUMBER: "number",
    FieldType.CHOICE: "string", FieldType.MULTI_CHOICE: "array", FieldType.BOOLEAN: "boolean",
    FieldType.DATE: "string", FieldType.DATETIME: "string", FieldType.EMAIL: "string",
    FieldType.PHONE: "string", FieldType.USER: "string", FieldType.ATTACHMENTS: "array",
    FieldType.TABLE: "array",
}
_DEFAULT_WIDGETS = {
    FieldType.STRING: "input", FieldType.TEXT: "textarea", FieldType.NUMBER: "input",
    FieldType.MULTI_CHOICE: "checkboxes", FieldType.BOOLEAN: "checkbox",
    FieldType.DATE: "date", FieldType.DATETIME: "datetime", FieldType.EMAIL: "input",
    FieldType.PHONE: "input", FieldType.USER: "user_picker",
    FieldType.ATTACHMENTS: "upload", FieldType.TABLE: "table",
}
_RADIO_MAX_OPTIONS = 4


def format_checker() -> FormatChecker:
    """A format checker that answers "email", "date" and "date-time" with the engine's own
    tests (jsonschema's "email" only looks for an @; its "date-time" upper-cases first)."""
    checker = FormatChecker(formats=())
    for name, test in (("email", is_email), ("date", is_date), ("date-time", is_datetime)):
        checker.checks(name)(test)
    return checker


FORMAT_CHECKER = format_checker()


def make_form_validator(schema: Mapping[str, Any]) -> Any:
    """A validator for a generated schema: `engine.schema.make_validator` (re2 patterns, no
    remote references) with the engine's format checks."""
    return make_validator(schema, FORMAT_CHECKER)


# --- JSON Schema ---------------------------------------------------------------------


def json_schema(
    ticket_type: TicketType,
    *,
    form: Sequence[str] | None = None,
    language: str = "en",
    roles: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The JSON Schema of a form (default: the creation form, `intake_fields`).

    `required` lists the fields that are required whatever the other values are: declared
    `required`, without `visible_when`/`required_when`, not a dependent list, and with no
    default (the engine fills a default in when a ticket is created). Such fields refuse
    null. Dependent option lists become `if`/`then` pairs on the parent's value. Numbers
    carry no `multipleOf`: decimal places are checked by the engine only (see the module
    docstring for everything else the schema leaves to the engine). With `roles`, fields
    those roles may not see are left out.
    """
    fields = _form_fields(ticket_type, form, roles)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for spec in fields:
        static = _statically_required(spec)
        properties[spec.id] = field_schema(spec, language=language, required=static)
        if static and spec.default is None:
            required.append(spec.id)
    schema: dict[str, Any] = {"$schema": SCHEMA_DIALECT, "title": ticket_type.name.text(language)}
    if ticket_type.description is not None:
        schema["description"] = ticket_type.description.text(language)
    schema.update(type="object", properties=properties)
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    dependent = [rule for spec in fields for rule in _dependent_rules(spec, properties)]
    if dependent:
        schema["allOf"] = dependent
    return schema


def field_schema(field: Field, *, language: str = "en", required: bool = False) -> dict[str, Any]:
    """The schema of one field's (normalised) value. It accepts null — emptiness is for
    `required` to judge — unless `required` is set, when it also refuses "" and []."""
    schema = _annotations(field, language)
    if field.computed:
        schema["readOnly"] = True
    schema.update(_value_schema(field, language))
    if required:
        _refuse_empty(schema)
    else:
        _allow_null(schema)
    return schema


def _form_fields(
    ticket_type: TicketType, form: Sequence[str] | None, roles: Iterable[str] | None
) -> list[Field]:
    names = ticket_type.intake_fields if form is None else tuple(form)
    unknown = [name for name in names if name not in ticket_type.field_by_id]
    if unknown:
        raise ValueError(f"not a field of {ticket_type.id}: {', '.join(unknown)}")
    fields = [ticket_type.field_by_id[name] for name in dict.fromkeys(names)]
    if roles is None:
        return fields
    role_set = frozenset(roles)
    return [spec for spec in fields if may_see(spec, role_set)]


def _statically_required(spec: Field) -> bool:
    return (
        spec.required and spec.required_when is None and spec.visible_when is None
        and spec.depends_on is None and not spec.computed
    )


def _annotations(field: Field, language: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"title": field.label.text(language)}
    if field.help is not None:
        schema["description"] = field.help.text(language)
    if field.default is not None:
        schema["default"] = field.default
    return schema


def _allow_null(schema: dict[str, Any]) -> None:
    schema["type"] = [schema["type"], "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]


def _refuse_empty(schema: dict[str, Any]) -> None:
    # The engine reads "" and [] as "no value", which a required field may not have.
    if schema["type"] == "string" and "enum" not in schema:
        schema["minLength"] = max(schema.get("minLength", 0), 1)
    elif schema["type"] == "array":
        schema["minItems"] = max(schema.get("minItems", 0), 1)


def _value_schema(field: Field, language: str) -> dict[str, Any]:
    """The value's type and limits (never null), as engine.values checks them."""
    schema: dict[str, Any] = {"type": _SCHEMA_TYPES[field.type]}
    extra = _TYPE_KEYWORDS.get(field.type)
    if extra is not None:
        schema.update(extra(field, language))
    return schema


def _text_keywords(field: Field, language: str) -> dict[str, Any]:
    return _present(minLength=field.min_length, maxLength=field.max_length,
                    pattern=field.pattern)


def _number_keywords(field: Field, language: str) -> dict[str, Any]:
    # No multipleOf for `decimals`: see the module docstring.
    keywords = _present(minimum=field.minimum, maximum=field.maximum)
    if field.integer:
        keywords["type"] = "integer"
    return keywords


def _choice_keywords(field: Field, language: str) -> dict[str, Any]:
    return {"enum": _option_values(field)}


def _multi_choice_keywords(field: Field, language: str) -> dict[str, Any]:
    return {
        "items": {"type": "string", "enum": _option_values(field)},
        "uniqueItems": True,
        **_present(minItems=field.min_selected, maxItems=field.max_selected),
    }


def _option_values(field: Field) -> list[str]:
    """Every value the field may take, in definition order (dependent lists: all lists)."""
    if field.dependent_options is None:
        return [option.value for option in field.options]
    return list(dict.fromkeys(
        option.value for options in field.dependent_options.values() for option in options
    ))


def _format_keywords(format_name: str, pattern: str | None, default_max: int | None
                     ) -> Callable[[Field, str], dict[str, Any]]:
    def keywords(field: Field, language: str) -> dict[str, Any]:
        # The same limit engine.values applies before looking at the text.
        return _present(format=format_name, pattern=pattern,
                        maxLength=field.max_length or default_max)

    return keywords


def _user_keywords(field: Field, language: str) -> dict[str, Any]:
    # USER_PATTERN bounds the length itself; the engine checks nothing else.
    return {"pattern": USER_PATTERN}


def _phone_keywords(field: Field, language: str) -> dict[str, Any]:
    # A pattern, not a format: "phone" is no standard format, and this pattern (ASCII
    # classes, anchors) means the same to re2, Python and ECMA-262 validators.
    return _present(pattern=PHONE_PATTERN, maxLength=field.max_length)


def _attachments_keywords(field: Field, language: str) -> dict[str, Any]:
    limits = field.attachment or Attachment()
    return {
        "items": file_schema(limits),
        **_present(maxItems=limits.max_files),
    }


def file_schema(limits: Attachment) -> dict[str, Any]:
    """One uploaded file as the engine expects it: `{name, size, content_type, id?}`."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": FILE_NAME_MAX},
            "size": {"type": "integer", "minimum": 0, **_present(maximum=limits.max_size)},
            "content_type": {"type": "string", "minLength": 1, "maxLength": CONTENT_TYPE_MAX},
            "id": {"type": "string"},
        },
        "required": ["name", "size", "content_type"],
        "additionalProperties": False,
    }
    if limits.accept:
        schema["anyOf"] = [_accept_rule(entry) for entry in limits.accept]
    return schema


def _accept_rule(entry: str) -> dict[str, Any]:
    """One `accept` entry as a pattern; Attachment.accepts compares lower-cased text."""
    if entry.startswith("."):
        return {"properties": {"name": {"pattern": f"{_any_case(entry)}$"}}}
    if entry.endswith("/*"):
        return {"properties": {"content_type": {"pattern": f"^{_any_case(entry[:-1])}"}}}
    return {"properties": {"content_type": {"pattern": f"^{_any_case(entry)}$"}}}


def _any_case(text: str) -> str:
    # Spelled out rather than `(?i)`: ECMA-262 patterns (browsers, ajv) have no inline
    # flags. The Kelvin sign is the one non-ASCII character whose lower() is ASCII ("k").
    parts = []
    for char in text:
        if char.isascii() and char.isalpha():
            extra = "\u212a" if char.lower() == "k" else ""
            parts.append(f"[{char.lower()}{char.upper()}{extra}]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


def _table_keywords(field: Field, language: str) -> dict[str, Any]:
    return {
        "items": row_schema(field, language=language),
        **_present(minItems=field.min_rows, maxItems=field.max_rows),
    }


def row_schema(table: Field, *, language: str = "en") -> dict[str, Any]:
    """One row of a table field: its columns, required columns, nothing else."""
    properties = {column.id: _cell_schema(column, language) for column in table.columns}
    required = [c.id for c in table.columns if c.required and not c.computed]
    row: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        row["required"] = required
    row["additionalProperties"] = False
    return row


def _cell_schema(column: Field, language: str) -> dict[str, Any]:
    schema = _annotations(column, language)
    if column.computed:
        # The engine ignores a computed cell's value and fills it in: any value will do.
        schema["readOnly"] = True
        return schema
    value = _value_schema(column, language)
    if column.required:
        _refuse_empty(value)
        schema.update(value)
    else:
        schema["anyOf"] = [value, _EMPTY_CELL]
    return schema


def _present(**keywords: Any) -> dict[str, Any]:
    return {key: value for key, value in keywords.items() if value is not None}


_TYPE_KEYWORDS: dict[FieldType, Callable[[Field, str], dict[str, Any]]] = {
    FieldType.STRING: _text_keywords,
    FieldType.TEXT: _text_keywords,
    FieldType.NUMBER: _number_keywords,
    FieldType.CHOICE: _choice_keywords,
    FieldType.MULTI_CHOICE: _multi_choice_keywords,
    FieldType.DATE: _format_keywords("date", DATE_PATTERN, _DATE_MAX),
    FieldType.DATETIME: _format_keywords("date-time", None, _DATETIME_MAX),
    FieldType.EMAIL: _format_keywords("email", None, None),
    FieldType.PHONE: _phone_keywords,
    FieldType.USER: _user_keywords,
    FieldType.ATTACHMENTS: _attachments_keywords,
    FieldType.TABLE: _table_keywords,
}


def _dependent_rules(spec: Field, properties: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One `if`/`then` per parent value: the child's options under that value."""
    if spec.dependent_options is None or spec.depends_on not in properties:
        return []
    rules = []
    for parent_value, options in spec.dependent_options.items():
        values = [option.value for option in options]
        if spec.type is FieldType.MULTI_CHOICE:
            then: dict[str, Any] = {"items": {"enum": values}}
        else:
            then = {"enum": [*values, None]}
        rules.append({
            "if": {"properties": {spec.depends_on: {"const": parent_value}},
                   "required": [spec.depends_on]},
            "then": {"properties": {spec.id: then}},
        })
    return rules


# --- UI description --------------------------------------------------------------------


def ui_description(
    ticket_type: TicketType,
    *,
    form: Sequence[str] | None = None,
    language: str = "en",
    roles: Iterable[str] | None = None,
) -> dict[str, Any]:
    """How to draw a form: each field's label, help, widget, options and conditions (as
    source text, for the designer and for client-side hints), in order.

    `required` is the declared flag, which holds while the field is visible and no
    `required_when` is given (that expression then decides).
    """
    fields = _form_fields(ticket_type, form, roles)
    return {
        "title": ticket_type.name.text(language),
        "fields": [_ui_field(spec, language) for spec in fields],
        "order": [spec.id for spec in fields],
    }


def _ui_field(spec: Field, language: str) -> dict[str, Any]:
    limits = spec.attachment
    return {
        "id": spec.id,
        "type": str(spec.type),
        "label": spec.label.text(language),
        "help": _text(spec.help, language),
        "placeholder": _text(spec.placeholder, language),
        "widget": spec.widget or default_widget(spec),
        "required": spec.required and spec.required_when is None,
        "required_when": _source(spec.required_when),
        "visible_when": _source(spec.visible_when),
        "visible_to": sorted(spec.visible_to) if spec.visible_to is not None else None,
        "from_requester": str(spec.from_requester) if spec.from_requester else None,
        "readonly": spec.computed,
        "compute": _source(spec.compute),
        "default": spec.default,
        "options": _ui_options(spec.options, language),
        "depends_on": spec.depends_on,
        "options_by_parent": (
            {parent: _ui_options(options, language)
             for parent, options in spec.dependent_options.items()}
            if spec.dependent_options is not None else None
        ),
        "columns": [_ui_field(column, language) for column in spec.columns],
        "accept": list(limits.accept) if limits is not None else None,
        "max_files": limits.max_files if limits is not None else None,
        "max_size": limits.max_size if limits is not None else None,
        "limits": _ui_limits(spec),
    }


def default_widget(spec: Field) -> str:
    """The widget a field gets when the definition names none."""
    if spec.type is FieldType.CHOICE:
        # A short, fixed list reads best as radio buttons; a list that changes with
        # another field's value (or a long one) as a select.
        few = spec.dependent_options is None and len(spec.options) <= _RADIO_MAX_OPTIONS
        return "radio" if few else "select"
    return _DEFAULT_WIDGETS[spec.type]


def _ui_options(options: Sequence[Option], language: str) -> list[dict[str, str]]:
    return [{"value": option.value, "label": option.label.text(language)} for option in options]


def _ui_limits(spec: Field) -> dict[str, Any]:
    # What an input element can enforce by itself (maxlength, min, max, step...).
    return _present(
        min_length=spec.min_length, max_length=spec.max_length, pattern=spec.pattern,
        minimum=spec.minimum, maximum=spec.maximum, integer=spec.integer or None,
        decimals=spec.decimals, min_selected=spec.min_selected,
        max_selected=spec.max_selected, min_rows=spec.min_rows, max_rows=spec.max_rows,
    )


def _text(label: Label | None, language: str) -> str | None:
    return label.text(language) if label is not None else None


def _source(expression: Any) -> str | None:
    return expression.source if expression is not None else None


__all__ = [
    "FORMAT_CHECKER",
    "SCHEMA_DIALECT",
    "default_widget",
    "field_schema",
    "file_schema",
    "format_checker",
    "json_schema",
    "make_form_validator",
    "row_schema",
    "ui_description",
]
