"""The canonical text of a definition: one deterministic YAML form for export and diffs.

The same data always gives the same bytes, so export → import → export is byte-identical
and a diff in git shows only what an admin changed:

* keys in the meta-schema's property order (`ticket_type`, `version`, `name`, ...; a
  field's `id`, `type`, `label`, ...); keys the schema does not order (a state's `edit`
  roles, dependent option lists) keep their order, which the reader preserves;
* a collection is written on one line (flow style) when that line fits in 100
  characters, else as a block with 2-space indentation; a blank line separates the
  top-level sections;
* text is plain when YAML 1.2 *and* YAML 1.1 readers both read it back as the same text,
  else double-quoted with escapes; UTF-8, LF line endings, one trailing newline;
* the comment block at the top of the source is kept (other comments are not: put notes
  in `description` or in the template's page).

Reading the output with `engine.source` gives back equal data; `canonical_text` of a
canonical text is the same text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.schema import meta_schema
from engine.source import parse_text

WIDTH = 100
INDENT = "  "
Schema = Mapping[str, Any]

# Plain scalars must not start with an indicator, look like another type in YAML 1.1 or
# 1.2, or contain what ends a plain scalar in flow context.
_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")
_SPECIAL_WORDS = frozenset({
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", "nan", "inf", "=", "<<",
})
# What a YAML 1.1 or 1.2 reader could take for a number, a date or a time: digits with
# only number punctuation (1_000, 1.2.3, 1:30, 1e5), 0x/0o/0b, dates, .inf and .nan. Text
# such as 30d, 4h or 10MB stays plain.
_NUMBER_LIKE = re.compile(
    r"^[-+.]?[0-9][0-9._:eE+-]*$|^0[xob]|^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|^[-+]?\.(?:inf|nan)$",
    re.IGNORECASE)
# PyYAML ends a plain scalar in flow context at any of ,?[]{}
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff,?\[\]{}]|: | #")


def _plain_ok(text: str) -> bool:
    return bool(
        text and text.strip() == text and text[0] not in _INDICATORS
        and not text.endswith(":") and text.lower() not in _SPECIAL_WORDS
        and not _NUMBER_LIKE.search(text) and not _UNSAFE.search(text)
    )


def _quoted(text: str) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif code < 0x20 or 0x7F <= code <= 0x9F or char in "\u2028\u2029\ufeff" \
                or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def scalar(value: Any) -> str:
    """One scalar as YAML text that reads back as the same value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # finite (the reader refuses NaN and infinities): reads back equal
    text = str(value)
    return text if _plain_ok(text) else _quoted(text)


# --- key order from the meta-schema ----------------------------------------------------


_EMPTY: Schema = {}


def _resolve(schema: Schema | None) -> Schema:
    # A reference's siblings are only descriptions: ordering needs the target alone, and
    # returning the meta-schema's own objects keeps their identity (see `_ORDERS`).
    while schema and "$ref" in schema:
        schema = meta_schema()["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema or _EMPTY


def _properties(schema: Schema) -> dict[str, Schema]:
    """Every property a schema names, in order: its own, then those of `allOf` parts and
    their `then` branches (how field types add their keys)."""
    schema = _resolve(schema)
    found: dict[str, Schema] = dict(schema.get("properties", {}))
    for part in schema.get("allOf", ()):
        for key, sub in _properties(part).items():
            found.setdefault(key, sub)
    if "then" in schema:
        for key, sub in _properties(schema["then"]).items():
            found.setdefault(key, sub)
    return found


# Key order per schema object. The schema is kept beside its order, so its id cannot be
# reused by another object while the entry exists.
_ORDERS: dict[int, tuple[Schema, dict[str, int]]] = {}


def _ordered_keys(schema: Schema, mapping: Mapping[str, Any]) -> list[str]:
    entry = _ORDERS.get(id(schema))
    if entry is None:
        names = list(_properties(schema))
        names += [n for n in _resolve(schema).get("propertyNames", {}).get("enum", ())
                  if n not in names]
        entry = _ORDERS[id(schema)] = (schema, {name: i for i, name in enumerate(names)})
    rank = entry[1]
    known = sorted((k for k in mapping if k in rank), key=rank.__getitem__)
    return known + [k for k in mapping if k not in rank]


def _child(schema: Schema, key: str) -> Schema:
    schema = _resolve(schema)
    found = _properties(schema).get(key)
    if found is not None:
        return _resolve(found)
    extra = schema.get("additionalProperties")
    return _resolve(extra) if isinstance(extra, dict) else _EMPTY


def _items(schema: Schema) -> Schema:
    schema = _resolve(schema)
    if "items" in schema:
        return _resolve(schema["items"])
    for alternative in schema.get("anyOf", ()):
        alternative = _resolve(alternative)
        if "items" in alternative:
            return _resolve(alternative["items"])
    return _EMPTY


# --- writing ---------------------------------------------------------------------------


def _flow(value: Any, schema: Schema) -> str:
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        keys = _ordered_keys(schema, value)
        return "{" + ", ".join(f"{scalar(k)}: {_flow(value[k], _child(schema, k))}"
                               for k in keys) + "}"
    if isinstance(value, list):
        item = _items(schema)
        return "[" + ", ".join(_flow(v, item) for v in value) + "]"
    return scalar(value)


def _is_collection(value: Any) -> bool:
    return isinstance(value, Mapping | list) and bool(value)


def _entry(key: str, value: Any, schema: Schema, indent: str, *, block: bool = False
           ) -> list[str]:
    """`key: value` at `indent`: on one line when it fits (and `block` is not asked
    for), else the value as a block."""
    head = f"{indent}{scalar(key)}:"
    if _is_collection(value):
        one_line = f"{head} {_flow(value, schema)}"
        if len(one_line) <= WIDTH and not block:
            return [one_line]
        if isinstance(value, list):
            return [head, *_block_list(value, _items(schema), indent + INDENT)]
        return [head, *_block_map(value, schema, indent + INDENT)]
    return [f"{head} {_flow(value, schema)}"]


def _block_map(mapping: Mapping[str, Any], schema: Schema, indent: str) -> list[str]:
    lines: list[str] = []
    for key in _ordered_keys(schema, mapping):
        lines += _entry(key, mapping[key], _child(schema, key), indent)
    return lines


def _block_list(items: list[Any], schema: Schema, indent: str) -> list[str]:
    lines: list[str] = []
    for item in items:
        one_line = f"{indent}- {_flow(item, schema)}"
        if not _is_collection(item) or len(one_line) <= WIDTH:
            lines.append(one_line)
        elif isinstance(item, Mapping):
            inner = _block_map(item, schema, indent + INDENT)
            lines += [f"{indent}- {inner[0].lstrip()}", *inner[1:]]
        else:
            inner = _block_list(item, _items(schema), indent + INDENT)
            lines += [f"{indent}- {inner[0].lstrip()}", *inner[1:]]
    return lines


def dump(data: Mapping[str, Any], schema: Schema | None = None,
         header: str = "", *, blocks: bool = False) -> str:
    """Data as canonical YAML text (keys ordered by `schema`, default the meta-schema).
    `blocks`: top-level collections always as blocks (lists of things, one per line)."""
    schema = meta_schema() if schema is None else schema
    lines: list[str] = []
    previous_block = False
    for key in _ordered_keys(schema, data):
        entry = _entry(key, data[key], _child(schema, key), "", block=blocks)
        block = len(entry) > 1
        if lines and (block or previous_block):
            lines.append("")  # sections written as blocks stand apart
        lines += entry
        previous_block = block
    return header + "\n".join(lines) + "\n"


def leading_comments(text: str) -> str:
    """The comment block at the top of a source, normalised (LF, no trailing spaces)."""
    kept = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = line.strip()
        if stripped.startswith("#"):
            kept.append(stripped.rstrip())
        elif stripped:
            break
    return "".join(f"{line}\n" for line in kept)


def canonical_text(text: str, file: str | None = None, *, json_format: bool | None = None
                   ) -> str:
    """The canonical form of definition text (YAML or JSON); raises `DefinitionError`
    when the text cannot be read. The top comment block is kept (YAML only)."""
    data = parse_text(text, file, json_format=json_format).data
    header = "" if json_format or (file or "").endswith(".json") else leading_comments(text)
    return dump(data, header=header)


def inline(value: Any) -> str:
    """A value on one line in YAML flow style (for messages and diffs)."""
    return _flow(value, _EMPTY)


def with_top_level(text: str, changes: Mapping[str, Any], file: str | None = None,
                   header: str = "") -> str:
    """YAML definition text with some top-level keys set to new values, everything else
    (comments, layout) kept; `header` comment lines go after the leading comment block.

    Used to clone a template: its ticket_type, version and number_prefix change, the
    rest stays as its author wrote it. A source this cannot edit line by line (JSON, or
    a flow-style top level) is rewritten in canonical form instead.
    """
    source = parse_text(text, file)
    data = source.data
    positions = {key: source.map.keys.get(f"/{key}") for key in data}
    if not isinstance(data, dict) or any(p is None or p.column != 1 for p in positions.values()):
        merged = {**data, **changes}
        return dump(merged, header=leading_comments(text) + header)
    lines = text.replace("\r\n", "\n").split("\n")
    starts = sorted(p.line - 1 for p in positions.values() if p is not None)
    for key in sorted((k for k in changes if k in data),
                      key=lambda k: -positions[k].line):  # bottom-up: line numbers hold
        start = positions[key].line - 1
        later = [line for line in starts if line > start]
        end = later[0] if later else len(lines)
        while end > start + 1 and (not lines[end - 1].strip()
                                   or lines[end - 1].lstrip().startswith("#")):
            end -= 1
        lines[start:end] = _entry(key, changes[key], _child(meta_schema(), key), "")
    missing = [key for key in changes if key not in data]
    body = "\n".join(lines)
    if missing:
        body = body.rstrip("\n") + "\n" + "".join(
            "\n".join(_entry(key, changes[key], _child(meta_schema(), key), "")) + "\n"
            for key in missing)
    comments = leading_comments(body)
    return comments + header + body[_comment_block_length(body):]


def with_list_item(text: str, key: str, item: Any, file: str | None = None) -> str:
    """YAML definition text with `item` added at the end of the top-level list `key` (a
    field, a state, a transition), everything else (comments, layout) kept; the list is
    made when missing. Used by the designer's "add a field". A source this cannot edit
    line by line (JSON, a flow-style top level or list) is rewritten in canonical form."""
    source = parse_text(text, file)
    data = source.data
    if not isinstance(data, dict):
        data = {}
    current = data.get(key)
    items = [*(current if isinstance(current, list) else ()), item]
    key_at = source.map.keys.get(f"/{key}")
    first = source.map.values.get(f"/{key}/0")
    if key_at is None or first is None or first.line == key_at.line:
        # Missing, empty or written in flow style: the whole entry is written again.
        return with_top_level(text, {key: items}, file)
    lines = text.replace("\r\n", "\n").split("\n")
    # The new item goes after the list's last line that belongs to it: before the next
    # top-level key (or the end), not counting the blank and comment lines before it.
    later = sorted(p.line - 1 for name, p in source.map.keys.items()
                   if name.count("/") == 1 and p.line > key_at.line)
    end = later[0] if later else len(lines)
    while end > key_at.line and (not lines[end - 1].strip()
                                 or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    dash = lines[first.line - 1][:first.column - 1].rstrip().removesuffix("-")
    entry = f"{dash}- {_flow(item, _items(_child(meta_schema(), key)))}"
    return "\n".join([*lines[:end], entry, *lines[end:]])


def _comment_block_length(text: str) -> int:
    """Characters taken by the comment block (and blank lines) at the top of `text`."""
    offset = 0
    for line in text.split("\n"):
        if line.strip() and not line.strip().startswith("#"):
            break
        offset += len(line) + 1
    return min(offset, len(text))
