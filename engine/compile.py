"""Plain definition data → a frozen `TicketType`, or one `DefinitionError` with every issue.

Stage 1 is the meta-schema (shape, key names, types). Only a well-shaped definition goes
on to stage 2, the meaning: references between ids, expressions, ranges, defaults, the
compute order; then stage 3, the flow linter. Each stage collects all of its issues.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import re2

from engine import compile_sla
from engine import source as source_module
from engine.duplicates import DuplicateCheck, window_of
from engine.durations import DurationError, parse_duration
from engine.errors import DefinitionError, Issue, IssueCode, did_you_mean
from engine.expressions import CONSTANTS, FUNCTIONS, Expression, ExpressionIssue
from engine.expressions import compile_expression as parse_expression
from engine.model import (
    BUILTIN_ROLES,
    Attachment,
    Branch,
    Field,
    FieldType,
    Label,
    Option,
    RequesterDetail,
    Rule,
    SlaMode,
    State,
    TicketType,
    Transition,
)
from engine.schema import schema_issues
from engine.source import Source, SourceMap

KEYWORDS = frozenset({"and", "or", "not", "in", "if", "else"})
RESERVED_IDS = frozenset(CONSTANTS) | frozenset(FUNCTIONS) | KEYWORDS
_SIZE = re.compile(r"^([0-9]+)(B|KB|MB|GB)$")
_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
# Repeat detection compares stored values as text.
_KEY_TYPES = frozenset({FieldType.STRING, FieldType.CHOICE, FieldType.EMAIL, FieldType.PHONE,
                        FieldType.USER})
_TITLE_TYPES = frozenset({FieldType.STRING, FieldType.TEXT})
_REQUESTER_TYPES = {RequesterDetail.NAME: frozenset({FieldType.STRING, FieldType.TEXT}),
                    RequesterDetail.EMAIL: frozenset({FieldType.EMAIL, FieldType.STRING})}


def load(path: str | Path) -> TicketType:
    """Read, check and compile a definition file."""
    return compile_source(source_module.read_file(path))


def loads(text: str, file: str | None = None) -> TicketType:
    """Read, check and compile definition text (YAML or JSON)."""
    return compile_source(source_module.parse_text(text, file))


def compile_source(source: Source) -> TicketType:
    """Check and compile data read by `engine.source`; raises `DefinitionError`."""
    issues = schema_issues(source.data, source.map)
    if issues:
        raise DefinitionError(issues)
    compiler = _Compiler(source.data, source.map)
    ticket_type = compiler.compile()
    if compiler.issues:
        raise DefinitionError(compiler.issues)
    from engine.lint import lint  # the linter works on the compiled model

    lint_issues = [issue.at(file=source.map.file) if issue.line else _locate(issue, source.map)
                   for issue in lint(ticket_type)]
    if lint_issues:
        raise DefinitionError(lint_issues)
    return ticket_type


def _locate(issue: Issue, source_map: SourceMap) -> Issue:
    position = source_map.locate(issue.pointer)
    return issue.at(
        file=source_map.file,
        line=position.line if position else None,
        column=position.column if position else None,
    )


def _label(value: Any, fallback: str) -> Label:
    return Label.of(value, fallback)


def _optional_label(value: Any) -> Label | None:
    return None if value is None else Label.of(value, "")


class _Compiler:
    def __init__(self, data: Mapping[str, Any], source_map: SourceMap) -> None:
        self.data = data
        self.map = source_map
        self.issues: list[Issue] = []
        self.field_ids: list[str] = [f["id"] for f in data["fields"]]
        self.state_ids: list[str] = [s["id"] for s in data["states"]]
        self.transition_ids: list[str] = [t["id"] for t in data["transitions"]]
        custom = [r["id"] for r in data.get("roles", ())]
        self.roles: frozenset[str] = frozenset(BUILTIN_ROLES) | frozenset(custom)
        self.fields_data: dict[str, Mapping[str, Any]] = {f["id"]: f for f in data["fields"]}

    def report(self, code: IssueCode, message: str, pointer: str, *, key: bool = False) -> None:
        self.issues.append(self.map.issue(code, message, pointer, prefer_key=key))

    # --- entry point -------------------------------------------------------------------

    def compile(self) -> TicketType:
        data = self.data
        self._check_unique("field", self.field_ids, "/fields")
        self._check_unique("state", self.state_ids, "/states")
        self._check_unique("transition", self.transition_ids, "/transitions")
        self._check_roles()
        fields = tuple(self._field(f, f"/fields/{i}", self.field_ids) for i, f in
                       enumerate(data["fields"]))
        by_id = {f.id: f for f in fields}
        self._check_dependencies(fields, by_id)
        visibility_order = self._visibility_order(fields)
        states = self._states(by_id)
        transitions = tuple(
            self._transition(t, f"/transitions/{i}", by_id)
            for i, t in enumerate(data["transitions"])
        )
        rules = tuple(self._rule(r, f"/rules/{i}") for i, r in enumerate(data.get("rules", ())))
        self._check_unique("rule", [r["id"] for r in data.get("rules", ())], "/rules")
        priority = compile_sla.priority_field(self, by_id)
        assignment_rules = compile_sla.assignment_rules(self, by_id, priority)
        sla_policy = compile_sla.sla_policy(self, priority)
        compute_order = self._compute_order(fields, "/fields")
        intake_fields = self._intake_fields(fields)
        title_field = self._title_field(by_id, intake_fields)
        self._check_requester_fields(fields, intake_fields)
        return TicketType(
            id=data["ticket_type"],
            version=data["version"],
            name=_label(data["name"], data["ticket_type"]),
            description=_optional_label(data.get("description")),
            number_prefix=data["number_prefix"],
            fields=fields,
            states=states,
            transitions=transitions,
            rules=rules,
            roles=self.roles,
            assignment=tuple(MappingProxyType(dict(a)) for a in data.get("assignment", ())),
            sla=MappingProxyType(dict(data["sla"])) if "sla" in data else None,
            duplicate_check=self._duplicate_check(by_id, intake_fields),
            source=data,
            file=self.map.file,
            compute_order=compute_order,
            visibility_order=visibility_order,
            intake_fields=intake_fields,
            assignment_rules=assignment_rules,
            sla_policy=sla_policy,
            priority_field=priority,
            title_field=title_field,
        )

    # --- ids and references -----------------------------------------------------------

    def _check_unique(self, what: str, ids: list[str], pointer: str) -> None:
        seen: dict[str, int] = {}
        for index, item in enumerate(ids):
            if item in seen:
                self.report(
                    IssueCode.DUPLICATE_ID,
                    f"duplicate {what} id '{item}' (first defined at {pointer}/{seen[item]})",
                    f"{pointer}/{index}/id",
                )
            else:
                seen[item] = index

    def _check_roles(self) -> None:
        for index, role in enumerate(self.data.get("roles", ())):
            if role["id"] in BUILTIN_ROLES:
                self.report(
                    IssueCode.DUPLICATE_ID,
                    f"'{role['id']}' is a built-in role; custom roles need another id",
                    f"/roles/{index}/id",
                )

    def _ref(self, kind: str, value: str, known: Iterable[str], pointer: str) -> bool:
        known_list = list(known)
        if value in known_list:
            return True
        code = {"state": IssueCode.UNKNOWN_STATE, "field": IssueCode.UNKNOWN_FIELD,
                "role": IssueCode.UNKNOWN_ROLE, "transition": IssueCode.UNKNOWN_TRANSITION,
                }.get(kind, IssueCode.BAD_VALUE)
        self.report(code, f"unknown {kind} '{value}'{did_you_mean(value, known_list)}", pointer)
        return False

    def _refs(self, kind: str, values: Iterable[str], known: Iterable[str], pointer: str) -> None:
        known_list = list(known)
        for index, value in enumerate(values):
            self._ref(kind, value, known_list, f"{pointer}/{index}")

    def _expression(self, text: str, names: Iterable[str], pointer: str) -> Expression | None:
        try:
            return parse_expression(text, names)
        except ExpressionIssue as issue:
            self.report(issue.code, issue.message, pointer)
            return None

    # --- fields ------------------------------------------------------------------------

    def _field(self, data: Mapping[str, Any], pointer: str, names: list[str]) -> Field:
        field_id, kind = data["id"], FieldType(data["type"])
        if field_id in RESERVED_IDS:
            self.report(
                IssueCode.RESERVED_ID,
                f"'{field_id}' is reserved in expressions; choose another field id",
                f"{pointer}/id",
            )
        others = [n for n in names if n != field_id]
        conditions = {
            key: self._expression(data[key], others, f"{pointer}/{key}")
            for key in ("visible_when", "required_when")
            if key in data
        }
        if field_id in _names_in(data.get("visible_when"), names):
            self.report(IssueCode.BAD_DEPENDENCY, "a field's visibility cannot depend on itself",
                        f"{pointer}/visible_when")
        compute = (
            self._expression(data["compute"], others, f"{pointer}/compute")
            if "compute" in data else None
        )
        if compute is not None and (data.get("required") or "required_when" in data):
            self.report(IssueCode.COMPUTED_NOT_EDITABLE,
                        "a computed field is filled in by the engine and cannot be required",
                        f"{pointer}/compute")
        if data.get("required") and "required_when" in data:
            self.report(IssueCode.BAD_VALUE, "use either required or required_when, not both",
                        f"{pointer}/required_when")
        columns = self._columns(data, pointer) if kind is FieldType.TABLE else ()
        column_order = self._compute_order(columns, f"{pointer}/columns") if columns else ()
        self._check_ranges(data, pointer)
        options, dependent = self._options(data, pointer)
        if "user_roles" in data or "roles" in data:
            self._refs("role", data.get("roles", ()), self.roles, f"{pointer}/roles")
        self._refs("role", data.get("visible_to", ()), self.roles, f"{pointer}/visible_to")
        field = Field(
            id=field_id,
            type=kind,
            label=_label(data.get("label"), field_id),
            pointer=pointer,
            help=_optional_label(data.get("help")),
            placeholder=_optional_label(data.get("placeholder")),
            required=bool(data.get("required", False)),
            required_when=conditions.get("required_when"),
            visible_when=conditions.get("visible_when"),
            visible_to=frozenset(data["visible_to"]) if "visible_to" in data else None,
            default=data.get("default"),
            widget=data.get("widget"),
            compute=compute,
            from_requester=self._from_requester(data, kind, pointer),
            min_length=data.get("min_length"),
            max_length=data.get("max_length", _default_max_length(kind)),
            pattern=self._pattern(data, pointer),
            integer=bool(data.get("integer", False)),
            minimum=data.get("min"),
            maximum=data.get("max"),
            decimals=data.get("decimals"),
            options=options,
            depends_on=data.get("depends_on"),
            dependent_options=dependent,
            min_selected=data.get("min_selected"),
            max_selected=data.get("max_selected"),
            user_roles=frozenset(data["roles"]) if "roles" in data else None,
            attachment=self._attachment(data, pointer) if kind is FieldType.ATTACHMENTS else None,
            columns=columns,
            column_compute_order=column_order,
            min_rows=data.get("min_rows"),
            max_rows=data.get("max_rows"),
        )
        if "default" in data:
            self._check_default(field, data["default"], f"{pointer}/default")
        return field

    def _from_requester(self, data: Mapping[str, Any], kind: FieldType, pointer: str
                        ) -> RequesterDetail | None:
        if "from_requester" not in data:
            return None
        detail = RequesterDetail(data["from_requester"])
        if kind not in _REQUESTER_TYPES[detail]:
            types = " or ".join(sorted(_REQUESTER_TYPES[detail]))
            self.report(IssueCode.BAD_VALUE, f"a field filled with the requester's {detail} "
                        f"must be of type {types}", f"{pointer}/from_requester")
        elif "compute" in data:
            self.report(IssueCode.BAD_VALUE, "a computed field cannot also be filled from "
                        "the requester", f"{pointer}/from_requester")
        return detail

    def _check_requester_fields(self, fields: tuple[Field, ...], intake: tuple[str, ...]
                                ) -> None:
        for spec in fields:
            if spec.from_requester is not None and spec.id not in intake:
                self.report(IssueCode.BAD_VALUE, f"the field '{spec.id}' is filled from the "
                            "requester when a ticket is opened, so it must be in the intake "
                            "form", f"{spec.pointer}/from_requester")

    def _columns(self, data: Mapping[str, Any], pointer: str) -> tuple[Field, ...]:
        ids = [c["id"] for c in data["columns"]]
        self._check_unique("column", ids, f"{pointer}/columns")
        columns = tuple(
            self._field(c, f"{pointer}/columns/{i}", ids) for i, c in enumerate(data["columns"])
        )
        by_id = {c.id: c for c in columns}
        self._check_dependencies(columns, by_id)
        return columns

    def _check_ranges(self, data: Mapping[str, Any], pointer: str) -> None:
        for low, high in (("min_length", "max_length"), ("min", "max"),
                          ("min_rows", "max_rows"), ("min_selected", "max_selected")):
            if low in data and high in data and data[low] > data[high]:
                self.report(IssueCode.BAD_RANGE, f"{low} ({data[low]}) is larger than "
                            f"{high} ({data[high]})", f"{pointer}/{low}")
        if data.get("integer") and "decimals" in data and data["decimals"] != 0:
            self.report(IssueCode.BAD_RANGE, "an integer field has no decimals",
                        f"{pointer}/decimals")

    def _pattern(self, data: Mapping[str, Any], pointer: str) -> str | None:
        pattern = data.get("pattern")
        if pattern is None:
            return None
        try:
            re2.compile(pattern)
        except re2.error as error:
            self.report(
                IssueCode.BAD_PATTERN,
                f"invalid pattern: {error}; patterns use RE2 syntax (no backreferences or "
                "look-around), which keeps matching fast on any input",
                f"{pointer}/pattern",
            )
            return None
        return pattern

    def _options(
        self, data: Mapping[str, Any], pointer: str
    ) -> tuple[tuple[Option, ...], Mapping[str, tuple[Option, ...]] | None]:
        raw = data.get("options")
        if raw is None:
            return (), None
        if isinstance(raw, dict):
            if "depends_on" not in data:
                self.report(IssueCode.BAD_DEPENDENCY,
                            "options given per parent value need depends_on: the parent field",
                            f"{pointer}/options")
            dependent = {
                parent: self._option_list(items, f"{pointer}/options/{parent}")
                for parent, items in raw.items()
            }
            return (), MappingProxyType(dependent)
        if "depends_on" in data:
            self.report(IssueCode.BAD_DEPENDENCY,
                        "with depends_on, options must map each parent value to its options",
                        f"{pointer}/options")
        return self._option_list(raw, f"{pointer}/options"), None

    def _option_list(self, items: list[Any], pointer: str) -> tuple[Option, ...]:
        options = tuple(
            Option(item, Label.of(item, item)) if isinstance(item, str)
            else Option(item["value"], _label(item.get("label"), item["value"]))
            for item in items
        )
        self._check_unique("option", [o.value for o in options], pointer)
        return options

    def _attachment(self, data: Mapping[str, Any], pointer: str) -> Attachment:
        max_size = None
        if "max_size" in data:
            number, unit = _SIZE.match(data["max_size"]).groups()  # type: ignore[union-attr]
            max_size = int(number) * _SIZE_UNITS[unit]
            if max_size == 0:
                self.report(IssueCode.BAD_SIZE, "max_size must be more than 0",
                            f"{pointer}/max_size")
        return Attachment(tuple(data.get("accept", ())), data.get("max_files"), max_size)

    def _check_default(self, field: Field, value: Any, pointer: str) -> None:
        from engine.values import check_value  # the same check a submission gets

        problems = check_value(field, value, "en", path="")
        if field.computed:
            self.report(IssueCode.BAD_DEFAULT, "a computed field cannot have a default", pointer)
        elif problems:
            self.report(IssueCode.BAD_DEFAULT,
                        f"the default is not a valid value: {problems[0].message}", pointer)

    def _check_dependencies(self, fields: tuple[Field, ...], by_id: Mapping[str, Field]) -> None:
        for field in fields:
            if field.depends_on is None:
                continue
            pointer = f"{field.pointer}/depends_on"
            parent = by_id.get(field.depends_on)
            if parent is None:
                self._ref("field", field.depends_on, by_id, pointer)
                continue
            if parent.type is not FieldType.CHOICE or parent.dependent_options is not None:
                self.report(IssueCode.BAD_DEPENDENCY,
                            f"'{parent.id}' must be a plain choice field to drive dependent "
                            "options", pointer)
                continue
            for value in field.dependent_options or {}:
                if value not in parent.option_values:
                    self.report(
                        IssueCode.BAD_DEPENDENCY,
                        f"'{value}' is not an option of '{parent.id}'"
                        f"{did_you_mean(value, sorted(parent.option_values))}",
                        f"{field.pointer}/options/{value}", key=True,  # the key is wrong
                    )

    def _visibility_order(self, fields: tuple[Field, ...]) -> tuple[str, ...]:
        """Fields ordered so that a visibility condition is decided after the fields it
        reads (and, for dependent options, after the parent)."""
        graph = {
            f.id: sorted(f.visible_when.names if f.visible_when else ())
            + ([f.depends_on] if f.depends_on else [])
            for f in fields
        }
        cycle = _find_cycle(graph)
        if cycle:
            first = next(f for f in fields if f.id == cycle[0])
            self.report(IssueCode.BAD_DEPENDENCY,
                        "visibility conditions depend on each other in a circle: "
                        + " → ".join(cycle), f"{first.pointer}/visible_when")
            return tuple(f.id for f in fields)
        return _topological(graph)

    def _compute_order(self, fields: tuple[Field, ...], pointer: str) -> tuple[str, ...]:
        """Computed fields ordered so each is computed after the computed fields it reads."""
        computed = {f.id for f in fields if f.compute}
        graph = {
            f.id: sorted(name for name in f.compute.names if name in computed)
            for f in fields if f.compute
        }
        cycle = _find_cycle(graph)
        if cycle:
            first = next(f for f in fields if f.id == cycle[0])
            self.report(IssueCode.COMPUTE_CYCLE,
                        "computed fields depend on each other in a circle: " + " → ".join(cycle),
                        f"{first.pointer}/compute")
            return ()
        return _topological(graph)

    def _duplicate_check(self, by_id: Mapping[str, Field], intake: tuple[str, ...]
                         ) -> DuplicateCheck | None:
        data = self.data.get("duplicate_check")
        if data is None:
            return None
        pointer = "/duplicate_check"
        for index, name in enumerate(data["fields"]):
            if self._ref("field", name, self.field_ids, f"{pointer}/fields/{index}") and \
                    by_id[name].type not in _KEY_TYPES:
                self.report(IssueCode.BAD_VALUE, f"'{name}' is a {by_id[name].type} field; "
                            "repeats are matched on text fields (string, choice, e-mail, "
                            "phone, user)", f"{pointer}/fields/{index}")
        for key, wanted in (("flag", FieldType.BOOLEAN), ("link", FieldType.STRING)):
            name = data.get(key)
            if name is None or not self._ref("field", name, self.field_ids,
                                             f"{pointer}/{key}"):
                continue
            spec = by_id[name]
            if spec.type is not wanted or spec.computed:
                self.report(IssueCode.BAD_VALUE, f"the {key} field '{name}' must be a "
                            f"{wanted} field that is not computed", f"{pointer}/{key}")
            elif name in intake:
                self.report(IssueCode.BAD_VALUE, f"the {key} field '{name}' is in the intake "
                            "form, so a requester could set it; the runtime sets it — list it "
                            "in a later state's `edit` (e.g. for supervisors) instead",
                            f"{pointer}/{key}")
        try:
            within = window_of(parse_duration(data["within"]))
        except DurationError as error:
            self.report(IssueCode.BAD_DURATION, str(error), f"{pointer}/within")
            return None
        return DuplicateCheck(tuple(data["fields"]), within, data["within"], data["flag"],
                              data.get("link"))

    def _title_field(self, by_id: Mapping[str, Field], intake: tuple[str, ...]) -> str | None:
        """The declared `title_field`, else the first intake string or text field that
        every role may see (a title reaches lists, notices and search; it must not carry
        a restricted field's value). None: tickets are titled by their number."""
        name = self.data.get("title_field")
        if name is None:
            return next((field for field in intake if by_id[field].type in _TITLE_TYPES
                         and by_id[field].visible_to is None), None)
        if not self._ref("field", name, by_id, "/title_field"):
            return None
        spec = by_id[name]
        if spec.type not in _TITLE_TYPES or name not in intake or spec.visible_to is not None:
            self.report(IssueCode.BAD_VALUE, f"the title field '{name}' must be a string or "
                        "text field of the intake form that every role may see",
                        "/title_field")
            return None
        return name

    def _intake_fields(self, fields: tuple[Field, ...]) -> tuple[str, ...]:
        initial = {s["id"] for s in self.data["states"] if s.get("initial")}
        later: set[str] = set()
        for transition in self.data["transitions"]:
            sources = transition["from"]
            sources = [sources] if isinstance(sources, str) else sources
            if any(source not in initial for source in sources):
                later.update(transition.get("form", ()))
        for state in self.data["states"]:
            if state["id"] not in initial:
                for names in state.get("edit", {}).values():
                    later.update(names)
        return tuple(f.id for f in fields if not f.computed and f.id not in later)

    # --- states and transitions ---------------------------------------------------------

    def _states(self, fields: Mapping[str, Field]) -> tuple[State, ...]:
        states = []
        for index, data in enumerate(self.data["states"]):
            pointer = f"/states/{index}"
            edit = data.get("edit", {})
            for role, names in edit.items():
                self._ref("role", role, self.roles, f"{pointer}/edit/{role}")
                self._editable(names, fields, f"{pointer}/edit/{role}")
            states.append(State(
                id=data["id"],
                label=_label(data.get("label"), data["id"]),
                pointer=pointer,
                initial=bool(data.get("initial", False)),
                final=bool(data.get("final", False)),
                sla=SlaMode(data.get("sla", "run")),
                edit=MappingProxyType({role: frozenset(names) for role, names in edit.items()}),
            ))
        initial = [s for s in states if s.initial]
        if not initial:
            self.report(IssueCode.NO_INITIAL_STATE,
                        "no state is marked initial: true; tickets need a state to start in",
                        "/states")
        for extra in initial[1:]:
            self.report(IssueCode.MANY_INITIAL_STATES,
                        f"only one state may be initial; '{initial[0].id}' already is",
                        f"{extra.pointer}/initial")
        if not any(s.final for s in states):
            self.report(IssueCode.NO_FINAL_STATE,
                        "no state is marked final: true; tickets could never finish", "/states")
        return tuple(states)

    def _editable(self, names: Iterable[str], fields: Mapping[str, Field], pointer: str) -> None:
        for index, name in enumerate(names):
            if self._ref("field", name, fields, f"{pointer}/{index}") and fields[name].computed:
                self.report(IssueCode.COMPUTED_NOT_EDITABLE,
                            f"'{name}' is computed by the engine; nobody can edit it",
                            f"{pointer}/{index}")

    def _transition(
        self, data: Mapping[str, Any], pointer: str, fields: Mapping[str, Field]
    ) -> Transition:
        raw_from = data["from"]
        if raw_from == "*":
            sources = frozenset(s["id"] for s in self.data["states"] if not s.get("final"))
        else:
            listed = [raw_from] if isinstance(raw_from, str) else raw_from
            base = f"{pointer}/from" if isinstance(raw_from, str) else None
            for index, state in enumerate(listed):
                self._ref("state", state, self.state_ids, base or f"{pointer}/from/{index}")
            sources = frozenset(listed)
        branches = self._branches(data["to"], f"{pointer}/to")
        self._refs("role", data.get("roles", ()), self.roles, f"{pointer}/roles")
        self._editable(data.get("form", ()), fields, f"{pointer}/form")
        self._refs("field", data.get("requires", ()), fields, f"{pointer}/requires")
        available = (
            self._expression(data["available_when"], self.field_ids, f"{pointer}/available_when")
            if "available_when" in data else None
        )
        return Transition(
            id=data["id"],
            label=_label(data.get("label"), data["id"]),
            pointer=pointer,
            sources=sources,
            branches=branches,
            roles=frozenset(data["roles"]) if "roles" in data else None,
            form=tuple(data.get("form", ())),
            requires=tuple(data.get("requires", ())),
            available_when=available,
            reopens=data.get("kind") == "reopen",
        )

    def _branches(self, raw: Any, pointer: str) -> tuple[Branch, ...]:
        if isinstance(raw, str):
            self._ref("state", raw, self.state_ids, pointer)
            return (Branch(raw, pointer),)
        branches = []
        for index, item in enumerate(raw):
            where = f"{pointer}/{index}"
            self._ref("state", item["state"], self.state_ids, f"{where}/state")
            when = (self._expression(item["when"], self.field_ids, f"{where}/when")
                    if "when" in item else None)
            if "when" not in item and index != len(raw) - 1:
                self.report(IssueCode.DEFAULT_BRANCH_NOT_LAST,
                            "a branch without `when` is the default and must come last; the "
                            "branches after it could never be taken", where)
            branches.append(Branch(item["state"], where, when))
        if "when" in raw[-1]:
            self.report(IssueCode.MISSING_DEFAULT_BRANCH,
                        "the last branch needs no `when`: it is the default taken when no "
                        "condition holds", pointer)
        return tuple(branches)

    def _rule(self, data: Mapping[str, Any], pointer: str) -> Rule:
        check = self._expression(data["check"], self.field_ids, f"{pointer}/check")
        when = (self._expression(data["when"], self.field_ids, f"{pointer}/when")
                if "when" in data else None)
        field = data.get("field") or next(iter(_names_in(data["check"], self.field_ids)), "")
        if "field" in data:
            self._ref("field", data["field"], self.field_ids, f"{pointer}/field")
        return Rule(
            id=data["id"],
            check=check or parse_expression("true", ()),
            message=_label(data["message"], data["id"]),
            field=field,
            pointer=pointer,
            when=when,
        )


def _default_max_length(kind: FieldType) -> int | None:
    # Every text input is bounded, so no submission can carry megabytes in one field.
    return {FieldType.STRING: 255, FieldType.TEXT: 10_000, FieldType.EMAIL: 254,
            FieldType.PHONE: 32, FieldType.USER: 150}.get(kind)


def _names_in(expression: str | None, names: Iterable[str]) -> list[str]:
    """Field names an expression mentions, in order of appearance (for messages)."""
    if not expression:
        return []
    known = set(names)
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return []
    found = sorted(
        (node.col_offset, node.id)
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id in known
    )
    return list(dict.fromkeys(name for _, name in found))


def _topological(graph: Mapping[str, list[str]]) -> tuple[str, ...]:
    """Nodes of an acyclic graph, each after the nodes it depends on (stable order)."""
    order: dict[str, None] = {}

    def visit(node: str) -> None:
        if node in order:
            return
        for dependency in graph.get(node, ()):
            if dependency in graph:
                visit(dependency)
        order[node] = None

    for node in graph:
        visit(node)
    return tuple(order)


def _find_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    """A cycle in a dependency graph (as a path that returns to its start), or None."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if colour.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt in graph and colour.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = 2
        return None

    for start in graph:
        if colour.get(start) is None:
            found = visit(start)
            if found:
                return found
    return None


def iter_issues(text: str, file: str | None = None) -> Iterator[Issue]:
    """Every issue of a definition text (empty when it compiles)."""
    try:
        loads(text, file)
    except DefinitionError as error:
        yield from error.issues
