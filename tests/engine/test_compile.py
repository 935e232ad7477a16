"""Compiling definitions: a broken copy of the repair template fails with located issues.

Each case mutates the bundled template's text (old → new) and names the code and JSON
pointer it must produce; the line is the line where the new text starts (plus an offset
when the issue belongs on a later line of the new text).
"""

from __future__ import annotations

import pytest

from engine.compile import loads
from engine.errors import DefinitionError
from engine.model import FieldType, SlaMode
from tests.conftest import MINIMAL

# (id, old text, new text, expected code, expected pointer, line offset within new text)
MUTATIONS = [
    ("unknown-key-typo", "    label: {en: Device number", "    lable: {en: Device number",
     "unknown-key", "/fields/0/lable", 0),
    ("key-for-another-type", "    max_length: 64\n", "    max_length: 64\n    accept: [.pdf]\n",
     "key-not-for-type", "/fields/0/accept", 1),
    ("unsupported-language", "{en: Device number, zh: 设备编号}",
     "{en: Device number, fr: Numéro}", "unsupported-language", "/fields/0/label/fr", 0),
    ("wrong-type", "    max_length: 64\n", '    max_length: "64"\n', "wrong-type",
     "/fields/0/max_length", 0),
    ("missing-key", "number_prefix: REP\n", "", "missing-key", "", None),
    ("bad-id", "  - id: device\n", "  - id: Device\n", "bad-id", "/fields/0/id", 0),
    ("not-allowed-value", "    type: text\n    label: {en: What",
     "    type: txt\n    label: {en: What",
     "not-allowed-value", "/fields/5/type", 0),
    ("duplicate-key", "    required: true\n    max_length: 64\n",
     "    required: true\n    required: false\n    max_length: 64\n", "duplicate-key",
     "/fields/0/required", 1),
    ("yaml-1.1-no-is-not-false", "    default: normal\n", "    default: no\n", "bad-default",
     "/fields/4/default", 0),
    ("boolean-default-must-be-boolean",
     "    label: {en: Customer confirms the repair, zh: 客户确认维修完成}\n",
     "    label: {en: Customer confirms the repair, zh: 客户确认维修完成}\n    default: off\n",
     "bad-default", "/fields/18/default", 1),
    ("duplicate-field-id", "  - id: contact_email\n", "  - id: contact_phone\n", "duplicate-id",
     "/fields/8/id", 0),
    ("unknown-name-in-condition", "    max_size: 10MB\n    visible_when: \"fault ==",
     "    max_size: 10MB\n    visible_when: \"falut ==", "unknown-name",
     "/fields/6/visible_when", 1),
    ("unknown-state", "    from: hardware_check\n    to: repairing\n",
     "    from: hardware_check\n    to: repairng\n", "unknown-state", "/transitions/1/to", 1),
    ("unknown-state-in-branch", "{when: \"fault == 'software'\", state: repairing}",
     "{when: \"fault == 'software'\", state: repairin}", "unknown-state",
     "/transitions/0/to/1/state", 0),
    ("missing-default-branch", "      - {state: hardware_check}\n",
     "      - {when: \"fault != 'software'\", state: hardware_check}\n",
     "missing-default-branch", "/transitions/0/to", None),
    ("default-branch-not-last", "      - {when: \"fault == 'software'\", state: repairing}\n",
     "      - {state: repairing}\n      - {when: \"fault == 'software'\", state: repairing}\n",
     "default-branch-not-last", "/transitions/0/to/1", 0),
    ("unknown-role", "    roles: [agent]\n    requires: [check_result]",
     "    roles: [agnet]\n    requires: [check_result]", "unknown-role",
     "/transitions/1/roles/0", 0),
    ("unknown-field-in-form", "    form: [check_result]\n", "    form: [check_reslt]\n",
     "unknown-field", "/transitions/1/form/0", 0),
    ("computed-field-in-form", "    form: [check_result]\n", "    form: [parts_total]\n",
     "computed-not-editable", "/transitions/1/form/0", 0),
    ("forbidden-power", "compute: \"qty * unit_price\"", "compute: \"qty ** unit_price\"",
     "forbidden-construct", "/fields/13/columns/3/compute", 0),
    ("forbidden-attribute", "check: \"repair_finished >= repair_started\"",
     "check: \"repair_finished.__class__ >= repair_started\"", "forbidden-construct",
     "/rules/0/check", 0),
    ("expression-too-long", "check: \"repair_finished >= repair_started\"",
     "check: \"repair_finished >= repair_started" + " or repair_finished == null" * 20 + "\"",
     "expression-too-long", "/rules/0/check", 0),
    ("expression-too-deep", "check: \"repair_finished >= repair_started\"",
     "check: \"" + "not (" * 40 + "repair_finished >= repair_started" + ")" * 40 + "\"",
     "expression-too-deep", "/rules/0/check", 0),
    ("unknown-function", "compute: \"sum(parts, 'line_total') if parts else null\"",
     "compute: \"total(parts, 'line_total') if parts else null\"", "unknown-function",
     "/fields/14/compute", 0),
    ("title-field-unknown", "number_prefix: REP\n", "number_prefix: REP\ntitle_field: devise\n",
     "unknown-field", "/title_field", 1),
    ("title-field-not-text", "number_prefix: REP\n", "number_prefix: REP\ntitle_field: priority\n",
     "bad-value", "/title_field", 1),
    ("title-field-restricted", "number_prefix: REP\n",
     "number_prefix: REP\ntitle_field: id_card\n", "bad-value", "/title_field", 1),
    ("title-field-not-on-the-intake-form", "number_prefix: REP\n",
     "number_prefix: REP\ntitle_field: check_result\n", "bad-value", "/title_field", 1),
    ("from-requester-unknown-detail", "    label: {en: Contact phone, zh: 联系电话}\n",
     "    label: {en: Contact phone, zh: 联系电话}\n    from_requester: phone\n",
     "not-allowed-value", "/fields/7/from_requester", 1),
    ("from-requester-wrong-type", "    label: {en: Contact phone, zh: 联系电话}\n",
     "    label: {en: Contact phone, zh: 联系电话}\n    from_requester: name\n",
     "bad-value", "/fields/7/from_requester", 1),
    ("from-requester-not-on-the-intake-form", "    label: {en: Check result, zh: 检测结果}\n",
     "    label: {en: Check result, zh: 检测结果}\n    from_requester: name\n",
     "bad-value", "/fields/11/from_requester", 1),
    ("expression-syntax", "check: \"repair_finished >= repair_started\"",
     "check: \"repair_finished >=\"", "expression-syntax", "/rules/0/check", 0),
    ("bad-pattern", "    pattern: \"^[A-Z0-9-]+$\"\n", "    pattern: \"^(a)\\\\1$\"\n",
     "bad-pattern", "/fields/0/pattern", 0),
    ("bad-range", "    min_length: 10\n", "    min_length: 5000\n", "bad-range",
     "/fields/5/min_length", 0),
    ("dependent-option-unknown-parent-value", "      printer:\n        - {value: paper_jam",
     "      printr:\n        - {value: paper_jam",
     "bad-dependency", "/fields/3/options/printr", 0),
    ("reserved-field-id", "  - id: confirmed\n", "  - id: len\n", "reserved-id",
     "/fields/18/id", 0),
    ("many-initial-states", "  - {id: hardware_check, label",
     "  - {id: hardware_check, initial: true, label", "many-initial-states",
     "/states/1/initial", 0),
    ("transition-from-final", "    from: resolved\n    to: closed\n",
     "    from: [resolved, closed]\n    to: closed\n", "transition-from-final",
     "/transitions/5/from", 0),
    ("unknown-state-in-escalation", "in_state: hardware_check", "in_state: hardware_chek",
     "unknown-state", "/sla/escalate/1/in_state", 0),
    ("bad-duration", "warn_before: 30m", "warn_before: 30 minutes", "bad-value",
     "/sla/warn_before", 0),
]


@pytest.mark.parametrize(
    ("old", "new", "code", "pointer", "offset"),
    [case[1:] for case in MUTATIONS],
    ids=[case[0] for case in MUTATIONS],
)
def test_broken_copy_is_refused_with_a_located_issue(
    repair_text: str, old: str, new: str, code: str, pointer: str, offset: int | None
):
    assert repair_text.count(old) == 1, "the mutation must match the template exactly once"
    broken = repair_text.replace(old, new)
    with pytest.raises(DefinitionError) as raised:
        loads(broken, "repair.yaml")
    found = [(i.code, i.pointer) for i in raised.value.issues]
    assert (code, pointer) in found
    issue = next(i for i in raised.value.issues if (i.code, i.pointer) == (code, pointer))
    assert issue.file == "repair.yaml"
    if offset is not None:
        expected_line = repair_text[: repair_text.index(old)].count("\n") + 1 + offset
        assert issue.line == expected_line
    assert issue.render().startswith(f"repair.yaml:{issue.line}:{issue.column}: {pointer or '/'}:")


def test_did_you_mean_suggestions(repair_text: str):
    broken = repair_text.replace("    to: repairing\n    form: [check_result]",
                                 "    to: repairng\n    form: [check_result]")
    with pytest.raises(DefinitionError) as raised:
        loads(broken, "repair.yaml")
    assert "did you mean 'repairing'?" in raised.value.issues[0].message


def test_every_issue_is_reported_at_once(repair_text: str):
    broken = (repair_text.replace("    to: repairing\n    form: [check_result]",
                                  "    to: repairng\n    form: [check_result]")
              .replace("form: [resolution, repair_finished]", "form: [resolutoin, repair_finished]")
              .replace("roles: [requester, supervisor]\n    requires",
                       "roles: [requestor, supervisor]\n    requires"))
    with pytest.raises(DefinitionError) as raised:
        loads(broken, "repair.yaml")
    assert sorted(raised.value.codes) == ["unknown-field", "unknown-role", "unknown-state"]
    lines = [issue.line for issue in raised.value.issues]
    assert lines == sorted(lines), "issues come in source order"


def test_schema_errors_for_every_broken_key_at_once():
    text = MINIMAL.replace("version: 1", "version: 0").replace(
        "number_prefix: DEM", "number_prefix: dem\ncolour: blue")
    with pytest.raises(DefinitionError) as raised:
        loads(text, "d.yaml")
    assert sorted(raised.value.codes) == ["bad-value", "bad-value", "unknown-key"]
    assert [i.pointer for i in raised.value.issues] == ["/version", "/number_prefix", "/colour"]


def test_the_template_compiles_to_a_resolved_model(repair):
    assert repair.id == "repair"
    assert repair.number_prefix == "REP"
    assert repair.name.text("zh") == "维修工单"
    assert repair.initial_state.id == "new"
    assert repair.state_by_id["waiting_customer"].sla is SlaMode.PAUSE
    assert repair.field_by_id["parts"].type is FieldType.TABLE
    assert repair.compute_order == ("parts_total",)
    assert repair.field_by_id["parts"].column_compute_order == ("line_total",)
    assert "check_result" not in repair.intake_fields
    assert "parts_total" not in repair.intake_fields
    assert repair.transition_by_id["submit"].targets == ("hardware_check", "repairing",
                                                         "hardware_check")


def test_json_definitions_compile_like_yaml(repair):
    import json

    text = json.dumps(dict(repair.source), ensure_ascii=False, indent=2)
    from_json = loads(text, "repair.json")
    assert [(f.id, f.type) for f in from_json.fields] == [(f.id, f.type) for f in repair.fields]
    assert from_json.source == repair.source


def test_compute_cycle_is_refused(compile_fields):
    with pytest.raises(DefinitionError) as raised:
        compile_fields(
            "  - {id: title, type: string}\n"
            "  - {id: a, type: number, compute: 'b + 1'}\n"
            "  - {id: b, type: number, compute: 'a + 1'}\n"
        )
    assert raised.value.codes == ["compute-cycle"]
    assert "a → b → a" in raised.value.issues[0].message


def test_visibility_cycle_is_refused(compile_fields):
    with pytest.raises(DefinitionError) as raised:
        compile_fields(
            "  - {id: title, type: string}\n"
            "  - {id: a, type: boolean, visible_when: 'b'}\n"
            "  - {id: b, type: boolean, visible_when: 'a'}\n"
        )
    assert raised.value.codes == ["bad-dependency"]


@pytest.mark.parametrize(("fields", "title_field"), [
    ("[{id: ref, type: string}, {id: note, type: text}]", "ref"),
    ("[{id: ref, type: string, visible_to: [agent]}, {id: note, type: text}]", "note"),
    ("[{id: qty, type: number}, {id: when, type: date}]", None),  # the number stands in
])
def test_without_a_title_field_the_first_intake_text_everyone_sees_titles_a_ticket(
        fields: str, title_field: str | None) -> None:
    ticket_type = loads(f"""
ticket_type: t
version: 1
name: T
number_prefix: T
fields: {fields}
states: [{{id: new, initial: true}}, {{id: done, final: true}}]
transitions: [{{id: finish, from: new, to: done}}]
""", "t.yaml")
    assert ticket_type.title_field == title_field

