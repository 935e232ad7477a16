"""Reading definition text: every refusal is located and coded, nothing surprises."""

from __future__ import annotations

import pytest

from engine.errors import DefinitionError
from engine.source import MAX_SOURCE_BYTES, parse_text, read_file

# (YAML or JSON text, file name, expected code, line, column)
REFUSED = [
    ("a: [1, 2\n", "d.yaml", "yaml-syntax", 2, 1),
    ("a: 1\n  b: 2\n", "d.yaml", "yaml-syntax", 2, 4),
    ("a: !!python/object/apply:os.system [ls]\n", "d.yaml", "unsupported-tag", 1, 4),
    ("a: !!python/name:os.system\n", "d.yaml", "unsupported-tag", 1, 4),
    ("a: !custom x\n", "d.yaml", "unsupported-tag", 1, 4),
    ("a: !!binary aGVsbG8=\n", "d.yaml", "unsupported-tag", 1, 4),
    ("a: 1\nb: 2\na: 3\n", "d.yaml", "duplicate-key", 3, 1),
    ("x:\n  k: 1\n  k: 2\n", "d.yaml", "duplicate-key", 3, 3),
    ("a: &x [1, 2]\nb: *x\n", "d.yaml", "yaml-alias", 2, 4),
    ("base: &b {k: 1}\nother:\n  <<: *b\n", "d.yaml", "yaml-alias", 3, 7),
    ("1: one\n", "d.yaml", "non-string-key", 1, 1),
    ("a: .inf\n", "d.yaml", "bad-value", 1, 4),
    ("", "d.yaml", "empty-document", 1, 1),
    ("# only a comment\n", "d.yaml", "empty-document", 1, 1),
    ('{"a": 1,}', "d.json", "json-syntax", 1, 9),
    ('{"a": 1\n "b": 2}', "d.json", "json-syntax", 2, 2),
    ('{"a": NaN}', "d.json", "json-syntax", 1, 1),
    ('{"a": 1, "a": 2}', "d.json", "duplicate-key", 1, 10),
    ("[" * 100 + "]" * 100, "d.yaml", "too-deep", 1, 66),
    ("[" * 20000 + "]" * 20000, "d.yaml", "too-deep", 1, 1),
]


@pytest.mark.parametrize(
    ("text", "file", "code", "line", "column"),
    REFUSED,
    ids=[r[2] + ":" + r[0][:20] for r in REFUSED],
)
def test_refused_sources_are_located(text: str, file: str, code: str, line: int, column: int):
    with pytest.raises(DefinitionError) as raised:
        parse_text(text, file)
    issue = raised.value.issues[0]
    assert (issue.code, issue.line, issue.column, issue.file) == (code, line, column, file)
    assert issue.render().startswith(f"{file}:{line}:{column}: ")


# YAML 1.1 turned these into booleans, numbers or dates; a definition keeps them as text.
YAML_12_SCALARS = [
    ("no", "no"), ("off", "off"), ("yes", "yes"), ("on", "on"), ("y", "y"), ("n", "n"),
    ("10:30", "10:30"), ("2024-05-01", "2024-05-01"), ("1_000", "1_000"), ("0777", 777),
    ("true", True), ("false", False), ("null", None), ("~", None), ("0x1F", 31), ("0o17", 15),
    ("1.5", 1.5), ("-2", -2), ("1e3", 1000.0), ('"no"', "no"),
]


@pytest.mark.parametrize(("scalar", "value"), YAML_12_SCALARS, ids=[s for s, _ in YAML_12_SCALARS])
def test_scalars_follow_yaml_1_2_core(scalar: str, value: object):
    data = parse_text(f"key: {scalar}\n").data
    assert data == {"key": value}
    assert type(data["key"]) is type(value)


def test_every_error_is_reported_at_once():
    with pytest.raises(DefinitionError) as raised:
        parse_text("a: 1\na: 2\nb: 1\nb: 2\n", "d.yaml")
    assert raised.value.codes == ["duplicate-key", "duplicate-key"]
    assert [i.line for i in raised.value.issues] == [2, 4]


def test_line_map_points_at_values_and_keys():
    source = parse_text("fields:\n  - id: a\n    type: string\n", "d.yaml")
    assert source.map.locate("/fields/0/type").line == 3
    assert source.map.locate("/fields/0/type").column == 11
    assert source.map.locate("/fields/0/type", prefer_key=True).column == 5
    # unknown pointers fall back to the nearest known ancestor
    assert source.map.locate("/fields/0/missing/deeper").line == 2


def test_json_gets_the_same_line_map():
    source = parse_text('{\n  "fields": [\n    {"id": "a"}\n  ]\n}\n', "d.json")
    assert source.data == {"fields": [{"id": "a"}]}
    assert source.map.locate("/fields/0/id").line == 3


def test_billion_laughs_is_refused_before_expansion():
    lol = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
        for i in range(8)
    )
    with pytest.raises(DefinitionError) as raised:
        parse_text(lol, "lol.yaml")
    assert raised.value.codes == ["yaml-alias"]


def test_oversized_text_is_refused(tmp_path):
    big = "a: '" + "x" * MAX_SOURCE_BYTES + "'\n"
    with pytest.raises(DefinitionError) as raised:
        parse_text(big, "big.yaml")
    assert raised.value.codes == ["too-large"]
    path = tmp_path / "big.yaml"
    path.write_text(big)
    with pytest.raises(DefinitionError) as raised:
        read_file(path)
    assert raised.value.codes == ["too-large"]


def test_unreadable_and_non_utf8_files(tmp_path):
    with pytest.raises(DefinitionError) as raised:
        read_file(tmp_path / "missing.yaml")
    assert raised.value.issues[0].message.startswith("cannot read the file")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(DefinitionError) as raised:
        read_file(latin)
    assert "not UTF-8" in raised.value.issues[0].message
