"""`ticketflow templates | export | import | diff | test`: the template library, definitions
in git, semantic diffs and golden cases from the command line.

Thin wrappers like the rest of the CLI: parse, call the engine or a service, print.
Commands that change the database act as an administrator: `--user NAME`, default the
first active administrator (by id), so every change has a name in the audit log.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine.errors import DefinitionError

if TYPE_CHECKING:
    from runtime.context import Request
    from runtime.db import Database

USER_OPTION = click.option("--user", "acting", metavar="NAME",
                           help="The administrator to act as (default: the first one).")


def _base() -> Any:
    from runtime import cli

    return cli


@contextmanager
def _admin_session(acting: str | None) -> Iterator[tuple[Database, Request]]:
    """The configured database and a request as an administrator."""
    from sqlalchemy import select

    from runtime.models import Role, User

    base = _base()
    with base._open_database() as (_settings, database), base._failures():
        username = acting
        if username is None:
            with database.read() as session:
                username = session.scalar(select(User.username).where(
                    User.role == str(Role.ADMIN), User.active).order_by(User.id).limit(1))
            if username is None:
                raise click.ClickException(
                    "there is no administrator; create one with "
                    "`ticketflow users create NAME --role admin` or pass --user NAME")
        yield database, base._acting_as(database, username, base._now())


def _print_details(details: list[dict[str, Any]]) -> None:
    """Issues as `file:line:col: /pointer: message [code]`, other details as given."""
    for item in details:
        if "pointer" in item or "file" in item:
            where = item.get("file") or "<definition>"
            if item.get("line"):
                where += f":{item['line']}:{item.get('column') or 1}"
            click.echo(f"{where}: {item.get('pointer') or '/'}: {item['message']} "
                       f"[{item['code']}]", err=True)
        else:
            click.echo(f"{item.get('field', '')}: {item['message']} [{item['code']}]", err=True)


@contextmanager
def _service_errors() -> Iterator[None]:
    """A refused service call: its message and every detail, exit 1."""
    from runtime.services.errors import ServiceError

    try:
        yield
    except ServiceError as error:
        _print_details(error.details)
        raise click.ClickException(error.message) from None


# --- templates -------------------------------------------------------------------------


@click.group()
def templates() -> None:
    """The bundled templates: list, install, clone."""


@templates.command("list")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "zh"]))
def templates_list(lang: str) -> None:
    """Bundled templates, their version and what this installation has of them."""
    from runtime.services import templates as service

    with _admin_session(None) as (database, request), _service_errors():
        listed = service.list_templates(database, request)
    for status in listed:
        installed = (f"installed v{status.installed_version}" if status.installed_version
                     else "not installed")
        state = "" if status.state in ("current", "not-installed") else f" ({status.state})"
        click.echo(f"{status.name:<20} v{status.version}  {status.number_prefix:<5} "
                   f"{installed}{state}  {status.title.text(lang)}")
        for clone in status.clones:
            click.echo(f"{'':<20} clone: {clone['ticket_type']} (from v{clone['from_version']})")


@templates.command("install")
@click.argument("name")
@click.option("--upgrade", is_flag=True, help="Publish a newer bundled version.")
@USER_OPTION
def templates_install(name: str, upgrade: bool, acting: str | None) -> None:
    """Install the template NAME (again: nothing changes; a newer one: with --upgrade)."""
    from runtime.services import templates as service

    with _admin_session(acting) as (database, request), _service_errors():
        outcome = service.install(database, request, name, upgrade=upgrade)
    click.echo(outcome.message)
    _note_teams(outcome)


@templates.command("clone")
@click.argument("name")
@click.option("--as", "new_id", required=True, metavar="NEW_ID",
              help="The id of the copy (lower case, digits, _ and -).")
@click.option("--prefix", help="Its ticket number prefix (default: from the id).")
@click.option("--name-en", help="Its English name (default: the template's).")
@click.option("--name-zh", help="Its Chinese name (default: the template's).")
@USER_OPTION
def templates_clone(name: str, new_id: str, prefix: str | None, name_en: str | None,
                    name_zh: str | None, acting: str | None) -> None:
    """Publish an editable copy of the template NAME as NEW_ID."""
    from runtime.services import templates as service

    title = {lang: text for lang, text in (("en", name_en), ("zh", name_zh)) if text}
    with _admin_session(acting) as (database, request), _service_errors():
        outcome = service.clone(database, request, name, new_id, prefix=prefix,
                                title=title or None)
    click.echo(outcome.message)
    _note_teams(outcome)


def _note_teams(outcome: Any) -> None:
    if outcome.missing_teams:
        click.echo(f"note: it routes to teams this installation does not have yet: "
                   f"{', '.join(outcome.missing_teams)} (`ticketflow teams create KEY NAME`)",
                   err=True)


# --- export / import -------------------------------------------------------------------


@click.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@USER_OPTION
def export_command(folder: Path, acting: str | None) -> None:
    """Write every published definition (and the teams and calendars they refer to) to
    FOLDER, one canonical file each, ready for git."""
    from runtime.services import transfer

    with _admin_session(acting) as (database, request), _service_errors():
        report = transfer.export(database, request, folder)
    for name in report.written:
        click.echo(f"wrote {folder / name}")
    click.echo(f"{len(report.written)} file(s) written, {len(report.unchanged)} unchanged "
               f"in {folder}", err=True)


@click.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and print the plan; write nothing.")
@USER_OPTION
def import_command(folder: Path, dry_run: bool, acting: str | None) -> None:
    """Check every file of FOLDER (and its golden cases), then import all of it in one
    transaction — or nothing, with every problem listed as file:line."""
    from runtime.services import transfer

    with _admin_session(acting) as (database, request), _service_errors():
        plan = transfer.import_folder(database, request, folder, dry_run=dry_run)
    for item in plan.items:
        click.echo(item.render())
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    changed = len(plan.changes)
    click.echo(("dry run: would change " if dry_run else "imported: changed ")
               + f"{changed} of {len(plan.items)} item(s)", err=True)


# --- diff and golden cases -------------------------------------------------------------


def _compiled(reference: str) -> Any:
    """A definition file, or an installed type `key` / `key@version`."""
    from engine.compile import load

    base = _base()
    path = Path(reference)
    if path.exists():
        try:
            return load(path)
        except DefinitionError as error:
            base._print_issues(error.issues)
            sys.exit(2)
    key, _, version = reference.partition("@")
    from runtime.catalog import compile_text
    from runtime.services import definitions

    with _admin_session(None) as (database, request), _service_errors():
        info, source = definitions.get_source(database, request, key,
                                              int(version) if version.isdigit() else None)
    return compile_text(source, info.source_format, f"{key}@{info.version}")


@click.command("diff")
@click.argument("before")
@click.argument("after")
def diff_command(before: str, after: str) -> None:
    """Print what changed from BEFORE to AFTER: fields, states, branches, rules, SLA targets.
    Each is a definition file or an installed type (`repair`, `repair@2`). Exit 0 when they
    are the same, 1 when they differ, 2 when one cannot be read."""
    from engine.diff import diff, render

    try:
        changes = diff(_compiled(before), _compiled(after))
    except click.ClickException as error:
        error.show()
        sys.exit(2)  # like diff(1): trouble is 2, differences are 1
    click.echo(render(changes))
    sys.exit(1 if changes else 0)


def _case_files(paths: tuple[str, ...]) -> list[Path]:
    from engine.cases import CASES_SUFFIX

    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob(f"*{CASES_SUFFIX}") if p.is_file())
        elif path.name.endswith(CASES_SUFFIX):
            found.append(path)
        else:
            sibling = path.with_name(path.name.rsplit(".", 1)[0] + CASES_SUFFIX)
            found.append(sibling)
    return found


@cache
def _calendars(folder: Path) -> Any:
    """The calendars cases in `folder` may name (read once per folder and run)."""
    from engine.case_hooks import case_calendars
    from runtime.cli_outlook import CALENDARS

    return case_calendars(folder, CALENDARS)


def _run_case_file(path: Path) -> Any:
    """Run one cases file with routing and SLA checks; its calendars are those in a
    `calendars/` folder beside it over the bundled ones."""
    from engine.case_hooks import engine_extensions
    from engine.cases import Report, definition_path, read_cases, run_file
    from engine.compile import load

    try:
        case_file = read_cases(path)
        ticket_type = load(definition_path(path, case_file))
        calendars = _calendars(path.parent.resolve())
    except DefinitionError as error:
        return Report(str(path), issues=error.issues)
    return Report(str(path), tuple(run_file(ticket_type, case_file,
                                            engine_extensions(calendars))))


@click.command("test")
@click.argument("paths", nargs=-1, required=True)
def test_command(paths: tuple[str, ...]) -> None:
    """Run the golden cases (`<name>.cases.yaml`) in folders or files against their
    definitions. Exit 1 with a readable difference when a case does not hold."""
    from engine.cases import render

    files = _case_files(paths)
    if not files:
        raise click.ClickException("no golden cases (*.cases.yaml) found")
    reports = [_run_case_file(path) for path in files]
    for report in reports:
        click.echo(render(report))
    cases = sum(len(report.results) for report in reports)
    failed = sum(1 for report in reports for result in report.results if not result.passed)
    broken = sum(1 for report in reports if report.issues)
    click.echo(f"{cases} case(s) in {len(reports)} file(s): {cases - failed} passed, "
               f"{failed} failed" + (f", {broken} file(s) could not run" if broken else ""),
               err=True)
    sys.exit(1 if failed or broken else 0)


# --- tickets as a file ----------------------------------------------------------------


@click.group("tickets")
def tickets_group() -> None:
    """Tickets."""


def _instant_option(name: str, help_text: str) -> Any:
    def parse(_context: Any, _param: Any, value: str | None) -> Any:
        from zoneinfo import ZoneInfo

        from runtime.config import Settings
        from runtime.context import instant_or_day

        if value is None:
            return None
        try:
            return instant_or_day(value, ZoneInfo(Settings.from_env().timezone))
        except ValueError as error:
            raise click.BadParameter(f"{value!r} {error}") from None
    return click.option(name, metavar="WHEN", callback=parse, help=help_text)


@tickets_group.command("export")
@click.option("--format", "export_format", type=click.Choice(["csv", "jsonl"]),
              default="csv", show_default=True,
              help="CSV for spreadsheets, JSON Lines (one API ticket a line) for programs.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: standard output).")
@click.option("--type", "ticket_type", metavar="KEY", help="Only this ticket type.")
@click.option("--state", metavar="ID", help="Only tickets in this state.")
@click.option("--team", metavar="KEY", help="Only this team's tickets (`none`: no team).")
@click.option("--assignee", metavar="NAME", help="Only this agent's (`none`: unassigned).")
@click.option("--open/--closed", "is_open", default=None, help="Only open or closed ones.")
@_instant_option("--from", "Created at or after: a date (midnight on TICKETFLOW_TIMEZONE's "
                 "clock) or an ISO 8601 instant with its offset.")
@_instant_option("--before", "Created before: a date or an instant, as --from.")
@click.option("--user", "acting", metavar="NAME",
              help="The supervisor or administrator whose view to export (default: the "
                   "first administrator).")
def tickets_export(export_format: str, output: Path | None, ticket_type: str | None,
                   state: str | None, team: str | None, assignee: str | None,
                   is_open: bool | None, acting: str | None, **created: Any) -> None:
    """Every ticket USER may see that matches the filters, oldest first, as one file; the
    export is recorded in the audit log."""
    from zoneinfo import ZoneInfo

    from runtime.config import Settings
    from runtime.services import exports
    from runtime.services.tickets import Filters

    filters = Filters(ticket_type=ticket_type, state=state, team=team, assignee=assignee,
                      open=is_open, created_from=created["from"],
                      created_before=created["before"])
    with _admin_session(acting) as (database, request), _service_errors():
        exported = exports.export_tickets(
            database, request, filters, exports.ExportFormat(export_format),
            zone=ZoneInfo(Settings.from_env().timezone))
        with click.open_file(str(output) if output else "-", "wb") as stream:
            for chunk in exported.chunks:
                stream.write(chunk)
    if output is not None:
        click.echo(f"wrote {output}", err=True)


def register(group: click.Group) -> None:
    """Add these commands to the `ticketflow` group."""
    for command in (templates, export_command, import_command, diff_command, test_command,
                    tickets_group):
        group.add_command(command)
