"""The bundled templates: list them, install them, clone them.

A template is a definition file in `templates_library/` (`<name>.yaml`, with its page
`<name>.md` and golden cases `<name>.cases.yaml`). Installing publishes it under its own
ticket type id; doing it again with the same source changes nothing, and a newer bundled
version is offered as an upgrade, published only when asked for. Cloning publishes an
editable copy under a new id and number prefix, recording the template and version it
came from; a clone is an ordinary definition from then on, so upgrading the template
never touches it. Everything goes through the definitions service's validation and
versioned publishing, one transaction per call, with an audit event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.canonical import canonical_text, with_top_level
from engine.cases import read_cases
from engine.errors import DefinitionError, did_you_mean
from engine.model import Label, TicketType
from runtime import policy
from runtime.catalog import compile_text
from runtime.context import Request
from runtime.db import Database
from runtime.models import Definition, EventKind, Team
from runtime.services import definitions
from runtime.services.configuration import (
    LIBRARY,
    install_bundled_calendars,
    referenced_calendars,
    referenced_teams,
)
from runtime.services.errors import Conflict, Forbidden, Invalid, NotFound
from runtime.services.events import record

PREFIX = re.compile(r"[A-Z][A-Z0-9]{0,9}")
CASES_SUFFIX = ".cases.yaml"


class InstallState(StrEnum):
    """How an installation stands against its bundled template."""

    NOT_INSTALLED = "not-installed"
    CURRENT = "current"                      # the bundled version is installed
    UPGRADE_AVAILABLE = "upgrade-available"  # the bundle is newer
    CHANGED = "changed"                      # same version number, different content
    AHEAD = "ahead"                          # the installed type was published further


@dataclass(frozen=True)
class Template:
    """A bundled template, compiled."""

    name: str
    path: Path
    source: str
    ticket_type: TicketType

    @property
    def version(self) -> int:
        return self.ticket_type.version

    @property
    def page(self) -> Path | None:
        page = self.path.with_suffix(".md")
        return page if page.is_file() else None

    @property
    def cases(self) -> Path | None:
        cases = self.path.parent / f"{self.name}{CASES_SUFFIX}"
        return cases if cases.is_file() else None


@dataclass(frozen=True)
class TemplateStatus:
    """A template as the list shows it, with what this installation has of it."""

    name: str
    ticket_type: str
    version: int
    title: Label
    description: Label | None
    number_prefix: str
    state: InstallState
    installed_version: int | None = None
    clones: tuple[dict[str, Any], ...] = ()
    has_page: bool = False
    case_count: int = 0

    def to_dict(self, language: str = "en") -> dict[str, Any]:
        """The JSON shape of the API."""
        return {"name": self.name, "ticket_type": self.ticket_type, "version": self.version,
                "title": self.title.text(language),
                "description": self.description.text(language) if self.description else None,
                "number_prefix": self.number_prefix, "state": str(self.state),
                "installed_version": self.installed_version, "clones": list(self.clones),
                "golden_cases": self.case_count}


@dataclass(frozen=True)
class Outcome:
    """What installing or cloning did."""

    name: str
    key: str
    action: str            # installed, upgraded, unchanged, upgrade-available, cloned, ...
    version: int           # the version now published (or offered)
    previous: int | None = None
    message: str = ""
    calendars: tuple[str, ...] = field(default=())
    missing_teams: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"template": self.name, "ticket_type": self.key, "action": self.action,
                "version": self.version, "previous_version": self.previous,
                "message": self.message, "calendars_added": list(self.calendars),
                "missing_teams": list(self.missing_teams)}


# --- the library -----------------------------------------------------------------------


def _template_paths(library: Path) -> list[Path]:
    return sorted(p for p in library.glob("*.yaml")
                  if not p.name.endswith(CASES_SUFFIX) and p.is_file())


def load_template(path: Path) -> Template:
    """Read and compile one template file (raises `DefinitionError`)."""
    source = path.read_text(encoding="utf-8")
    return Template(path.stem, path, source, compile_text(source, "yaml", str(path)))


def bundled(library: Path = LIBRARY) -> list[Template]:
    """Every template of the library, by name. A broken template is a packaging error,
    reported as one with its located issues."""
    templates, issues = [], []
    for path in _template_paths(library):
        try:
            templates.append(load_template(path))
        except DefinitionError as error:
            issues += [issue.to_dict() for issue in error.issues]
    if issues:
        raise Invalid("the template library has broken templates", details=issues)
    return templates


def find(name: str, library: Path = LIBRARY) -> Template:
    """The template called `name`, or NotFound with a suggestion."""
    names = [path.stem for path in _template_paths(library)]
    if name not in names:
        listed = ", ".join(names) or "none"
        raise NotFound(f"there is no template '{name}'{did_you_mean(name, names)} "
                       f"(templates: {listed})", code="unknown-template")
    return load_template(library / f"{name}.yaml")


# --- status ----------------------------------------------------------------------------


def _same(source_a: str, source_b: str) -> bool:
    # Whitespace, comments and key order are not changes.
    try:
        return canonical_text(source_a) == canonical_text(source_b)
    except DefinitionError:
        return source_a == source_b


def _state(template: Template, installed: int | None, source: str | None) -> InstallState:
    if installed is None or source is None:
        return InstallState.NOT_INSTALLED
    if installed < template.version:
        return InstallState.UPGRADE_AVAILABLE
    if installed > template.version:
        return InstallState.AHEAD
    return InstallState.CURRENT if _same(source, template.source) else InstallState.CHANGED


def _status(session: Session, template: Template) -> TemplateStatus:
    latest = definitions.latest_source(session, template.ticket_type.id)
    clones = session.scalars(select(Definition).where(
        Definition.origin_template == template.name,
        Definition.key != template.ticket_type.id).order_by(Definition.key)).all()
    tt = template.ticket_type
    return TemplateStatus(
        template.name, tt.id, tt.version, tt.name, tt.description, tt.number_prefix,
        _state(template, latest.version if latest else None, latest.source if latest else None),
        latest.version if latest else None,
        tuple({"ticket_type": c.key, "from_version": c.origin_version} for c in clones),
        template.page is not None, _case_count(template))


def _case_count(template: Template) -> int:
    if template.cases is None:
        return 0
    try:
        return len(read_cases(template.cases).cases)
    except DefinitionError:
        return 0


def list_templates(db: Database, request: Request, library: Path = LIBRARY
                   ) -> list[TemplateStatus]:
    """Every bundled template with its version and what this installation has of it."""
    if not policy.can_read_definitions(request.actor):
        raise Forbidden("only staff may see the templates")
    templates = bundled(library)
    with db.read() as session:
        return [_status(session, template) for template in templates]


# --- install ---------------------------------------------------------------------------


def install(db: Database, request: Request, name: str, *, upgrade: bool = False,
            library: Path = LIBRARY) -> Outcome:
    """Install the template `name` under its own id.

    Idempotent: installing the same source again changes nothing. A newer bundled
    version is reported as `upgrade-available` and published only with `upgrade`.
    Clones are never touched.
    """
    if not policy.can_manage_templates(request.actor):
        raise Forbidden("only administrators may install templates")
    template = find(name, library)
    key = template.ticket_type.id
    with db.write() as session:
        latest = definitions.latest_source(session, key)
        definition = session.scalar(select(Definition).where(Definition.key == key))
        if definition is not None and definition.origin_template not in (None, name):
            raise Conflict(f"the ticket type '{key}' was made from the template "
                           f"'{definition.origin_template}', not '{name}'",
                           code="not-from-template")
        state = _state(template, latest.version if latest else None,
                       latest.source if latest else None)
        if state is InstallState.NOT_INSTALLED or (
                state is InstallState.UPGRADE_AVAILABLE and upgrade):
            return _publish_template(session, request, template, latest.version
                                     if latest else None, library)
        return _unchanged(template, state, latest.version if latest else template.version)


def _publish_template(session: Session, request: Request, template: Template,
                      previous: int | None, library: Path) -> Outcome:
    definition, version = definitions.install_in(session, request, template.source)
    definition.origin_template = template.name
    definition.origin_version = template.version
    calendars = install_bundled_calendars(
        session, request, referenced_calendars(template.ticket_type.source), library)
    kind = EventKind.TEMPLATE_INSTALLED if previous is None else EventKind.TEMPLATE_UPGRADED
    record(session, request, kind, {"template": template.name, "ticket_type": definition.key,
                                    "version": version.version, "previous_version": previous,
                                    "calendars_added": calendars})
    action = "installed" if previous is None else "upgraded"
    message = (f"installed '{template.name}' version {version.version} as '{definition.key}'"
               if previous is None else
               f"upgraded '{definition.key}' from version {previous} to {version.version}")
    return Outcome(template.name, definition.key, action, version.version, previous, message,
                   tuple(calendars), _missing_teams(session, template))


def _unchanged(template: Template, state: InstallState, installed: int) -> Outcome:
    key = template.ticket_type.id
    messages = {
        InstallState.CURRENT: f"'{key}' already has version {installed} of the template; "
                              "nothing changed",
        InstallState.UPGRADE_AVAILABLE: f"'{key}' has version {installed}; the template is at "
                                        f"version {template.version} — install with upgrade "
                                        "to publish it (clones are not touched)",
        InstallState.CHANGED: f"'{key}' version {installed} differs from the template's "
                              "version of the same number (it was changed here); nothing "
                              "changed — clone the template to get its version",
        InstallState.AHEAD: f"'{key}' is at version {installed}, past the template's "
                            f"version {template.version}; nothing changed",
    }
    action = {InstallState.CURRENT: "unchanged"}.get(state, str(state))
    return Outcome(template.name, key, action, installed, installed, messages[state])


# --- clone -----------------------------------------------------------------------------


def _default_prefix(session: Session, key: str) -> str:
    letters = re.sub(r"[^A-Z0-9]", "", key.upper()).lstrip("0123456789") or "T"
    base = letters[:6]
    taken = set(session.scalars(select(Definition.number_prefix)))
    if base not in taken:
        return base
    for number in range(2, 1000):
        candidate = f"{base[:10 - len(str(number))]}{number}"
        if candidate not in taken:
            return candidate
    raise Conflict(f"no free number prefix for '{key}'; give one")


def _check_clone_names(new_key: str, prefix: str | None) -> None:
    details = []
    if not definitions.KEY.fullmatch(new_key):
        details.append({"field": "as", "code": "bad-key", "message":
                        "a ticket type id is lower case letters, digits, _ and - "
                        "(at most 63, starting with a letter)"})
    if prefix is not None and not PREFIX.fullmatch(prefix):
        details.append({"field": "prefix", "code": "bad-prefix", "message":
                        "a number prefix is A-Z and 0-9, at most 10, starting with a letter"})
    if details:
        raise Invalid("the clone cannot be made under these names", details=details)


def clone(db: Database, request: Request, name: str, new_key: str, *,
          prefix: str | None = None, title: dict[str, str] | None = None,
          library: Path = LIBRARY) -> Outcome:
    """Publish an editable copy of the template `name` as ticket type `new_key` (version
    1), with its own number prefix (default: derived from the id) and optionally its own
    name. Refused when `new_key` exists."""
    if not policy.can_manage_templates(request.actor):
        raise Forbidden("only administrators may clone templates")
    _check_clone_names(new_key, prefix)
    template = find(name, library)
    with db.write() as session:
        if session.scalar(select(Definition.id).where(Definition.key == new_key)) is not None:
            raise Conflict(f"a ticket type '{new_key}' exists already; choose another id",
                           code="ticket-type-exists")
        chosen = prefix or _default_prefix(session, new_key)
        changes: dict[str, Any] = {"ticket_type": new_key, "version": 1,
                                   "number_prefix": chosen}
        if title:
            changes["name"] = title
        header = (f"# Cloned from the template '{name}' version {template.version} as "
                  f"'{new_key}'.\n")
        source = with_top_level(template.source, changes, str(template.path), header)
        definition, version = definitions.install_in(session, request, source)
        definition.origin_template = template.name
        definition.origin_version = template.version
        calendars = install_bundled_calendars(
            session, request, referenced_calendars(template.ticket_type.source), library)
        record(session, request, EventKind.TEMPLATE_CLONED,
               {"template": name, "template_version": template.version,
                "ticket_type": new_key, "number_prefix": chosen, "calendars_added": calendars})
        return Outcome(name, new_key, "cloned", version.version, None,
                       f"cloned '{name}' version {template.version} as '{new_key}' "
                       f"(numbers {chosen}-000001, ...)", tuple(calendars),
                       _missing_teams(session, template))


def _missing_teams(session: Session, template: Template) -> tuple[str, ...]:
    """Teams the template routes to that this installation does not have yet."""
    wanted = referenced_teams(template.ticket_type.source)
    present = set(session.scalars(select(Team.key).where(Team.key.in_(sorted(wanted)))))
    return tuple(sorted(wanted - present))
