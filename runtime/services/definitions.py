"""Ticket-type definitions as versions: drafts, and immutable published versions.

A ticket is pinned to the version it was created under, so publishing never changes the
rules of a running ticket. Publishing compiles with the engine and refuses with the
engine's located issues.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.canonical import with_top_level
from engine.diff import Change, diff
from engine.errors import DefinitionError, IssueCode
from engine.model import BUILTIN_ROLES, TicketType
from engine.source import parse_text
from runtime import policy
from runtime.catalog import compile_text, compiled_version
from runtime.context import Request
from runtime.db import Database
from runtime.models import Definition, DefinitionVersion, EventKind, Team, VersionStatus
from runtime.services.errors import Conflict, Forbidden, Invalid, NotFound
from runtime.services.events import record

MAX_VERSION = 2**31 - 1
# The meta-schema's rule for ticket_type (a draft's URL names it too).
KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_BAD_KEY = {"code": "bad-key", "pointer": "/ticket_type",
            "message": "a ticket type key is lower case letters, digits, _ and - "
                       "(at most 63, starting with a letter)"}


@dataclass(frozen=True)
class VersionInfo:
    key: str
    version: int
    status: str
    source_format: str
    created_at: datetime
    published_at: datetime | None
    issues: tuple[dict[str, Any], ...] = ()
    # Published anyway, but worth fixing: e.g. teams the installation lacks (located).
    warnings: tuple[dict[str, Any], ...] = ()


def _issues_of(error: DefinitionError) -> list[dict[str, Any]]:
    return [issue.to_dict() for issue in error.issues]


def _info(definition: Definition, version: DefinitionVersion,
          issues: list[dict[str, Any]] | None = None) -> VersionInfo:
    return VersionInfo(definition.key, version.version, version.status, version.source_format,
                       version.created_at, version.published_at, tuple(issues or ()))


def _header(source: str, source_format: str, expected_key: str | None) -> tuple[str, int]:
    """The ticket-type key and version a source declares (enough to file a draft).

    A draft may be unfinished, but it is filed under its key, so the key must be one
    (and the one the caller names, if it names one) and the version must fit a column.
    """
    name = f"definition.{source_format}"
    try:
        data = parse_text(source, name, json_format=source_format == "json").data
    except DefinitionError as error:
        raise Invalid("the definition cannot be read", details=_issues_of(error)) from None
    key = data.get("ticket_type") if isinstance(data, dict) else None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        version = 0
    details = []
    if expected_key is not None and not KEY.fullmatch(expected_key):
        details.append(dict(_BAD_KEY))
    elif not isinstance(key, str) or not key:
        details.append({"code": "missing-key", "pointer": "/ticket_type",
                        "message": "missing required key 'ticket_type'"})
    elif expected_key is not None and key != expected_key:
        details.append({"code": "key-mismatch", "pointer": "/ticket_type",
                        "message": f"ticket_type is '{key}' but the draft is filed "
                                   f"under '{expected_key}'"})
    elif not KEY.fullmatch(key):
        details.append(dict(_BAD_KEY))
    if abs(version) > MAX_VERSION:
        details.append({"code": "bad-version", "pointer": "/version",
                        "message": f"version must be at most {MAX_VERSION}"})
    if details:
        raise Invalid("the draft cannot be filed under its ticket type", details=details)
    return str(key), version


def validate_source(source: str, source_format: str = "yaml") -> list[dict[str, Any]]:
    """The engine's issues with a source (empty when it compiles)."""
    try:
        compile_text(source, source_format, f"definition.{source_format}")
    except DefinitionError as error:
        return _issues_of(error)
    return []


def save_draft(db: Database, request: Request, source: str, source_format: str = "yaml",
               *, key: str | None = None) -> VersionInfo:
    """Store `source` as the draft of its ticket type (replacing an earlier draft).

    `key`, when given (the draft's URL), must be the ticket type the source declares.
    A draft may still have issues — it is work in progress — and they are returned.
    """
    if not policy.can_manage_definitions(request.actor):
        raise Forbidden("only administrators may change definitions")
    with db.write() as session:
        return save_draft_in(session, request, source, source_format, key=key)[0]


def save_draft_in(session: Session, request: Request, source: str, source_format: str = "yaml",
                  *, key: str | None = None
                  ) -> tuple[VersionInfo, Definition, DefinitionVersion]:
    """`save_draft` inside the caller's transaction (templates, imports)."""
    if not policy.can_manage_definitions(request.actor):
        raise Forbidden("only administrators may change definitions")
    key, declared = _header(source, source_format, key)
    issues = validate_source(source, source_format)
    definition = _definition_for_update(session, key, request.now)
    draft = session.scalar(select(DefinitionVersion).where(
        DefinitionVersion.definition_id == definition.id,
        DefinitionVersion.status == VersionStatus.DRAFT))
    if draft is None:
        draft = DefinitionVersion(definition_id=definition.id, status=VersionStatus.DRAFT,
                                  created_at=request.now, created_by=request.actor.user_id)
        session.add(draft)
    # Drafts carry version 0 (one draft per type); publishing numbers them.
    draft.version = 0
    draft.source = source
    draft.source_format = source_format
    session.flush()
    record(session, request, EventKind.DEFINITION_SAVED,
           {"ticket_type": key, "version": declared, "issues": len(issues)})
    info = VersionInfo(key, declared, draft.status, source_format, draft.created_at, None,
                       tuple(issues))
    return info, definition, draft


def publish(db: Database, request: Request, key: str) -> VersionInfo:
    """Publish the draft of `key` as a new immutable version."""
    if not policy.can_manage_definitions(request.actor):
        raise Forbidden("only administrators may publish definitions")
    with db.write() as session:
        definition, version = publish_in(session, request, key)
        return replace(_info(definition, version), warnings=tuple(team_warnings(
            session, version.source, version.source_format)))


def publish_in(session: Session, request: Request, key: str
               ) -> tuple[Definition, DefinitionVersion]:
    """`publish` inside the caller's transaction (templates, imports)."""
    if not policy.can_manage_definitions(request.actor):
        raise Forbidden("only administrators may publish definitions")
    definition, draft = _with_draft(session, key, "to publish")
    try:
        name = f"{key}.{draft.source_format}"
        ticket_type = compile_text(draft.source, draft.source_format, name)
    except DefinitionError as error:
        raise Invalid(f"'{key}' has problems; nothing was published",
                      details=_issues_of(error)) from None
    latest = _latest_version_number(session, definition.id)
    if ticket_type.version <= latest:
        raise Conflict(f"version {latest} of '{key}' is already published; "
                       f"set version: {latest + 1} to publish a new one")
    _claim_prefix(session, definition, ticket_type.number_prefix)
    draft.status = VersionStatus.PUBLISHED
    draft.version = ticket_type.version
    draft.published_at = request.now
    session.flush()
    record(session, request, EventKind.DEFINITION_PUBLISHED,
           {"ticket_type": key, "version": ticket_type.version})
    return definition, draft


def _draft_of(session: Session, key: str) -> DefinitionVersion | None:
    """The draft of the ticket type `key` (None: no such type, or no draft)."""
    return session.scalar(select(DefinitionVersion).join(Definition).where(
        Definition.key == key, DefinitionVersion.status == VersionStatus.DRAFT))


def _with_draft(session: Session, key: str, purpose: str = ""
                ) -> tuple[Definition, DefinitionVersion]:
    """The ticket type `key` and its draft (404 when either is missing)."""
    draft = _draft_of(session, key)
    if draft is None:
        raise NotFound(f"there is no draft of '{key}'" + (f" {purpose}" if purpose else ""))
    return draft.definition, draft


def discard_draft(db: Database, request: Request, key: str) -> bool:
    """Throw the draft of `key` away: what is published stays as it is. A type that was
    never published goes with its draft. Returns whether the type remains."""
    if not policy.can_manage_definitions(request.actor):
        raise Forbidden("only administrators may change definitions")
    with db.write() as session:
        definition, draft = _with_draft(session, key)
        session.delete(draft)
        session.flush()
        remains = _latest_version_number(session, definition.id) > 0
        if not remains:
            session.delete(definition)
        record(session, request, EventKind.DEFINITION_DRAFT_DISCARDED, {"ticket_type": key})
        return remains


def install(db: Database, request: Request, source: str, source_format: str = "yaml"
            ) -> VersionInfo:
    """Save and publish in one transaction (templates, the demo, imports)."""
    if not policy.can_manage_definitions(request.actor):
        raise Forbidden("only administrators may change definitions")
    with db.write() as session:
        definition, version = install_in(session, request, source, source_format)
        return replace(_info(definition, version), warnings=tuple(team_warnings(
            session, source, source_format)))


def team_warnings(session: Session, source: str, source_format: str) -> list[dict[str, Any]]:
    """Located warnings for the teams a definition routes or escalates to that this
    installation lacks: its tickets would wait unrouted, its escalations could not move
    them — better told when publishing than found by the worker at 3 a.m."""
    name = f"definition.{source_format}"
    ticket_type = compile_text(source, source_format, name)
    wanted = [(rule.pointer + "/team", rule.team) for rule in ticket_type.assignment_rules]
    if ticket_type.sla_policy is not None:
        wanted += [(step.pointer + "/reassign_to", step.reassign_to)
                   for step in ticket_type.sla_policy.escalations if step.reassign_to]
    known = set(session.scalars(select(Team.key)))
    missing = [(pointer, team) for pointer, team in wanted if team not in known]
    if not missing:
        return []
    located = parse_text(source, name, json_format=source_format == "json").map
    return [{**located.issue(IssueCode.UNKNOWN_TEAM,
                             f"there is no team '{team}' in this installation yet; add it "
                             "before tickets need it", pointer).to_dict(),
             "severity": "warning"} for pointer, team in missing]


def install_in(session: Session, request: Request, source: str, source_format: str = "yaml"
               ) -> tuple[Definition, DefinitionVersion]:
    """`install` inside the caller's transaction: nothing is kept when it is refused."""
    info, _definition, _draft = save_draft_in(session, request, source, source_format)
    if info.issues:
        raise Invalid(f"'{info.key}' has problems; nothing was published",
                      details=list(info.issues))
    return publish_in(session, request, info.key)


def latest_source(session: Session, key: str) -> DefinitionVersion | None:
    """The newest published version of `key` (None: not installed)."""
    return session.scalar(
        select(DefinitionVersion).join(Definition)
        .where(Definition.key == key, DefinitionVersion.status == VersionStatus.PUBLISHED)
        .order_by(DefinitionVersion.version.desc()).limit(1))


def _definition_for_update(session: Session, key: str, now: datetime) -> Definition:
    definition = session.scalar(select(Definition).where(Definition.key == key))
    if definition is None:
        definition = Definition(key=key, number_prefix="", next_number=1, created_at=now)
        session.add(definition)
        session.flush()
    return definition


def _latest_version_number(session: Session, definition_id: int) -> int:
    latest = session.scalar(select(func.max(DefinitionVersion.version)).where(
        DefinitionVersion.definition_id == definition_id,
        DefinitionVersion.status == VersionStatus.PUBLISHED))
    return latest or 0


def _claim_prefix(session: Session, definition: Definition, prefix: str) -> None:
    # Ticket numbers are unique across types, so two types may not share a prefix.
    other = session.scalar(select(Definition.key).where(
        Definition.number_prefix == prefix, Definition.id != definition.id))
    if other is not None:
        raise Conflict(f"the number prefix {prefix} is already used by '{other}'")
    definition.number_prefix = prefix


def list_definitions(db: Database, request: Request) -> list[dict[str, Any]]:
    """Every ticket type with its newest published version, and whether a draft exists."""
    with db.read() as session:
        rows = session.scalars(select(Definition).order_by(Definition.key)).all()
        result = []
        for definition in rows:
            published = [v for v in definition.versions if v.status == VersionStatus.PUBLISHED]
            has_draft = any(v.status == VersionStatus.DRAFT for v in definition.versions)
            if not published and not policy.can_read_definitions(request.actor):
                continue
            entry: dict[str, Any] = {"key": definition.key, "number_prefix":
                                     definition.number_prefix, "draft": has_draft}
            if published:
                ticket_type = compiled_version(session, published[-1].id).ticket_type
                entry.update(version=published[-1].version,
                             name=ticket_type.name.text(request.actor.language))
            result.append(entry)
        return result


def get_source(db: Database, request: Request, key: str, version: int | None = None,
               draft: bool = False) -> tuple[VersionInfo, str]:
    """The source of a published version (default: the newest) or of the draft."""
    if not policy.can_read_definitions(request.actor):
        raise NotFound(f"there is no ticket type '{key}'")
    with db.read() as session:
        query = select(DefinitionVersion).join(Definition).where(Definition.key == key)
        if draft:
            query = query.where(DefinitionVersion.status == VersionStatus.DRAFT)
        else:
            query = query.where(DefinitionVersion.status == VersionStatus.PUBLISHED)
            if version is not None:
                query = query.where(DefinitionVersion.version == version)
        row = session.scalar(query.order_by(DefinitionVersion.version.desc()).limit(1))
        if row is None:
            raise NotFound(f"there is no {'draft' if draft else 'version'} of '{key}'")
        return _info(row.definition, row), row.source


def diff_versions(db: Database, request: Request, key: str, before: int | None = None,
                  after: int | None = None) -> tuple[int, int, list[Change]]:
    """The semantic changes between two published versions of `key` (default: the one
    before the newest, and the newest)."""
    if not policy.can_read_definitions(request.actor):
        raise NotFound(f"there is no ticket type '{key}'")
    with db.read() as session:
        rows = {row.version: row for row in session.scalars(
            select(DefinitionVersion).join(Definition)
            .where(Definition.key == key, DefinitionVersion.status == VersionStatus.PUBLISHED))}
        if not rows:
            raise NotFound(f"there is no ticket type '{key}'")
        newest = max(rows)
        after = newest if after is None else after
        before = max((v for v in rows if v < after), default=after) if before is None \
            else before
        for wanted in (before, after):
            if wanted not in rows:
                raise NotFound(f"'{key}' has no published version {wanted}")
        compiled = [compile_text(rows[v].source, rows[v].source_format, f"{key}@{v}")
                    for v in (before, after)]
        return before, after, diff(*compiled)


# --- the designer's questions ----------------------------------------------------------


@dataclass(frozen=True)
class DraftCheck:
    """A source being edited, as the designer shows it: the engine's located issues, or
    the compiled ticket type with its changes against the newest published version and
    the teams it names that this installation lacks."""

    issues: tuple[dict[str, Any], ...]
    ticket_type: TicketType | None = None  # None: it does not compile
    published: int | None = None  # the newest published version compared against
    changes: tuple[Change, ...] = ()  # against it, but for the version number
    warnings: tuple[dict[str, Any], ...] = ()
    # The text as data when it reads but does not compile (what a form can still offer)
    read: dict[str, Any] | None = None

    @property
    def publishable(self) -> bool:
        return self.ticket_type is not None and not self.issues

    def steps(self, language: str) -> list[tuple[str, str, bool, bool]]:
        """The steps (id, label, initial, final) the text names: the compiled type's,
        or, when the text has problems (a step just added, nothing leading there yet),
        what the text says."""
        if self.ticket_type is not None:
            return [(s.id, s.label.text(language), s.initial, s.final)
                    for s in self.ticket_type.states]
        found = []
        for state in (self.read or {}).get("states") or ():
            if isinstance(state, dict) and isinstance(state.get("id"), str):
                label = state.get("label")
                text = (label.get(language) or label.get("en") if isinstance(label, dict)
                        else label) or state["id"]
                found.append((state["id"], str(text), bool(state.get("initial")),
                              bool(state.get("final"))))
        return found

    def roles(self) -> list[str]:
        """The roles the text's transitions may name: the built-in ones and its own."""
        if self.ticket_type is not None:
            return sorted(self.ticket_type.roles)
        custom = [role["id"] for role in (self.read or {}).get("roles") or ()
                  if isinstance(role, dict) and isinstance(role.get("id"), str)]
        return sorted({*BUILTIN_ROLES, *custom})


def check_draft(db: Database, request: Request, key: str, source: str,
                source_format: str = "yaml") -> DraftCheck:
    """What publishing `source` as the next version of `key` would meet, without storing
    anything: every issue the engine finds, a version number that is not newer than the
    published one, a key other than `key`."""
    if not policy.can_manage_definitions(request.actor):
        raise Forbidden("only administrators may change definitions")
    try:
        _header(source, source_format, key)
    except Invalid as refused:
        return DraftCheck(tuple(refused.details))
    issues = validate_source(source, source_format)
    if issues:
        data = parse_text(source, f"definition.{source_format}",
                          json_format=source_format == "json").data
        return DraftCheck(tuple(issues), read=data if isinstance(data, dict) else None)
    ticket_type = compile_text(source, source_format, f"definition.{source_format}")
    with db.read() as session:
        latest = latest_source(session, key)
        warnings = tuple(team_warnings(session, source, source_format))
    if latest is None:
        return DraftCheck((), ticket_type, warnings=warnings)
    before = compile_text(latest.source, latest.source_format, f"{key}@{latest.version}")
    changes = _changes(before, ticket_type)
    if ticket_type.version > latest.version:
        return DraftCheck((), ticket_type, latest.version, changes, warnings)
    located = parse_text(source, f"definition.{source_format}",
                         json_format=source_format == "json").map
    stale = located.issue(IssueCode.VERSION_NOT_NEWER,
                          f"version {latest.version} is published; publishing this needs "
                          f"version: {latest.version + 1}", "/version").to_dict()
    return DraftCheck((stale,), ticket_type, latest.version, changes, warnings)


def _changes(before: TicketType, after: TicketType) -> tuple[Change, ...]:
    """What changed from one version to the next; the version number's own change goes
    without saying."""
    return tuple(change for change in diff(before, after)
                 if (change.area, change.attribute) != ("definition", "version"))


@dataclass(frozen=True)
class Editable:
    """A definition's text as the designer opens it."""

    source: str
    source_format: str
    origin: str  # "draft", or "published": a published version renumbered as the next
    based_on: int | None = None  # the published version it was taken from


def editable_source(db: Database, request: Request, key: str,
                    version: int | None = None) -> Editable:
    """What the designer opens for `key`: its draft if there is one, else the newest
    published version; or, when `version` is given, that published version (to start
    again from it). A published text comes with its version number raised above the
    newest, which publishing it needs."""
    if not policy.can_manage_definitions(request.actor):
        raise NotFound(f"there is no ticket type '{key}'")
    with db.read() as session:
        if version is None:
            draft = _draft_of(session, key)
            if draft is not None:
                return Editable(draft.source, draft.source_format, "draft")
        latest = latest_source(session, key)
        chosen = latest if version is None or latest is None else session.scalar(
            select(DefinitionVersion).join(Definition).where(
                Definition.key == key, DefinitionVersion.status == VersionStatus.PUBLISHED,
                DefinitionVersion.version == version))
        if latest is None or chosen is None:
            raise NotFound(f"there is no {'version ' + str(version) + ' of ' if version else ''}"
                           f"ticket type '{key}'")
        # A JSON text comes back as YAML, the only form edited line by line.
        source = with_top_level(chosen.source, {"version": latest.version + 1},
                                f"{key}.{chosen.source_format}")
        return Editable(source, "yaml", "published", chosen.version)


@dataclass(frozen=True)
class PublishedVersion:
    """One published version of a ticket type, with what it changed."""

    version: int
    published_at: datetime | None
    changes: tuple[Change, ...]  # against the version before it
    first: bool = False  # no version before it


def version_history(db: Database, request: Request, key: str,
                    limit: int = 10) -> list[PublishedVersion]:
    """The newest `limit` published versions of `key`, newest first, each with its
    changes against the one before."""
    if not policy.can_manage_definitions(request.actor):
        raise NotFound(f"there is no ticket type '{key}'")
    with db.read() as session:
        rows = session.scalars(
            select(DefinitionVersion).join(Definition)
            .where(Definition.key == key, DefinitionVersion.status == VersionStatus.PUBLISHED)
            .order_by(DefinitionVersion.version.desc()).limit(limit + 1)).all()
    compiled = [compile_text(row.source, row.source_format, f"{key}@{row.version}")
                for row in rows]
    history = []
    for index, row in enumerate(rows[:limit]):
        before = compiled[index + 1] if index + 1 < len(rows) else None
        changes = () if before is None else _changes(before, compiled[index])
        history.append(PublishedVersion(row.version, row.published_at, changes,
                                        first=before is None))
    return history


def start(db: Database, request: Request, key: str, name: str, prefix: str) -> VersionInfo:
    """A new ticket type `key`, as a draft of the smallest useful definition (`skeleton`);
    409 when the key is taken."""
    if not policy.can_manage_definitions(request.actor):
        raise Forbidden("only administrators may change definitions")
    source = skeleton(key, name, prefix)
    with db.write() as session:
        if session.scalar(select(Definition.id).where(Definition.key == key)) is not None:
            raise Conflict(f"a ticket type '{key}' exists already", code="ticket-type-exists")
        return save_draft_in(session, request, source, key=key)[0]


def publish_source(db: Database, request: Request, key: str, source: str,
                   source_format: str = "yaml") -> tuple[DraftCheck, VersionInfo | None]:
    """Save `source` as the draft of `key`, then publish it when it can be: the check, and
    the version published (None: refused for the check's issues). The text is saved
    first either way, so a refusal loses none of it; a number prefix another type uses
    is a 409 after the save."""
    check = check_draft(db, request, key, source, source_format)
    try:
        save_draft(db, request, source, source_format, key=key)
    except Invalid:
        if check.publishable:
            raise
        return check, None  # not even fileable as a draft: the check says why
    if not check.publishable:
        return check, None
    return check, publish(db, request, key)


def skeleton(key: str, name: str, prefix: str) -> str:
    """The source of a new, smallest useful ticket type: a title and a description, opened,
    worked on and closed (the designer's "new ticket type", to be grown from there)."""
    quoted = {"name": name, "prefix": prefix}
    for label, text in quoted.items():
        if not text.strip() or any(ch in text for ch in "\n\r"):
            raise Invalid("a new ticket type needs a name and a number prefix",
                          details=[{"field": label, "code": "required",
                                    "message": f"the {label} is missing"}])
    return (f"ticket_type: {key}\nversion: 1\nname: {_yaml_text(name)}\n"
            f"number_prefix: {_yaml_text(prefix)}\n"
            "fields:\n"
            "  - {id: title, type: string, label: {en: Title, zh: 标题}, required: true,"
            " max_length: 200}\n"
            "  - {id: description, type: text, label: {en: Description, zh: 描述}}\n"
            "states:\n"
            "  - {id: new, label: {en: New, zh: 新建}, initial: true}\n"
            "  - {id: working, label: {en: In progress, zh: 处理中}}\n"
            "  - {id: closed, label: {en: Closed, zh: 已关闭}, final: true}\n"
            "transitions:\n"
            "  - {id: submit, label: {en: Submit, zh: 提交}, from: new, to: working}\n"
            "  - {id: close, label: {en: Close, zh: 关闭}, from: working, to: closed,"
            " roles: [agent]}\n")


def _yaml_text(text: str) -> str:
    # JSON strings are YAML strings: quoting this way keeps any character as typed.
    return json.dumps(text.strip(), ensure_ascii=False)
