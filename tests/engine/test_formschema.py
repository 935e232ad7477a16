"""The generated JSON Schema accepts exactly what the engine's value checks accept.

Each case is checked twice, by `engine.values.check_value` and by a draft 2020-12
validator of `field_schema`, and the two must agree (decimal places are the one
documented difference: only the engine counts them). A property test then throws
generated JSON at every field of the bundled repair template.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from datetime import UTC, timedelta, timezone
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from engine.compile import load, loads
from engine.forms import decide
from engine.formschema import (
    FORMAT_CHECKER,
    SCHEMA_DIALECT,
    default_widget,
    field_schema,
    json_schema,
    ui_description,
)
from engine.model import Field, FieldType, TicketType
from engine.schema import make_validator
from engine.values import (
    PHONE_PATTERN,
    USER_PATTERN,
    check_value,
    compiled_pattern,
    normalize,
    pattern_search,
)
from tests.conftest import ROOT, TEMPLATES, with_fields

BENCH20 = ROOT / "bench" / "data" / "bench20.yaml"


@cache
def field_from(snippet: str) -> Field:
    """The field `f` of the minimal definition, compiled from a YAML flow mapping."""
    return loads(with_fields(f"  - {{id: f, {snippet}}}"), "case.yaml").field_by_id["f"]


def engine_accepts(field: Field, value: Any) -> bool:
    return check_value(field, normalize(value), "en", path="/f") == ()


def schema_accepts(field: Field, value: Any) -> bool:
    return make_validator(field_schema(field), FORMAT_CHECKER).is_valid(normalize(value))


def without_decimals(field: Field) -> Field:
    columns = tuple(dataclasses.replace(column, decimals=None) for column in field.columns)
    return dataclasses.replace(field, decimals=None, columns=columns)


def assert_agree(field: Field, value: Any) -> None:
    """Engine and schema give the same answer, or differ only by decimal places."""
    engine_ok, schema_ok = engine_accepts(field, value), schema_accepts(field, value)
    if engine_ok != schema_ok:
        # The documented difference: the schema has no multipleOf, the engine is stricter.
        message = (f"{field.id} ({field.type}): engine says {engine_ok}, schema says "
                   f"{schema_ok} for {value!r}")
        assert schema_ok, message
        assert engine_accepts(without_decimals(field), value), message


TEXT = "type: string, min_length: 2, max_length: 5, pattern: '^[a-z]+$'"
LONG_TEXT = "type: text, min_length: 10"
NUMBER = "type: number, min: 0, max: 10"
INTEGER = "type: number, integer: true, min: 1"
CHOICE = "type: choice, options: [a, b]"
MULTI = "type: multi_choice, options: [a, b, c, d], min_selected: 2, max_selected: 3"
FILES = ("type: attachments, accept: ['image/*', .pdf, text/csv, .kml], max_files: 2, "
         "max_size: 1KB")
TABLE = ("type: table, min_rows: 1, max_rows: 2, columns: ["
         "{id: sku, type: string, required: true}, "
         "{id: qty, type: number, integer: true, min: 1, required: true}, "
         "{id: note, type: text}, "
         "{id: tags, type: multi_choice, options: [x, y]}, "
         "{id: total, type: number, compute: 'qty * 2'}]")


def png(**changes: Any) -> dict[str, Any]:
    return {"name": "a.png", "size": 10, "content_type": "image/png", **changes}


CASES: list[tuple[str, str, Any, bool]] = [
    # (case id, field definition, value, accepted?)
    ("text-fits", TEXT, "abc", True),
    ("text-empty-is-no-value", TEXT, "", True),
    ("text-null", TEXT, None, True),
    ("text-too-short", TEXT, "a", False),
    ("text-too-long", TEXT, "abcdef", False),
    ("text-pattern-mismatch", TEXT, "ab1", False),
    ("text-pattern-trailing-newline", TEXT, "abc\n", False),
    ("text-not-text", TEXT, 12, False),
    ("text-list", TEXT, ["abc"], False),
    ("text-counts-characters", "type: string, max_length: 2", "工单", True),
    ("string-default-limit-255", "type: string", "x" * 255, True),
    ("string-default-limit-256", "type: string", "x" * 256, False),
    ("long-text-fits", LONG_TEXT, "long enough text", True),
    ("long-text-too-short", LONG_TEXT, "short", False),
    ("number-minimum", NUMBER, 0, True),
    ("number-maximum", NUMBER, 10, True),
    ("number-float", NUMBER, 2.5, True),
    ("number-above", NUMBER, 10.5, False),
    ("number-below", NUMBER, -1, False),
    ("number-boolean", NUMBER, True, False),
    ("number-text", NUMBER, "5", False),
    ("integer-int", INTEGER, 3, True),
    ("integer-integral-float", INTEGER, 3.0, True),
    ("integer-fraction", INTEGER, 3.5, False),
    ("integer-below", INTEGER, 0, False),
    ("integer-huge", INTEGER, 10**20, True),
    ("choice-option", CHOICE, "a", True),
    ("choice-other", CHOICE, "c", False),
    ("choice-case", CHOICE, "A", False),
    ("choice-number", CHOICE, 1, False),
    ("choice-list", CHOICE, ["a"], False),
    ("multi-two", MULTI, ["a", "b"], True),
    ("multi-three", MULTI, ["a", "b", "c"], True),
    ("multi-empty-is-no-value", MULTI, [], True),
    ("multi-too-few", MULTI, ["a"], False),
    ("multi-too-many", MULTI, ["a", "b", "c", "d"], False),
    ("multi-duplicate", MULTI, ["a", "a"], False),
    ("multi-not-an-option", MULTI, ["a", "x"], False),
    ("multi-not-a-list", MULTI, "a", False),
    ("multi-not-text", MULTI, [1, 2], False),
    ("boolean-true", "type: boolean", True, True),
    ("boolean-false", "type: boolean", False, True),
    ("boolean-text", "type: boolean", "true", False),
    ("boolean-zero", "type: boolean", 0, False),
    ("date-leap-day", "type: date", "2024-02-29", True),
    ("date-no-such-day", "type: date", "2023-02-29", False),
    ("date-basic-format", "type: date", "20240101", False),
    ("date-short-month", "type: date", "2024-1-01", False),
    ("date-trailing-newline", "type: date", "2024-01-01\n", False),
    ("date-with-time", "type: date", "2024-01-01T00:00:00", False),
    ("date-number", "type: date", 20240101, False),
    ("datetime-utc", "type: datetime", "2024-05-01T08:30:00Z", True),
    ("datetime-offset", "type: datetime", "2024-05-01T08:30:00+08:00", True),
    ("datetime-fraction", "type: datetime", "2024-05-01T08:30:00.123456Z", True),
    ("datetime-no-zone", "type: datetime", "2024-05-01T08:30:00", False),
    ("datetime-lower-case", "type: datetime", "2024-05-01t08:30:00z", False),
    ("datetime-trailing-newline", "type: datetime", "2024-05-01T08:30:00Z\n", False),
    ("datetime-date-only", "type: datetime", "2024-05-01", False),
    ("email-fine", "type: email", "li.wei@example.com", True),
    ("email-no-dot", "type: email", "a@b", False),
    ("email-space", "type: email", "a b@c.de", False),
    ("email-ideographic-space", "type: email", "a\u3000b@c.de", False),
    ("email-trailing-newline", "type: email", "a@b.cn\n", False),
    ("email-too-long", "type: email", "x" * 250 + "@a.cn", False),
    ("phone-international", "type: phone", "+86 138 0013 8000", True),
    ("phone-punctuated", "type: phone", "+1 (555) 123-4567", True),
    ("phone-too-short", "type: phone", "123", False),
    ("phone-words", "type: phone", "call me", False),
    ("phone-trailing-newline", "type: phone", "+1 555 1234\n", False),
    ("user-fine", "type: user", "zhang.san", True),
    ("user-space", "type: user", "zhang san", False),
    ("user-trailing-newline", "type: user", "bob\n", False),
    ("user-too-long", "type: user", "x" * 151, False),
    ("user-number", "type: user", 7, False),
    ("files-image", FILES, [png()], True),
    ("files-extension-any-case", FILES, [png(name="A.PDF", content_type="x/y")], True),
    ("files-kelvin-sign", FILES, [png(name="map.\u212aml", content_type="x/y")], True),
    ("files-exact-type-any-case", FILES, [png(name="a.csv", content_type="TEXT/CSV")], True),
    ("files-exact-type-only", FILES, [png(content_type="text/csv; charset=utf-8")], False),
    ("files-type-not-accepted", FILES, [png(name="a.exe", content_type="app/x")], False),
    ("files-size-at-limit", FILES, [png(size=1024)], True),
    ("files-too-large", FILES, [png(size=1025)], False),
    ("files-negative-size", FILES, [png(size=-1)], False),
    ("files-size-text", FILES, [png(size="10")], False),
    ("files-with-id", FILES, [png(id="f1")], True),
    ("files-id-not-text", FILES, [png(id=5)], False),
    ("files-extra-key", FILES, [png(path="/tmp/a.png")], False),
    ("files-no-name", FILES, [png(name="")], False),
    ("files-name-too-long", FILES, [png(name="x" * 252 + ".png")], False),
    ("files-no-type", FILES, [{"name": "a.png", "size": 1}], False),
    ("files-too-many", FILES, [png(), png(), png()], False),
    ("files-not-objects", FILES, ["a.png"], False),
    ("files-not-a-list", FILES, png(), False),
    ("table-row", TABLE, [{"sku": "A", "qty": 1}], True),
    ("table-empty-cells", TABLE, [{"sku": "A", "qty": 1, "note": "", "tags": []}], True),
    ("table-computed-cell-ignored", TABLE, [{"sku": "A", "qty": 1, "total": "any"}], True),
    ("table-two-rows", TABLE, [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}], True),
    ("table-empty-is-no-value", TABLE, [], True),
    ("table-missing-required-cell", TABLE, [{"sku": "A"}], False),
    ("table-empty-required-cell", TABLE, [{"sku": "", "qty": 1}], False),
    ("table-null-required-cell", TABLE, [{"sku": None, "qty": 1}], False),
    ("table-bad-cell", TABLE, [{"sku": "A", "qty": 0}], False),
    ("table-bad-optional-cell", TABLE, [{"sku": "A", "qty": 1, "tags": ["z"]}], False),
    ("table-unknown-column", TABLE, [{"sku": "A", "qty": 1, "colour": "red"}], False),
    ("table-too-many-rows", TABLE, [{"sku": "A", "qty": 1}] * 3, False),
    ("table-row-not-object", TABLE, ["row"], False),
    ("table-not-a-list", TABLE, {"sku": "A", "qty": 1}, False),
    ("table-too-few-rows", TABLE.replace("min_rows: 1", "min_rows: 2"),
     [{"sku": "A", "qty": 1}], False),
]


@pytest.mark.parametrize(
    ("snippet", "value", "accepted"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_engine_and_schema_agree(snippet: str, value: Any, accepted: bool):
    field = field_from(snippet)
    assert engine_accepts(field, value) is accepted
    assert schema_accepts(field, value) is accepted


@pytest.mark.parametrize(
    ("snippet", "value"),
    [
        ("type: number, decimals: 2", 1.005),
        ("type: number, decimals: 0", 2.5),
        (TABLE.replace("type: text}", "type: number, decimals: 1}"),
         [{"sku": "A", "qty": 1, "note": 0.25}]),
    ],
    ids=["two-places", "no-places", "table-cell"],
)
def test_only_the_engine_counts_decimal_places(snippet: str, value: Any):
    field = field_from(snippet)
    assert schema_accepts(field, value)
    assert not engine_accepts(field, value)
    assert "multipleOf" not in str(field_schema(field))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_the_engine_refuses_numbers_json_cannot_carry(value: float):
    # NaN and Infinity are not JSON; no schema keyword excludes them, the engine does.
    assert not engine_accepts(field_from("type: number"), value)


def test_an_integral_float_file_size_is_for_the_engine_only():
    # JSON Schema cannot tell 3 from 3.0; engine.values wants an int (reported, not fixed).
    field = field_from(FILES)
    assert schema_accepts(field, [png(size=3.0)])
    assert not engine_accepts(field, [png(size=3.0)])


# --- whole forms -----------------------------------------------------------------------


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref", "$dynamicRef"):
                yield value
            yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def definitions() -> list[tuple[str, TicketType]]:
    return [(path.stem, load(path)) for path in (TEMPLATES / "repair.yaml", BENCH20)]


FORMS = [
    (name, form, roles)
    for name, tt in definitions()
    for form in [None, *(t.form for t in tt.transitions if t.form)]
    for roles in (None, ("requester",))
]


@pytest.mark.parametrize(
    ("name", "form", "roles"), FORMS,
    ids=[f"{name}-{'+'.join(form or ['intake'])}-{'+'.join(roles or ['all'])}"
         for name, form, roles in FORMS],
)
def test_generated_schemas_are_valid_and_self_contained(name: str, form: Any, roles: Any):
    ticket_type = load(TEMPLATES / "repair.yaml") if name == "repair" else load(BENCH20)
    schema = json_schema(ticket_type, form=form, roles=roles)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == SCHEMA_DIALECT
    assert all(ref.startswith("#") for ref in refs(schema)), "no remote or file $ref"
    for spec in ticket_type.fields:
        Draft202012Validator.check_schema(field_schema(spec))


def test_repair_intake_schema_shape(repair: TicketType):
    schema = json_schema(repair, language="zh")
    assert schema["title"] == "维修工单"
    assert list(schema["properties"]) == list(repair.intake_fields)
    assert schema["additionalProperties"] is False
    # priority is not required and has a default; photos and the dependent symptom are
    # conditional, so none of them is listed.
    assert schema["required"] == ["device", "category", "fault", "description", "contact_phone"]
    device = schema["properties"]["device"]
    assert device["title"] == "设备编号"
    assert device["description"].startswith("资产标签")
    assert device["type"] == "string"
    assert device["minLength"] == 1
    assert schema["properties"]["priority"]["default"] == "normal"
    assert schema["properties"]["contact_email"]["type"] == ["string", "null"]
    parents = {rule["if"]["properties"]["category"]["const"]: rule["then"]
               for rule in schema["allOf"]}
    assert parents["printer"]["properties"]["symptom"]["enum"] == [
        "paper_jam", "no_power", "poor_print", None]
    assert set(parents) == {"printer", "laptop", "network"}


def test_computed_fields_are_read_only(repair: TicketType):
    schema = json_schema(repair, form=["parts", "parts_total"])
    assert schema["properties"]["parts_total"]["readOnly"] is True
    row = schema["properties"]["parts"]["items"]
    assert row["properties"]["line_total"] == {"title": "Line total (CNY)", "readOnly": True}
    assert row["required"] == ["part_no", "qty"]
    assert row["additionalProperties"] is False
    assert schema["properties"]["parts"]["maxItems"] == 20


def test_roles_leave_out_what_they_may_not_see(repair: TicketType):
    assert "id_card" in json_schema(repair)["properties"]
    assert "id_card" not in json_schema(repair, roles={"requester"})["properties"]
    assert "id_card" in json_schema(repair, roles={"agent"})["properties"]


def test_an_unknown_form_field_is_an_error(repair: TicketType):
    with pytest.raises(ValueError, match="not a field of repair: nope"):
        json_schema(repair, form=["device", "nope"])


GOOD_REPAIR = {
    "device": "PRN-0042", "category": "printer", "fault": "software", "symptom": "paper_jam",
    "description": "Paper jams on every page.", "contact_phone": "+86 138 0013 8000",
    "contact_email": "li.wei@example.com", "reported_on": "2025-03-01",
}


@pytest.mark.parametrize(
    ("changes", "accepted"),
    [
        ({}, True),
        ({"symptom": "no_boot"}, False),  # an option of another category
        ({"device": None}, False),
        ({"description": "short"}, False),
        ({"colour": "red"}, False),
        ({"resolution": "fixed it"}, False),  # a later step's field
        ({"priority": "urgent", "contact_email": None}, True),
    ],
    ids=["valid", "dependent-option", "required-null", "too-short", "unknown", "not-editable",
         "optional-null"],
)
def test_schema_and_decide_agree_on_whole_submissions(
    repair: TicketType, changes: dict[str, Any], accepted: bool
):
    submission = {**GOOD_REPAIR, **changes}
    validator = make_validator(json_schema(repair, roles={"requester"}), FORMAT_CHECKER)
    decision = decide(repair, submission, roles={"requester"}, creating=True,
                      transition="submit")
    assert decision.ok is accepted
    assert validator.is_valid(submission) is accepted


# --- UI description --------------------------------------------------------------------


def test_ui_description_follows_the_form_in_the_requested_language(repair: TicketType):
    ui = ui_description(repair, language="zh")
    assert ui["order"] == list(repair.intake_fields)
    assert [f["id"] for f in ui["fields"]] == ui["order"]
    by_id = {f["id"]: f for f in ui["fields"]}
    assert by_id["device"]["label"] == "设备编号"
    assert by_id["device"]["required"] is True
    assert by_id["device"]["widget"] == "input"
    assert by_id["description"]["widget"] == "textarea"
    assert by_id["category"]["widget"] == "radio"
    assert by_id["category"]["options"][0] == {"value": "printer", "label": "打印机"}
    symptom = by_id["symptom"]
    assert symptom["widget"] == "select"
    assert symptom["depends_on"] == "category"
    assert symptom["options"] == []
    assert [o["value"] for o in symptom["options_by_parent"]["laptop"]] == [
        "no_boot", "screen", "keyboard", "battery"]
    photos = by_id["photos"]
    assert photos["widget"] == "upload"
    assert photos["visible_when"] == "fault == 'hardware'"
    assert (photos["accept"], photos["max_files"], photos["max_size"]) == (
        ["image/*"], 5, 10 * 1024**2)
    assert by_id["reported_on"]["widget"] == "date"
    assert by_id["priority"]["default"] == "normal"
    assert by_id["device"]["from_requester"] is None


def test_ui_description_says_which_fields_come_from_the_requester(compile_fields):
    ticket_type = compile_fields(
        "  - {id: customer_name, type: string, from_requester: name}\n"
        "  - {id: customer_email, type: email, from_requester: email}\n")
    by_id = {f["id"]: f for f in ui_description(ticket_type)["fields"]}
    assert (by_id["customer_name"]["from_requester"],
            by_id["customer_email"]["from_requester"]) == ("name", "email")


def test_ui_description_of_a_table_and_computed_fields(repair: TicketType):
    ui = ui_description(repair, form=["parts", "parts_total", "technician", "confirmed"])
    parts, total, technician, confirmed = ui["fields"]
    assert parts["widget"] == "table"
    assert [c["id"] for c in parts["columns"]] == ["part_no", "qty", "unit_price", "line_total"]
    assert parts["columns"][1]["limits"] == {"minimum": 1, "integer": True}
    assert parts["columns"][3]["readonly"] is True
    assert parts["columns"][3]["compute"] == "qty * unit_price"
    assert total["readonly"] is True
    assert technician["widget"] == "user_picker"
    assert confirmed["widget"] == "checkbox"


@pytest.mark.parametrize(
    ("snippet", "widget"),
    [
        ("type: choice, options: [a, b, c, d]", "radio"),
        ("type: choice, options: [a, b, c, d, e]", "select"),
        ("type: choice, options: [a, b], widget: select", "select"),
        ("type: multi_choice, options: [a, b]", "checkboxes"),
        ("type: datetime", "datetime"),
        ("type: email", "input"),
        ("type: number", "input"),
    ],
    ids=["few-options", "many-options", "explicit", "multi", "datetime", "email", "number"],
)
def test_widgets(snippet: str, widget: str):
    field = field_from(snippet)
    definition = loads(with_fields(f"  - {{id: f, {snippet}}}"), "case.yaml")
    assert ui_description(definition)["fields"][0]["widget"] == widget
    if field.widget is None:
        assert default_widget(field) == widget


def test_required_when_is_reported_as_source(compile_fields):
    tt = compile_fields("  - {id: title, type: string}\n"
                        "  - {id: why, type: text, required_when: \"title == 'x'\"}")
    why = ui_description(tt)["fields"][1]
    assert (why["required"], why["required_when"]) == (False, "title == 'x'")
    assert "why" not in json_schema(tt).get("required", [])


# --- the engine's fast pattern test ------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text"),
    [("^[A-Z0-9-]+$", "PRN-0042"), ("^[A-Z0-9-]+$", "prn"), ("x", ""), ("^$", ""),
     ("工", "维修工单"), (r"\d{3}", "ab123"), ("^a", "ba"), ("b$", "ab\n")],
)
def test_pattern_search_answers_like_re2_search(pattern: str, text: str):
    assert pattern_search(pattern)(text) is (compiled_pattern(pattern).search(text) is not None)


# --- property: every repair field, generated JSON ----------------------------------------

_SCALARS = (
    st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
)
# NaN and Infinity are left out: they are not JSON (see the test above).
JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=8,
)


def plausible(field: Field) -> st.SearchStrategy[Any]:
    """Values near the field's limits, so that generated cases are often valid."""
    kind = field.type
    values = sorted({o.value for o in field.options} | {
        o.value for opts in (field.dependent_options or {}).values() for o in opts})
    if kind in (FieldType.STRING, FieldType.TEXT):
        pattern = st.from_regex(field.pattern, fullmatch=True) if field.pattern else st.nothing()
        return pattern | st.text(max_size=(field.max_length or 20) + 2)
    if kind is FieldType.NUMBER:
        return st.integers(min_value=-5, max_value=30) | st.floats(-5, 30)
    if kind is FieldType.CHOICE:
        return st.sampled_from(values) | st.text(max_size=6)
    if kind is FieldType.MULTI_CHOICE:
        return st.lists(st.sampled_from(values) | st.text(max_size=3), max_size=5)
    if kind is FieldType.DATE:
        return st.dates().map(str) | st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\n?", fullmatch=True)
    if kind is FieldType.DATETIME:
        zones = st.sampled_from([None, UTC, timezone(timedelta(hours=8))])
        return st.datetimes(timezones=zones).map(lambda d: d.isoformat()) | st.text()
    if kind is FieldType.EMAIL:
        return st.emails() | st.from_regex(r"[a-z \u3000]{1,4}@[a-z]{1,3}(\.[a-z]{1,3})?\n?",
                                           fullmatch=True)
    if kind is FieldType.PHONE:
        return st.from_regex(PHONE_PATTERN) | st.text(alphabet="+0123456789 ()-.\n", max_size=9)
    if kind is FieldType.USER:
        return st.from_regex(USER_PATTERN) | st.text(max_size=5)
    if kind is FieldType.ATTACHMENTS:
        return st.lists(plausible_file(), max_size=(field.attachment.max_files or 3) + 1)
    return st.lists(plausible_row(field), max_size=(field.max_rows or 3) + 1)


def plausible_file() -> st.SearchStrategy[dict[str, Any]]:
    names = st.sampled_from(["a.png", "B.JPG", "doc.pdf", ""]) | st.text(max_size=6)
    types = st.sampled_from(["image/png", "IMAGE/JPEG", "application/pdf", "image"])
    return st.fixed_dictionaries(
        {"name": names, "size": st.integers(-2, 11 * 1024**2), "content_type": types | st.text()},
        optional={"id": st.text(max_size=4) | st.integers(), "path": st.text(max_size=3)},
    )


def plausible_row(table: Field) -> st.SearchStrategy[Any]:
    cells = {column.id: plausible(column) | JSON for column in table.columns}
    row = st.fixed_dictionaries({}, optional={**cells, "extra": JSON})
    return row | JSON


REPAIR = load(TEMPLATES / "repair.yaml")
# Every repair field, plus the benchmark's fields of kinds repair does not have (a
# multi-choice, an integer, a table with a decimals column).
GENERATED = [f for f in REPAIR.fields] + [
    load(BENCH20).field_by_id[name] for name in ("tags", "affected_users", "items")
]


@pytest.mark.parametrize("field", GENERATED, ids=[f.id for f in GENERATED])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_engine_and_schema_agree_on_generated_values(field: Field, data: st.DataObject):
    value = data.draw(plausible(field) | JSON, label="value")
    assert_agree(field, value)
