"""Definitions in git: export an installation's configuration to a folder, import one.

A folder holds one file per thing, in canonical form (`engine.canonical`), so export →
import → export is byte-identical and a git diff shows exactly what an admin changed:

    <ticket_type>.yaml          the newest published version of each ticket type
    <ticket_type>.cases.yaml    golden cases (written by people; export never touches them)
    teams.yaml                  the teams the definitions refer to, by key
    calendars/<key>.yaml        the calendars the definitions refer to, by key

Definitions refer to teams, calendars and roles by stable keys, never database ids.
Secrets (keys such as `secret`, `token`, `password`) are never written.

Import checks everything first — every file's syntax, meta-schema and meaning, clashes
inside the folder and with this installation, and the golden cases — and reports every
issue with its file and line; only a folder without issues is written, in one
transaction. A dry run returns the same plan without writing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.calendar import BusinessCalendar
from engine.calendar_compile import compile_calendar
from engine.canonical import canonical_text, dump, leading_comments
from engine.case_hooks import case_calendars, engine_extensions
from engine.cases import definition_path, parse_cases, render_case_failure, run_file
from engine.compile import compile_source
from engine.diff import diff
from engine.errors import DefinitionError, Issue, IssueCode
from engine.model import TicketType
from engine.schema import make_validator, schema_issues
from engine.source import Source, read_file
from runtime import policy
from runtime.catalog import compile_text
from runtime.context import Request
from runtime.db import Database
from runtime.models import ConfigKind, Definition, EventKind, Team
from runtime.services import definitions
from runtime.services.configuration import (
    LIBRARY,
    bundled_calendar,
    documents,
    put_document,
    referenced_calendars,
    referenced_teams,
)
from runtime.services.errors import Forbidden, Invalid
from runtime.services.events import record

TEAMS_FILE = "teams.yaml"
CALENDARS = "calendars"
CASES_SUFFIX = ".cases.yaml"
DEFINITION_SUFFIXES = (".yaml", ".yml", ".json")
# Keys never exported, wherever they appear in a configuration document.
SECRET = re.compile(r"secret|token|password|passwd|api[_-]?key|signing[_-]?key|private[_-]?key",
                    re.IGNORECASE)
TEAMS_SCHEMA = {
    "type": "object", "required": ["teams"], "additionalProperties": False,
    "properties": {"teams": {"type": "array", "items": {
        "type": "object", "required": ["key", "name"], "additionalProperties": False,
        "properties": {"key": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"},
                       "name": {"type": "string", "minLength": 1, "maxLength": 200}}}}},
}


# --- export ----------------------------------------------------------------------------


def _without_secrets(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_secrets(v) for k, v in value.items() if not SECRET.search(str(k))}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def _document_text(source: str, name: str) -> str:
    """A configuration document (a calendar) in canonical form, secrets removed."""
    from engine.source import parse_text

    data = parse_text(source, name).data
    return dump(_without_secrets(data) if isinstance(data, Mapping) else data, schema={},
                header=leading_comments(source))


def export_files(db: Database, request: Request) -> dict[str, str]:
    """Every file of an export, by path relative to the folder, in canonical form."""
    if not policy.can_manage_templates(request.actor):
        raise Forbidden("only administrators may export definitions")
    files: dict[str, str] = {}
    teams: set[str] = set()
    calendars: set[str] = set()
    with db.read() as session:
        for key in session.scalars(select(Definition.key).order_by(Definition.key)):
            latest = definitions.latest_source(session, key)
            if latest is None:
                continue  # only a draft: nothing published to export
            ticket_type = compile_text(latest.source, latest.source_format,
                                       f"{key}.{latest.source_format}")
            files[f"{key}.yaml"] = canonical_text(latest.source,
                                                  json_format=latest.source_format == "json")
            teams |= referenced_teams(ticket_type.source)
            calendars |= referenced_calendars(ticket_type.source)
        rows = session.scalars(select(Team).where(Team.key.in_(sorted(teams)))
                               .order_by(Team.key)).all()
        if rows:
            files[TEAMS_FILE] = dump({"teams": [{"key": t.key, "name": t.name} for t in rows]},
                                     schema={}, blocks=True)
        for key, row in sorted(documents(session, ConfigKind.CALENDAR, calendars).items()):
            files[f"{CALENDARS}/{key}.yaml"] = _document_text(row.source, f"{key}.yaml")
    return files


@dataclass(frozen=True)
class ExportReport:
    folder: str
    written: tuple[str, ...]
    unchanged: tuple[str, ...]


def export(db: Database, request: Request, folder: Path) -> ExportReport:
    """Write the export into `folder` (created if needed); files whose bytes would not
    change are left alone, files of other kinds (golden cases, notes) are never touched."""
    files = export_files(db, request)
    written, unchanged = [], []
    for relative, text in files.items():
        path = folder / relative
        data = text.encode("utf-8")
        if path.is_file() and path.read_bytes() == data:
            unchanged.append(relative)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(relative)
    with db.write() as session:
        record(session, request, EventKind.DEFINITIONS_EXPORTED,
               {"files": sorted(files), "written": len(written)})
    return ExportReport(str(folder), tuple(written), tuple(unchanged))


# --- reading a folder -------------------------------------------------------------------


@dataclass
class Loaded:
    """A folder read and checked on its own (before looking at the installation)."""

    definitions: dict[str, tuple[Path, str, TicketType]] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)
    calendars: dict[str, tuple[Path, str]] = field(default_factory=dict)
    compiled_calendars: dict[str, BusinessCalendar] = field(default_factory=dict)
    cases: list[Path] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _read(path: Path, loaded: Loaded) -> Source | None:
    try:
        return read_file(path)
    except DefinitionError as error:
        loaded.issues.extend(error.issues)
        return None


def _load_definition(path: Path, loaded: Loaded, prefixes: dict[str, str]) -> None:
    source = _read(path, loaded)
    if source is None:
        return
    try:
        ticket_type = compile_source(source)
    except DefinitionError as error:
        loaded.issues.extend(error.issues)
        return
    key = ticket_type.id
    if key in loaded.definitions:
        loaded.issues.append(source.map.issue(
            IssueCode.DUPLICATE_ID, f"'{key}' is also defined in "
            f"{loaded.definitions[key][0].name}", "/ticket_type"))
        return
    owner = prefixes.setdefault(ticket_type.number_prefix, key)
    if owner != key:
        loaded.issues.append(source.map.issue(
            IssueCode.DUPLICATE_ID, f"the number prefix {ticket_type.number_prefix} is also "
            f"used by '{owner}' in this folder", "/number_prefix"))
    text = canonical_text(path.read_text(encoding="utf-8-sig"), str(path))
    loaded.definitions[key] = (path, text, ticket_type)


def _load_teams(path: Path, loaded: Loaded) -> None:
    source = _read(path, loaded)
    if source is None:
        return
    issues = schema_issues(source.data, source.map, make_validator(TEAMS_SCHEMA))
    loaded.issues.extend(issues)
    if issues:
        return
    for index, team in enumerate(source.data["teams"]):
        if team["key"] in loaded.teams:
            loaded.issues.append(source.map.issue(
                IssueCode.DUPLICATE_ID, f"the team '{team['key']}' is listed twice",
                f"/teams/{index}/key"))
        loaded.teams[team["key"]] = team["name"]


def _load_calendar(path: Path, loaded: Loaded) -> None:
    source = _read(path, loaded)
    if source is None:
        return
    if not definitions.KEY.fullmatch(path.stem):
        loaded.issues.append(Issue(IssueCode.BAD_ID, f"'{path.stem}' is not a calendar key "
                                   "(lower case letters, digits, _ and -)", "", str(path), 1, 1))
    else:
        try:
            calendar = compile_calendar(source)
        except DefinitionError as error:
            loaded.issues.extend(error.issues)
            return
        if calendar.id != path.stem:
            # Definitions name a calendar by its key, the file name; an id that says
            # otherwise would make the cases and the runtime disagree.
            loaded.issues.append(source.map.issue(
                IssueCode.BAD_ID, f"the calendar id '{calendar.id}' differs from its file "
                f"name; call it '{path.stem}' or rename the file", "/calendar"))
            return
        loaded.calendars[path.stem] = (path, _document_text(path.read_text(
            encoding="utf-8-sig"), str(path)))
        loaded.compiled_calendars[path.stem] = calendar


def _files(folder: Path) -> Iterator[Path]:
    return (p for p in sorted(folder.iterdir()) if p.is_file())


def read_folder(folder: Path) -> Loaded:
    """Read and check every file of a folder on its own; collect every issue."""
    loaded = Loaded()
    if not folder.is_dir():
        loaded.issues.append(Issue(IssueCode.BAD_VALUE, "not a folder", "", str(folder)))
        return loaded
    prefixes: dict[str, str] = {}
    for path in _files(folder):
        if path.name.endswith(CASES_SUFFIX):
            loaded.cases.append(path)
        elif path.name == TEAMS_FILE:
            _load_teams(path, loaded)
        elif path.suffix.lower() in DEFINITION_SUFFIXES:
            _load_definition(path, loaded, prefixes)
    calendars = folder / CALENDARS
    if calendars.is_dir():
        for path in _files(calendars):
            if path.suffix.lower() in (".yaml", ".yml"):
                _load_calendar(path, loaded)
    _check_cases(loaded)
    return loaded


def _check_cases(loaded: Loaded) -> None:
    """Run the golden cases beside the definitions; a failing case is an issue."""
    by_path = {path.resolve(): ticket_type
               for path, _text, ticket_type in loaded.definitions.values()}
    if not loaded.cases:
        return
    try:
        bundled = case_calendars(LIBRARY)  # the library's calendars/ folder
    except DefinitionError as error:  # a broken bundled calendar: say so, do not crash
        loaded.issues.extend(error.issues)
        return
    # The folder's own calendars win over the bundled ones, as they will once imported.
    extensions = engine_extensions({**bundled, **loaded.compiled_calendars})
    for path in loaded.cases:
        source = _read(path, loaded)
        if source is None:
            continue
        try:
            case_file = parse_cases(source)
        except DefinitionError as error:
            loaded.issues.extend(error.issues)
            continue
        ticket_type = by_path.get(definition_path(path, case_file).resolve())
        if ticket_type is None:
            if not loaded.issues:  # a broken definition already said why
                loaded.issues.append(Issue(IssueCode.BAD_VALUE, "no definition in this folder "
                                           "for these cases", "", str(path), 1, 1))
            continue
        for result in run_file(ticket_type, case_file, extensions):
            if not result.passed:
                loaded.issues.append(Issue(IssueCode.CASE_FAILED, render_case_failure(result),
                                           "", str(path), result.case.line, 1))


# --- planning and importing --------------------------------------------------------------


@dataclass(frozen=True)
class PlanItem:
    """One thing an import does: create, publish a new version, update, or nothing."""

    kind: str      # definition, team, calendar
    key: str
    action: str    # create, publish, update, unchanged
    detail: str = ""
    changes: tuple[str, ...] = ()

    def render(self) -> str:
        line = f"{self.action:<9} {self.kind} {self.key}" + (f": {self.detail}"
                                                            if self.detail else "")
        return "\n".join([line, *(f"            {change}" for change in self.changes)])

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "action": self.action,
                "detail": self.detail, "changes": list(self.changes)}


@dataclass(frozen=True)
class Plan:
    items: tuple[PlanItem, ...]
    warnings: tuple[str, ...] = ()
    written: bool = False

    @property
    def changes(self) -> list[PlanItem]:
        return [item for item in self.items if item.action != "unchanged"]


def _plan_definition(session: Session, key: str, path: Path, text: str,
                     ticket_type: TicketType, issues: list[Issue]) -> PlanItem:
    latest = definitions.latest_source(session, key)
    if latest is None:
        owner = session.scalar(select(Definition.key).where(
            Definition.number_prefix == ticket_type.number_prefix, Definition.key != key))
        if owner is not None:
            issues.append(_issue_at(path, "/number_prefix", IssueCode.DUPLICATE_ID,
                                    f"the number prefix {ticket_type.number_prefix} is used "
                                    f"by '{owner}' in this installation"))
        return PlanItem("definition", key, "create", f"version {ticket_type.version}")
    current = canonical_text(latest.source, json_format=latest.source_format == "json")
    if current == text:
        return PlanItem("definition", key, "unchanged", f"version {latest.version}")
    if ticket_type.version <= latest.version:
        issues.append(_issue_at(path, "/version", IssueCode.BAD_VALUE,
                                f"version {latest.version} of '{key}' is published here with "
                                f"other content; set version: {latest.version + 1} to "
                                "publish this as a new version"))
        return PlanItem("definition", key, "conflict")
    before = compile_text(latest.source, latest.source_format, f"{key}@{latest.version}")
    changes = tuple(change.render() for change in diff(before, ticket_type))
    return PlanItem("definition", key, "publish",
                    f"version {latest.version} → {ticket_type.version}", changes)


def _issue_at(path: Path, pointer: str, code: IssueCode, message: str) -> Issue:
    # Located in the file as written (its canonical text may have other line numbers).
    source = read_file(path)
    return source.map.issue(code, message, pointer)


def _plan(session: Session, loaded: Loaded, library: Path) -> tuple[list[PlanItem],
                                                                     list[str]]:
    items: list[PlanItem] = []
    issues = loaded.issues
    existing = {t.key: t.name for t in session.scalars(select(Team))}
    for key, name in sorted(loaded.teams.items()):
        action = ("create" if key not in existing else
                  "unchanged" if existing[key] == name else "update")
        items.append(PlanItem("team", key, action, name))
    stored = documents(session, ConfigKind.CALENDAR)
    for key, (_path, text) in sorted(loaded.calendars.items()):
        current = _document_text(stored[key].source, f"{key}.yaml") if key in stored else None
        action = ("create" if current is None else "unchanged" if current == text
                  else "update")
        items.append(PlanItem("calendar", key, action))
    missing: dict[str, list[str]] = {}
    for key, (path, text, ticket_type) in sorted(loaded.definitions.items()):
        items.append(_plan_definition(session, key, path, text, ticket_type, issues))
        for team in referenced_teams(ticket_type.source):
            if team not in loaded.teams and team not in existing:
                missing.setdefault(f"team '{team}'", []).append(path.name)
        for calendar in referenced_calendars(ticket_type.source):
            if calendar not in loaded.calendars and calendar not in stored \
                    and bundled_calendar(calendar, library) is None:
                missing.setdefault(f"calendar '{calendar}'", []).append(path.name)
    warnings = [f"{what} is neither in this installation nor in the folder (used by "
                f"{', '.join(sorted(users))})" for what, users in sorted(missing.items())]
    return items, warnings


def _refuse(loaded: Loaded) -> Invalid:
    files = {issue.file for issue in loaded.issues}
    return Invalid(f"nothing was imported: {len(loaded.issues)} problem(s) in "
                   f"{len(files)} file(s)", code="import-refused",
                   details=[issue.to_dict() for issue in loaded.issues])


def import_folder(db: Database, request: Request, folder: Path, *, dry_run: bool = False,
                  library: Path = LIBRARY) -> Plan:
    """Check the whole folder, then (unless `dry_run`) write it all in one transaction.
    Refused with every issue (file, line) when anything is wrong: nothing is written."""
    if not policy.can_manage_templates(request.actor):
        raise Forbidden("only administrators may import definitions")
    loaded = read_folder(folder)
    if loaded.issues:
        raise _refuse(loaded)
    with db.read() if dry_run else db.write() as session:
        items, warnings = _plan(session, loaded, library)
        if loaded.issues:
            raise _refuse(loaded)
        if dry_run:
            return Plan(tuple(items), tuple(warnings))
        _write(session, request, loaded, items)
        return Plan(tuple(items), tuple(warnings), written=True)


def _write(session: Session, request: Request, loaded: Loaded, items: list[PlanItem]) -> None:
    for item in items:
        if item.action == "unchanged":
            continue
        if item.kind == "team":
            _write_team(session, request, item.key, loaded.teams[item.key])
        elif item.kind == "calendar":
            put_document(session, request, ConfigKind.CALENDAR, item.key,
                         loaded.calendars[item.key][1])
        else:
            definitions.install_in(session, request, loaded.definitions[item.key][1])
    record(session, request, EventKind.DEFINITIONS_IMPORTED, {
        "changes": [item.to_dict() for item in items if item.action != "unchanged"],
        "unchanged": len([item for item in items if item.action == "unchanged"])})


def _write_team(session: Session, request: Request, key: str, name: str) -> None:
    team = session.scalar(select(Team).where(Team.key == key))
    if team is None:
        session.add(Team(key=key, name=name, created_at=request.now))
        created = True
    else:
        team.name = name
        created = False
    session.flush()
    record(session, request, EventKind.TEAM_CHANGED, {"team": key, "created": created,
                                                      "name": name})
