"""The canonical text: the same data always gives the same bytes, reads back as equal
data, and is a fixed point; keys follow the meta-schema; collections go on one line when
they fit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.canonical import canonical_text, dump, scalar, with_list_item, with_top_level
from engine.compile import loads
from engine.source import parse_text
from tests.conftest import MINIMAL, TEMPLATES

DEFINITIONS = sorted(p for p in TEMPLATES.glob("*.yaml"))


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.name)
def test_canonical_text_reads_back_equal_and_is_a_fixed_point(path) -> None:
    text = path.read_text(encoding="utf-8")
    canonical = canonical_text(text, path.name)
    assert parse_text(canonical).data == parse_text(text).data
    assert canonical_text(canonical, path.name) == canonical
    assert canonical.endswith("\n")
    assert not canonical.endswith("\n\n")
    assert max(len(line) for line in canonical.splitlines()) <= 100


def test_layout_and_key_order_follow_the_meta_schema() -> None:
    shuffled = """\
# A comment at the top is kept.
transitions: [{to: done, from: new, id: finish}]   # this one is not
states:
  - {initial: true, id: new}
  - {final: true, id: done}
fields:
  - {required: true, type: string, id: title, label: {zh: 标题, en: Title}}
number_prefix: DEM
name: {zh: 演示, en: Demo}
version: 1
ticket_type: demo
"""
    assert canonical_text(shuffled) == """\
# A comment at the top is kept.
ticket_type: demo
version: 1
name: {en: Demo, zh: 演示}
number_prefix: DEM
fields: [{id: title, type: string, label: {en: Title, zh: 标题}, required: true}]
states: [{id: new, initial: true}, {id: done, final: true}]
transitions: [{id: finish, from: new, to: done}]
"""


@pytest.mark.parametrize("value", [
    "plain text", "30d", "10MB", "+86 138 0013 8000", "PRN-0042", "报修故障设备；技术人员检测",
    "yes", "No", "off", "null", "~", "true", "12", "1.5", "1e5", "1_000", "0x1F", "09:00",
    "2026-10-01", ".inf", "- item", "key: value", "a #comment", "x?", "[list]", "{map}",
    "a, b", "*alias", "&anchor", "!tag", "|block", ">fold", "'single'", '"double"', "%dir",
    "@at", "`tick`", "trailing ", " leading", "line\nbreak", "tab\there", "nul\x00",
    "sep\u2028arator", "bom\ufeff", "back\\slash", "", "=", "<<", "fault == 'software'",
], ids=repr)
def test_every_text_reads_back_as_the_same_text(value: str) -> None:
    assert parse_text(f"v: {scalar(value)}\n").data == {"v": value}
    assert parse_text(f"v: [{scalar(value)}]\n").data == {"v": [value]}
    assert parse_text(f"v: {{k: {scalar(value)}}}\n").data == {"v": {"k": value}}


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_any_text_reads_back_as_the_same_text(value: str) -> None:
    assert parse_text(dump({"v": [value, {"k": value}]}, schema={})).data == \
        {"v": [value, {"k": value}]}


@pytest.mark.parametrize("value", [0, -7, 2**53, 1.5, -0.25, 1e-07, 12345678.9, True, False,
                                   None, [], {}], ids=repr)
def test_other_scalars_read_back_equal(value: object) -> None:
    assert parse_text(dump({"v": value}, schema={})).data == {"v": value}


def test_top_level_values_change_and_comments_stay() -> None:
    text = "# Header.\n" + MINIMAL.replace("fields:", "# fields below\nfields:")
    changed = with_top_level(text, {"ticket_type": "copy", "number_prefix": "CPY",
                                    "name": {"en": "Copy", "zh": "副本"}}, header="# Cloned.\n")
    assert changed.startswith("# Header.\n# Cloned.\nticket_type: copy\n")
    assert "# fields below\nfields:" in changed
    ticket_type = loads(changed)
    assert (ticket_type.id, ticket_type.number_prefix, ticket_type.name.text("zh")) == \
        ("copy", "CPY", "副本")


def test_a_json_source_is_rewritten_in_canonical_form() -> None:
    source = '{"ticket_type": "demo", "version": 1, "name": "Demo", "number_prefix": "DEM", ' \
             '"fields": [{"id": "t", "type": "string"}], "states": [{"id": "a", ' \
             '"initial": true}, {"id": "b", "final": true}], "transitions": [{"id": "go", ' \
             '"from": "a", "to": "b"}]}'
    changed = with_top_level(source, {"ticket_type": "copy"}, "d.json")
    assert changed.startswith("ticket_type: copy\nversion: 1\n")
    assert canonical_text(source, json_format=True).startswith("ticket_type: demo\n")


NOTE = {"id": "note", "type": "text", "label": {"en": "Note", "zh": "备注"}}


@pytest.mark.parametrize(("text", "kept"), [
    (MINIMAL.replace("fields:", "# the form\nfields:") + "\n# the end\n",
     ["# the form\nfields:", "# the end"]),
    (MINIMAL.replace("fields:\n", "fields:\n  - id: long\n    type: text\n", 1),
     ["  - id: long\n    type: text\n"]),
], ids=["flow items, comments around", "block items"])
def test_an_item_joins_the_end_of_a_list_and_the_rest_stays(text: str,
                                                             kept: list[str]) -> None:
    changed = with_list_item(text, "fields", NOTE)
    assert [field.id for field in loads(changed).fields] == [
        *(field.id for field in loads(text).fields), "note"]
    assert "  - {id: note, type: text, label: {en: Note, zh: 备注}}" in changed
    for piece in kept:
        assert piece in changed
    assert changed.replace("  - {id: note, type: text, label: {en: Note, zh: 备注}}\n", "") \
        == text


@pytest.mark.parametrize("text", [
    MINIMAL.replace("fields:\n", "fields: []\nold_fields:\n", 1),
    '{"ticket_type": "demo", "version": 1, "name": "Demo", "number_prefix": "DEM", '
    '"fields": [], "states": [{"id": "a", "initial": true}, {"id": "b", "final": true}], '
    '"transitions": [{"id": "go", "from": "a", "to": "b"}]}',
], ids=["a flow-style list", "JSON"])
def test_a_list_it_cannot_extend_line_by_line_is_written_again(text: str) -> None:
    changed = with_list_item(text, "fields", NOTE)
    assert parse_text(changed).data["fields"][-1] == NOTE
