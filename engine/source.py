"""Definition source text → plain data plus a map from JSON pointers to line/column.

YAML is read by composing PyYAML's node graph and building plain values ourselves,
which lets us refuse what a definition never needs and what surprises admins:

* tags other than the plain scalar/sequence/mapping ones (`!!python/object/...`),
* anchors and aliases (and with them "billion laughs" size blow-ups),
* duplicate keys (PyYAML would silently keep the last one),
* YAML 1.1 scalars: only `true`/`false` are booleans, `no`/`off`/`yes`/`on` stay text,
  `10:30` is text (not 630), `2024-05-01` is text (not a date object).

JSON is checked by the json module first (precise syntax errors, NaN refused) and then
read through the same composer, so both formats get the same line map and checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.errors import DefinitionError, Issue, IssueCode

MAX_SOURCE_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _CoreResolver(yaml.resolver.BaseResolver):
    """Implicit typing of YAML 1.2's core schema instead of PyYAML's YAML 1.1 rules."""


_CoreResolver.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreResolver.add_implicit_resolver(
    _NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_CoreResolver.add_implicit_resolver(
    _INT,
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_CoreResolver.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


class _Loader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _CoreResolver,
):
    """Composes a node graph only; construction is ours (see `_Builder`)."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _CoreResolver.__init__(self)

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise _Refused(
                IssueCode.YAML_ALIAS,
                "anchors and aliases are not supported in definitions; repeat the value instead",
                event.start_mark,
            )
        return super().compose_node(parent, index)


class _Refused(Exception):
    def __init__(self, code: IssueCode, message: str, mark: Any) -> None:
        self.code = code
        self.message = message
        self.mark = mark


@dataclass(frozen=True, slots=True)
class Position:
    """A 1-based line and column in the source text."""

    line: int
    column: int


@dataclass
class SourceMap:
    """Where each JSON pointer's value (and, for mapping entries, its key) starts."""

    file: str | None
    values: dict[str, Position] = field(default_factory=dict)
    keys: dict[str, Position] = field(default_factory=dict)

    def locate(self, pointer: str, *, prefer_key: bool = False) -> Position | None:
        """The best position for a pointer: itself, else the nearest ancestor that is known."""
        probe = pointer
        while True:
            if prefer_key and probe in self.keys:
                return self.keys[probe]
            if probe in self.values:
                return self.values[probe]
            if not probe:
                return None
            probe = probe.rsplit("/", 1)[0]

    def issue(
        self, code: IssueCode, message: str, pointer: str, *, prefer_key: bool = False
    ) -> Issue:
        """An issue located at `pointer` in this source."""
        position = self.locate(pointer, prefer_key=prefer_key)
        return Issue(
            code=code,
            message=message,
            pointer=pointer,
            file=self.file,
            line=position.line if position else None,
            column=position.column if position else None,
        )


@dataclass(frozen=True)
class Source:
    """Plain data read from a definition, with the map back to its text."""

    data: Any
    map: SourceMap


def escape_pointer_token(token: str | int) -> str:
    """RFC 6901 escaping of one pointer token."""
    return str(token).replace("~", "~0").replace("/", "~1")


def _position(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


class _Builder:
    """Turns a composed node graph into plain Python data, recording positions."""

    def __init__(self, source_map: SourceMap) -> None:
        self.map = source_map
        self.issues: list[Issue] = []
        self.count = 0

    def build(self, node: Node, pointer: str = "", depth: int = 0) -> Any:
        self.count += 1
        if depth > MAX_DEPTH or self.count > MAX_NODES:
            raise _Refused(
                IssueCode.TOO_DEEP if depth > MAX_DEPTH else IssueCode.TOO_LARGE,
                f"the definition is nested deeper than {MAX_DEPTH} levels"
                if depth > MAX_DEPTH
                else f"the definition has more than {MAX_NODES} values",
                node.start_mark,
            )
        self.map.values[pointer] = _position(node.start_mark)
        if isinstance(node, ScalarNode):
            return self._scalar(node, pointer)
        if isinstance(node, SequenceNode):
            self._expect_tag(node, _SEQ, pointer)
            return [
                self.build(item, f"{pointer}/{index}", depth + 1)
                for index, item in enumerate(node.value)
            ]
        if isinstance(node, MappingNode):
            return self._mapping(node, pointer, depth)
        raise _Refused(IssueCode.YAML_SYNTAX, "unexpected YAML node", node.start_mark)

    def _mapping(self, node: MappingNode, pointer: str, depth: int) -> dict[str, Any]:
        self._expect_tag(node, _MAP, pointer)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused(
                    IssueCode.YAML_ALIAS,
                    "merge keys (<<) are not supported in definitions; repeat the keys instead",
                    key_node.start_mark,
                )
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR:
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
                self.issues.append(
                    self._at(
                        IssueCode.NON_STRING_KEY,
                        f"keys must be text; quote {shown!r} to use it as a key",
                        key_node,
                        pointer,
                    )
                )
                continue
            key = key_node.value
            child = f"{pointer}/{escape_pointer_token(key)}"
            if key in result:
                self.issues.append(
                    self._at(
                        IssueCode.DUPLICATE_KEY,
                        f"duplicate key '{key}' (an earlier one is at line "
                        f"{self.map.keys[child].line}); YAML would silently keep only the last",
                        key_node,
                        child,
                    )
                )
                continue
            self.map.keys[child] = _position(key_node.start_mark)
            result[key] = self.build(value_node, child, depth + 1)
        return result

    def _scalar(self, node: ScalarNode, pointer: str) -> Any:
        tag, text = node.tag, node.value
        if tag == _STR:
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return text.lower() == "true"
        if tag == _INT:
            base = 16 if text.startswith("0x") else 8 if text.startswith("0o") else 10
            digits = text[2:] if base != 10 else text
            return int(digits, base)
        if tag == _FLOAT:
            if text.lower().lstrip("+-") in (".inf", ".nan"):
                self.issues.append(
                    self._at(IssueCode.BAD_VALUE, "infinity and NaN are not allowed", node, pointer)
                )
                return None
            return float(text)
        raise _Refused(
            IssueCode.UNSUPPORTED_TAG,
            f"the tag {tag!r} is not allowed in definitions (only plain text, numbers, "
            "true/false, lists and maps)",
            node.start_mark,
        )

    def _expect_tag(self, node: Node, tag: str, pointer: str) -> None:
        if node.tag != tag:
            raise _Refused(
                IssueCode.UNSUPPORTED_TAG,
                f"the tag {node.tag!r} is not allowed in definitions",
                node.start_mark,
            )

    def _at(self, code: IssueCode, message: str, node: Node, pointer: str) -> Issue:
        position = _position(node.start_mark)
        return Issue(code, message, pointer, self.map.file, position.line, position.column)


def _json_syntax_issues(text: str, file: str | None) -> Iterator[Issue]:
    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not allowed in definitions")

    try:
        json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as error:
        yield Issue(
            IssueCode.JSON_SYNTAX, f"invalid JSON: {error.msg}", "", file, error.lineno, error.colno
        )
    except ValueError as error:
        yield Issue(IssueCode.JSON_SYNTAX, f"invalid JSON: {error}", "", file, 1, 1)
    except RecursionError:
        yield Issue(IssueCode.TOO_DEEP, "the JSON is nested too deeply", "", file, 1, 1)


def parse_text(text: str, file: str | None = None, *, json_format: bool | None = None) -> Source:
    """Read definition text (YAML, or JSON when `json_format` or the file name says so).

    Raises `DefinitionError` with every located issue; never a parser's raw exception.
    """
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_SOURCE_BYTES:
        raise DefinitionError(
            [
                Issue(
                    IssueCode.TOO_LARGE,
                    f"the definition is {size} bytes; the limit is {MAX_SOURCE_BYTES}",
                    "",
                    file,
                    1,
                    1,
                )
            ]
        )
    if json_format is None:
        json_format = bool(file and file.lower().endswith(".json"))
    if json_format:
        issues = list(_json_syntax_issues(text, file))
        if issues:
            raise DefinitionError(issues)
        # In valid JSON a raw tab can only be whitespace, which YAML's block rules dislike.
        text = text.replace("\t", " ")
    source_map = SourceMap(file)
    builder = _Builder(source_map)
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
        if root is None:
            raise DefinitionError(
                [Issue(IssueCode.EMPTY_DOCUMENT, "the definition is empty", "", file, 1, 1)]
            )
        data = builder.build(root)
    except _Refused as refused:
        position = _position(refused.mark)
        raise DefinitionError(
            [*builder.issues, Issue(refused.code, refused.message, "", file, position.line,
                                    position.column)]
        ) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        position = _position(mark) if mark else Position(1, 1)
        message = " ".join(part for part in (error.context, error.problem) if part)
        code = IssueCode.JSON_SYNTAX if json_format else IssueCode.YAML_SYNTAX
        raise DefinitionError(
            [Issue(code, f"invalid YAML: {message}", "", file, position.line, position.column)]
        ) from None
    except yaml.YAMLError as error:
        raise DefinitionError(
            [Issue(IssueCode.YAML_SYNTAX, f"invalid YAML: {error}", "", file, 1, 1)]
        ) from None
    except RecursionError:
        raise DefinitionError(
            [Issue(IssueCode.TOO_DEEP, "the definition is nested too deeply", "", file, 1, 1)]
        ) from None
    if builder.issues:
        raise DefinitionError(builder.issues)
    return Source(data, source_map)


def read_file(path: str | Path) -> Source:
    """Read a definition file; size is checked before the whole file is read."""
    path = Path(path)
    name = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SOURCE_BYTES + 1)
    except OSError as error:
        raise DefinitionError(
            [Issue(IssueCode.BAD_VALUE, f"cannot read the file: {error.strerror}", "", name)]
        ) from None
    if len(raw) > MAX_SOURCE_BYTES:
        raise DefinitionError(
            [Issue(IssueCode.TOO_LARGE, f"the file is larger than {MAX_SOURCE_BYTES} bytes", "",
                   name, 1, 1)]
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DefinitionError(
            [Issue(IssueCode.BAD_VALUE, f"the file is not UTF-8 (byte {error.start})", "", name,
                   1, 1)]
        ) from None
    return parse_text(text, name)
