"""Deciding submissions: every field type, every check, every problem at once."""

from __future__ import annotations

import pytest

from engine.forms import decide, form_for, requester_values, visible_fields
from engine.model import RequesterDetail

PNG = {"name": "a.png", "size": 2048, "content_type": "image/png"}
PDF = {"name": "r.pdf", "size": 2048, "content_type": "application/pdf"}

# (field definition, submitted value, expected problem codes for that field)
VALUES = [
    ("{id: f, type: string, max_length: 5}", "abc", []),
    ("{id: f, type: string, max_length: 5}", "abcdef", ["too-long"]),
    ("{id: f, type: string, min_length: 3}", "ab", ["too-short"]),
    ("{id: f, type: string}", "x" * 256, ["too-long"]),  # strings are bounded by default
    ("{id: f, type: string}", 12, ["wrong-type"]),
    ("{id: f, type: string, pattern: '^[A-Z]{3}-[0-9]+$'}", "ABC-12", []),
    ("{id: f, type: string, pattern: '^[A-Z]{3}-[0-9]+$'}", "abc-12", ["pattern-mismatch"]),
    ("{id: f, type: string, pattern: '^(a+)+$'}", "a" * 250 + "!", ["pattern-mismatch"]),
    ("{id: f, type: string, pattern: '^[A-Z]+$'}", "\ud800X", ["pattern-mismatch"]),
    ("{id: f, type: text}", "line\nline", []),
    ("{id: f, type: text}", "x" * 10001, ["too-long"]),
    ("{id: f, type: number}", 3.25, []),
    ("{id: f, type: number}", "3", ["wrong-type"]),
    ("{id: f, type: number}", True, ["wrong-type"]),
    ("{id: f, type: number, integer: true}", 3.5, ["not-integer"]),
    ("{id: f, type: number, integer: true}", 3, []),
    ("{id: f, type: number, min: 1, max: 10}", 0, ["too-small"]),
    ("{id: f, type: number, min: 1, max: 10}", 11, ["too-large"]),
    ("{id: f, type: number, decimals: 2}", 1.25, []),
    ("{id: f, type: number, decimals: 2}", 1.255, ["too-many-decimals"]),
    ("{id: f, type: choice, options: [a, b]}", "a", []),
    ("{id: f, type: choice, options: [a, b]}", "c", ["not-an-option"]),
    ("{id: f, type: choice, options: [a, b]}", ["a"], ["wrong-type"]),
    ("{id: f, type: multi_choice, options: [a, b, c]}", ["a", "c"], []),
    ("{id: f, type: multi_choice, options: [a, b, c]}", ["a", "x"], ["not-an-option"]),
    ("{id: f, type: multi_choice, options: [a, b, c]}", ["a", "a"], ["duplicate-choice"]),
    ("{id: f, type: multi_choice, options: [a, b, c]}", "a", ["wrong-type"]),
    ("{id: f, type: multi_choice, options: [a, b, c], min_selected: 2}", ["a"],
     ["too-few-selected"]),
    ("{id: f, type: multi_choice, options: [a, b, c], max_selected: 1}", ["a", "b"],
     ["too-many-selected"]),
    ("{id: f, type: boolean}", False, []),
    ("{id: f, type: boolean}", "no", ["wrong-type"]),
    ("{id: f, type: date}", "2024-02-29", []),
    ("{id: f, type: date}", "2023-02-29", ["bad-date"]),
    ("{id: f, type: date}", "29/02/2024", ["bad-date"]),
    ("{id: f, type: datetime}", "2024-05-01T08:30:00+08:00", []),
    ("{id: f, type: datetime}", "2024-05-01T08:30:00Z", []),
    ("{id: f, type: datetime}", "2024-05-01 08:30", ["bad-datetime"]),
    ("{id: f, type: email}", "li.lei@example.cn", []),
    ("{id: f, type: email}", "li.lei@", ["bad-email"]),
    ("{id: f, type: phone}", "+86 138 0013 8000", []),
    ("{id: f, type: phone}", "call me", ["bad-phone"]),
    ("{id: f, type: user}", "li.lei", []),
    ("{id: f, type: user}", "li lei", ["bad-user"]),
    ("{id: f, type: attachments, accept: ['image/*'], max_files: 2, max_size: 1KB}", [PNG],
     ["file-too-large"]),
    ("{id: f, type: attachments, accept: ['image/*'], max_files: 2, max_size: 1MB}", [PNG], []),
    ("{id: f, type: attachments, accept: ['image/*']}", [PDF], ["file-type-not-accepted"]),
    ("{id: f, type: attachments, accept: ['.pdf']}", [PDF], []),
    ("{id: f, type: attachments, max_files: 1}", [PNG, PDF], ["too-many-files"]),
    ("{id: f, type: attachments}", [{"name": "x"}], ["bad-attachment"]),
    ("{id: f, type: attachments}", "a.png", ["wrong-type"]),
]


@pytest.mark.parametrize(("spec", "value", "codes"), VALUES,
                         ids=[f"{v[0][14:40]}={str(v[1])[:20]}" for v in VALUES])
def test_value_checks(compile_fields, spec: str, value: object, codes: list[str]):
    ticket_type = compile_fields(f"  - {{id: title, type: string}}\n  - {spec}\n")
    decision = decide(ticket_type, {"f": value}, roles={"requester"}, creating=True)
    assert [p.code for p in decision.problems if p.field == "f"] == codes
    assert decision.ok is (codes == [])


def test_empty_inputs_mean_no_value(compile_fields):
    ticket_type = compile_fields(
        "  - {id: title, type: string, min_length: 3}\n"
        "  - {id: n, type: number}\n"
        "  - {id: tags, type: multi_choice, options: [a]}\n"
    )
    decision = decide(ticket_type, {"title": "", "n": "", "tags": []}, roles={"requester"},
                      creating=True)
    assert decision.ok
    assert dict(decision.values) == {"title": None, "n": None, "tags": None}


TABLE = """\
  - {id: title, type: string}
  - id: parts
    type: table
    min_rows: 1
    max_rows: 3
    columns:
      - {id: part_no, type: string, required: true, max_length: 8}
      - {id: qty, type: number, integer: true, min: 1}
      - {id: unit_price, type: number, min: 0}
      - {id: line_total, type: number, compute: "qty * unit_price"}
  - {id: total, type: number, compute: "sum(parts, 'line_total')"}
  - {id: rows, type: number, compute: "count(parts)"}
"""


def test_table_rows_are_checked_cell_by_cell(compile_fields):
    ticket_type = compile_fields(TABLE)
    rows = [{"part_no": "A1", "qty": 0}, {"qty": 1.5, "colour": "red"}, "not a row"]
    decision = decide(ticket_type, {"parts": rows}, roles={"requester"}, creating=True)
    assert [(p.code, p.path) for p in decision.problems] == [
        ("too-small", "/parts/0/qty"),
        ("unknown-field", "/parts/1/colour"),
        ("required", "/parts/1/part_no"),
        ("not-integer", "/parts/1/qty"),
        ("wrong-type", "/parts/2"),
    ]
    assert {p.field for p in decision.problems} == {"parts"}


@pytest.mark.parametrize(("rows", "code"), [
    ([{"part_no": "A"}], "too-few-rows"),
    ([{"part_no": "A"}] * 4, "too-many-rows"),
], ids=["too-few", "too-many"])
def test_table_row_counts(compile_fields, rows: list, code: str):
    ticket_type = compile_fields(TABLE.replace("min_rows: 1", "min_rows: 2"))
    decision = decide(ticket_type, {"parts": rows}, roles={"requester"}, creating=True)
    assert [p.code for p in decision.problems] == [code]


def test_computed_cells_and_totals_are_filled_by_the_engine(compile_fields):
    ticket_type = compile_fields(TABLE)
    rows = [{"part_no": "A", "qty": 2, "unit_price": 3.5, "line_total": 999},
            {"part_no": "B", "qty": 1, "unit_price": 10}]
    decision = decide(ticket_type, {"parts": rows, "total": 1, "rows": 7},
                      roles={"requester"}, creating=True)
    assert decision.ok
    assert [row["line_total"] for row in decision.values["parts"]] == [7.0, 10]
    assert decision.values["total"] == 17.0
    assert decision.values["rows"] == 2


@pytest.mark.parametrize(("submitted", "line_totals", "total"), [
    # the title is too long: refused, but the rows are fine and are totalled for the form
    ({"title": "x" * 300, "parts": [{"part_no": "A", "qty": 2, "unit_price": 3.5}]},
     [7.0], 7.0),
    # a quantity that is not a number is never multiplied ("2" * 3 would be "222")
    ({"parts": [{"part_no": "A", "qty": "2", "unit_price": 3}]}, [None], None),
], ids=["other-field-refused", "row-refused"])
def test_a_refused_submission_still_computes_from_the_values_that_are_fine(
        compile_fields, submitted: dict, line_totals: list, total: float | None):
    decision = decide(compile_fields(TABLE), submitted, roles={"requester"}, creating=True)
    assert not decision.ok
    assert [row.get("line_total") for row in decision.values["parts"]] == line_totals
    assert decision.values.get("total") == total


CONDITIONAL = """\
  - {id: title, type: string}
  - {id: fault, type: choice, options: [hardware, software], required: true}
  - {id: photos, type: attachments, visible_when: "fault == 'hardware'", required: true}
  - {id: serial, type: string, required_when: "fault == 'hardware'"}
  - {id: start, type: date}
  - {id: end, type: date}
  - {id: category, type: choice, options: [printer, laptop]}
  - id: symptom
    type: choice
    depends_on: category
    options: {printer: [jam, toner], laptop: [screen]}
"""
RULES = """\
rules:
  - id: end_after_start
    check: "end >= start"
    field: end
    message: {en: The end cannot be before the start, zh: 结束日期不能早于开始日期}
"""


def test_visibility_requiredness_and_dropping_hidden_values(compile_fields):
    ticket_type = compile_fields(CONDITIONAL, RULES)
    software = decide(ticket_type, {"fault": "software", "photos": [PNG]}, roles={"requester"},
                      creating=True)
    assert software.ok
    assert "photos" not in software.visible
    assert "photos" not in software.values
    assert software.dropped == ("photos",)
    hardware = decide(ticket_type, {"fault": "hardware"}, roles={"requester"}, creating=True)
    assert [(p.field, p.code) for p in hardware.problems] == [
        ("photos", "required"), ("serial", "required")]
    assert {"photos", "serial", "fault"} <= hardware.required


def test_every_problem_is_returned_at_once_in_the_requested_language(compile_fields):
    ticket_type = compile_fields(CONDITIONAL, RULES)
    decision = decide(
        ticket_type,
        {"fault": "hardwre", "start": "2024-05-03", "end": "2024-05-01", "category": "printer",
         "symptom": "screen", "colour": "red"},
        roles={"requester"}, creating=True, language="zh",
    )
    assert [(p.field, p.code) for p in decision.problems] == [
        ("colour", "unknown-field"),
        ("fault", "not-an-option"),
        ("symptom", "not-an-option"),
        ("end", "rule-failed"),
    ]
    messages = {p.code: p.message for p in decision.problems}
    assert messages["rule-failed"] == "结束日期不能早于开始日期"
    assert messages["unknown-field"] == "不存在字段“colour”"


def test_dependent_options_follow_the_parent(compile_fields):
    ticket_type = compile_fields(CONDITIONAL)
    ok = decide(ticket_type, {"fault": "software", "category": "laptop", "symptom": "screen"},
                roles={"requester"}, creating=True)
    assert ok.ok
    no_parent = decide(ticket_type, {"fault": "software", "symptom": "screen"},
                       roles={"requester"}, creating=True)
    # without a category there are no symptoms to choose from: the field is hidden
    assert no_parent.ok
    assert "symptom" not in no_parent.visible


def test_rules_skip_empty_and_invalid_values(compile_fields):
    ticket_type = compile_fields(CONDITIONAL, RULES)
    only_end = decide(ticket_type, {"fault": "software", "end": "2024-05-01"},
                      roles={"requester"}, creating=True)
    assert only_end.ok
    bad_start = decide(ticket_type, {"fault": "software", "start": "soon", "end": "2024-05-01"},
                       roles={"requester"}, creating=True)
    assert [p.code for p in bad_start.problems] == ["bad-date"]


def test_defaults_apply_on_creation(repair):
    decision = decide(repair, {}, roles={"requester"}, creating=True)
    assert decision.values["priority"] == "normal"


STAFF_SET = """\
  - {id: subject, type: string}
  - {id: channel, type: choice, options: [web, phone], default: web,
     visible_to: [agent, supervisor, admin]}
  - {id: tier, type: choice, options: [standard, vip], visible_to: [agent]}
"""


@pytest.mark.parametrize(("roles", "submitted", "expected"), [
    ({"requester"}, {}, {"channel": "web"}),           # hidden from them: the default
    ({"agent"}, {}, {"channel": "web"}),
    ({"agent"}, {"channel": "phone"}, {"channel": "phone"}),  # set by someone who sees it
    ({"agent"}, {"channel": None}, {"channel": None}),  # cleared on purpose
], ids=["customer", "staff-untouched", "staff-chose", "staff-cleared"])
def test_a_default_applies_even_to_a_field_hidden_from_the_creator(
        compile_fields, roles: set[str], submitted: dict, expected: dict):
    decision = decide(compile_fields(STAFF_SET), {"subject": "x", **submitted}, roles=roles,
                      creating=True)
    assert decision.ok, decision.problems
    assert {key: decision.values.get(key) for key in expected} == expected
    assert "tier" not in decision.values  # no default, no value


VALID_REPAIR = {
    "device": "PRN-0042", "category": "printer", "symptom": "paper_jam", "fault": "software",
    "description": "Jams on every second page.", "contact_phone": "+86 138 0013 8000",
}


@pytest.mark.parametrize(("fault", "extra", "target"), [
    ("software", {}, "repairing"),
    ("hardware", {"photos": [PNG]}, "hardware_check"),
    ("network", {"photos": [PNG]}, "hardware_check"),
], ids=["software-skips-check", "hardware", "network-default-branch"])
def test_branch_is_resolved_on_submit(repair, fault: str, extra: dict, target: str):
    decision = decide(repair, {**VALID_REPAIR, "fault": fault, **extra}, roles={"requester"},
                      creating=True, transition="submit")
    assert decision.ok, decision.problems
    assert decision.target_state == target


def test_transition_requires_photos_when_they_are_visible(repair):
    decision = decide(repair, {**VALID_REPAIR, "fault": "hardware"}, roles={"requester"},
                      creating=True, transition="submit")
    assert [(p.field, p.code) for p in decision.problems] == [
        ("photos", "required-for-transition")]
    assert decision.target_state is None


def test_step_form_and_editability(repair):
    created = decide(repair, {**VALID_REPAIR, "fault": "hardware", "photos": [PNG]},
                     roles={"requester"}, creating=True, transition="submit")
    current = created.values
    not_in_form = decide(repair, {"check_result": "ok", "device": "X-1"}, roles={"agent"},
                         current=current, state="hardware_check", transition="checked")
    assert [(p.field, p.code) for p in not_in_form.problems] == [("device", "not-editable")]
    missing = decide(repair, {}, roles={"agent"}, current=current, state="hardware_check",
                     transition="checked")
    assert [p.code for p in missing.problems] == ["required-for-transition"]
    done = decide(repair, {"check_result": "board replaced"}, roles={"agent"},
                  current=current, state="hardware_check", transition="checked")
    assert done.ok
    assert done.target_state == "repairing"
    assert done.changes == {"check_result": "board replaced"}


def test_role_hidden_field_is_never_revealed(repair):
    as_requester = decide(repair, {**VALID_REPAIR, "id_card": "11010519491231002X"},
                          roles={"requester"}, creating=True, transition="submit")
    assert [(p.field, p.code) for p in as_requester.problems] == [("id_card", "unknown-field")]
    assert "id_card" not in form_for(repair, state="new", transition="submit",
                                     roles={"requester"}, creating=True)
    as_agent = decide(repair, {**VALID_REPAIR, "id_card": "11010519491231002X"},
                      roles={"agent"}, creating=True, transition="submit")
    assert as_agent.ok


def test_transition_refusals(repair):
    current = dict(VALID_REPAIR)
    wrong_role = decide(repair, {"resolution": "done"}, roles={"requester"}, current=current,
                        state="repairing", transition="resolve")
    assert wrong_role.refusal == "role-not-allowed"
    wrong_state = decide(repair, {}, roles={"agent"}, current=current, state="new",
                         transition="checked")
    assert wrong_state.refusal == "not-from-this-state"
    unknown = decide(repair, {}, roles={"agent"}, current=current, state="new",
                     transition="teleport")
    assert unknown.refusal == "unknown-transition"


def test_not_an_object(repair):
    decision = decide(repair, ["device"], roles={"requester"}, creating=True)
    assert [p.code for p in decision.problems] == ["not-an-object"]


def test_visible_fields_reads_hidden_values_as_null(compile_fields):
    ticket_type = compile_fields(
        "  - {id: title, type: string}\n"
        "  - {id: a, type: boolean}\n"
        "  - {id: b, type: boolean, visible_when: 'a'}\n"
        "  - {id: c, type: string, visible_when: 'b'}\n"
    )
    visible, effective, failures = visible_fields(ticket_type, {"a": False, "b": True}, {"x"})
    assert "b" not in visible
    assert "c" not in visible  # c depends on a hidden b
    assert "b" not in effective
    assert failures == []


FROM_REQUESTER = """\
  - {id: customer_name, type: string, max_length: 20, required: true, from_requester: name}
  - {id: customer_email, type: email, from_requester: email}
  - {id: subject, type: string}
"""
NAME, EMAIL = RequesterDetail.NAME, RequesterDetail.EMAIL


@pytest.mark.parametrize(("details", "expected"), [
    ({NAME: "Li Na", EMAIL: "li.na@example.cn"},
     {"customer_name": "Li Na", "customer_email": "li.na@example.cn"}),
    ({NAME: "  Li Na  ", EMAIL: None}, {"customer_name": "Li Na"}),   # trimmed; none known
    ({NAME: "   ", EMAIL: ""}, {}),                                   # blank fills nothing
    ({NAME: "x" * 21, EMAIL: "not an address"}, {}),                  # invalid: asked instead
    ({}, {}),
], ids=["both", "name-only", "blank", "invalid", "unknown"])
def test_fields_from_the_requester_take_only_valid_details(
        compile_fields, details: dict, expected: dict):
    ticket_type = compile_fields(FROM_REQUESTER)
    assert requester_values(ticket_type, details) == expected
