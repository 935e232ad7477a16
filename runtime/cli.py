"""The `ticketflow` command line: thin wrappers that parse arguments, call the engine or
the services, and print results. No rule lives here.

Commands that touch the database read `DATABASE_URL` (default: SQLite in the instance
folder, `TICKETFLOW_INSTANCE` or ./instance). The CLI is an edge: it reads the real clock
and hands the instant down. A failure is one line on stderr and exit status 1, never a
traceback. Runtime modules are imported inside the commands that need them, so the
engine's commands (validate, schema, simulate) start without Flask or SQLAlchemy.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine.calendar_compile import is_calendar_file, load_calendar
from engine.compile import load
from engine.errors import DefinitionError, Issue, IssueCode
from engine.source import read_file as read_source
from runtime.cli_worker import worker as worker_command

if TYPE_CHECKING:
    from runtime.config import Settings
    from runtime.context import Request
    from runtime.db import Database
    from runtime.demo import DemoReport

DEFINITION_SUFFIXES = (".yaml", ".yml", ".json")


def _definition_files(paths: Sequence[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*")
                if p.suffix.lower() in DEFINITION_SUFFIXES and p.is_file()
                and not p.name.endswith(".cases.yaml") and _looks_like_definition(p)
            )
        else:
            yield path


def _looks_like_definition(path: Path) -> bool:
    # Folders also hold golden cases and example data; a definition names its ticket type.
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return True
    return "ticket_type" in head or is_calendar_file(path)


def _print_issues(issues: Sequence[Issue]) -> None:
    for issue in issues:
        click.echo(issue.render())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """ticketflow: ticket types as definitions, and the system that runs them."""


@cli.command()
@click.argument("paths", nargs=-1, required=True)
def validate(paths: tuple[str, ...]) -> None:
    """Check definition and calendar files (or folders of them); print every problem as
    file:line:col: /pointer: message [code]. Exit 0 when all are valid, 1 otherwise."""
    files = list(_definition_files(paths))
    failed = 0
    for path in files:
        try:
            (load_calendar if is_calendar_file(path) else load)(path)
        except DefinitionError as error:
            failed += 1
            _print_issues(error.issues)
    if not files:
        click.echo("no definition files found", err=True)
        sys.exit(1)
    click.echo(f"{len(files)} file(s) checked, {failed} with problems", err=True)
    sys.exit(1 if failed else 0)


def _load_or_exit(path: str) -> Any:
    try:
        return load(path)
    except DefinitionError as error:
        _print_issues(error.issues)
        sys.exit(1)


@cli.command()
@click.argument("path")
@click.option("--transition", help="Describe this transition's step form instead of intake.")
@click.option("--ui", is_flag=True, help="Print the UI description instead of the schema.")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "zh"]))
def schema(path: str, transition: str | None, ui: bool, lang: str) -> None:
    """Print the JSON Schema (draft 2020-12) a form of the definition compiles to."""
    from engine.formschema import json_schema, ui_description

    ticket_type = _load_or_exit(path)
    form = None
    if transition is not None:
        if transition not in ticket_type.transition_by_id:
            click.echo(f"{path}: unknown transition '{transition}'", err=True)
            sys.exit(1)
        form = ticket_type.transition_by_id[transition].form
    document = (ui_description if ui else json_schema)(ticket_type, form=form, language=lang)
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


def _read_data(path: str) -> Any:
    """Simulation data: JSON or YAML, read with the same safe reader as definitions."""
    try:
        return read_source(path).data
    except DefinitionError as error:
        # The reader's codes describe a definition; for data only the location matters.
        _print_issues([i.at(code=IssueCode.BAD_VALUE) if i.code is IssueCode.BAD_VALUE else i
                       for i in error.issues])
        sys.exit(1)


@cli.command()
@click.argument("path")
@click.option("--data", "data_path", required=True,
              help="JSON/YAML: field values (automatic path) or {create: ..., steps: [...]}.")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "zh"]))
@click.option("--candidates", "candidates_path",
              help="JSON/YAML {teams: {team: [agents]}, pointers: {team: agent}}: show routing.")
@click.option("--created-at", help="RFC 3339 instant of creation: show the SLA clocks.")
@click.option("--calendar", "calendar_path", help="A calendar file (default: the bundled one "
              "the definition names).")
def simulate(path: str, data_path: str, lang: str, candidates_path: str | None,
             created_at: str | None, calendar_path: str | None) -> None:
    """Show the path a ticket with this data takes, the visible and required fields at
    each step, and the problems it would hit; with --candidates the routing decision, with
    --created-at (or an `at` per step) the SLA clocks. Exit 0 when it reaches a final state."""
    from engine.simulate import describe, run_auto, run_steps
    from runtime.cli_outlook import report_outlook

    ticket_type = _load_or_exit(path)
    data = _read_data(data_path)
    if not isinstance(data, dict):
        click.echo(f"{data_path}: expected a map of field values", err=True)
        sys.exit(1)
    if "steps" in data or "create" in data:
        creation, steps = _steps_from(data, data_path)
        result = run_steps(ticket_type, creation, steps, language=lang)
    else:
        result = run_auto(ticket_type, data, language=lang)
    click.echo(describe(result, ticket_type, lang))
    report_outlook(ticket_type, result, candidates_path=candidates_path, created_at=created_at,
                   calendar_path=calendar_path)
    sys.exit(0 if result.finished else 1)


def _steps_from(data: dict[str, Any], data_path: str) -> tuple[Any, list[Any]]:
    from engine.simulate import StepRequest
    from runtime.cli_outlook import step_instant

    def request(raw: Any, where: str) -> StepRequest:
        if not isinstance(raw, dict) or not set(raw) <= {"transition", "values", "roles", "at"}:
            click.echo(f"{data_path}: {where}: expected a map with transition, values, roles, "
                       "at", err=True)
            sys.exit(1)
        roles = raw.get("roles")
        return StepRequest(raw.get("transition"), raw.get("values") or {},
                           frozenset(roles) if isinstance(roles, list) else None,
                           step_instant(raw.get("at"), f"{data_path}: {where}"))

    steps = data.get("steps") or []
    if not isinstance(steps, list):
        click.echo(f"{data_path}: /steps: expected a list", err=True)
        sys.exit(1)
    creation = request(data.get("create") or {}, "/create")
    return creation, [request(step, f"/steps/{i}") for i, step in enumerate(steps)]


# --- the runtime: database, server, accounts, demo ------------------------------------

# The user-field pattern of the engine: a name that fails it could not be put in a
# `user` field or @mentioned.


def _first_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


@contextmanager
def _failures() -> Iterator[None]:
    """Turn the failures an operator can meet into one line on stderr and exit 1."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from runtime.services.errors import ServiceError

    try:
        yield
    except ServiceError as error:
        # One line with every problem: a terminal shows no `details` otherwise.
        said = "; ".join(str(item["message"]) for item in error.details if item.get("message")
                         and item["message"] != error.message)
        raise click.ClickException(f"{error.message}: {said}" if said else error.message
                                   ) from None
    except SQLAlchemyError as error:
        raise click.ClickException(f"database: {_first_line(error)}") from None
    except CommandError as error:
        raise click.ClickException(f"schema: {_first_line(error)}") from None
    except OSError as error:  # e.g. an instance folder that cannot be created
        where = f": {error.filename}" if error.filename else ""
        raise click.ClickException(f"{error.strerror or error}{where}") from None


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _require_current_schema(database: Database) -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from runtime.migrate import alembic_config

    with database.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    if current != heads:
        state = ("has no ticketflow schema" if not current else
                 f"is at schema revision {', '.join(sorted(current))}, not "
                 f"{', '.join(sorted(heads))}")
        raise click.ClickException(f"the database {_where(database.url)} {state}; "
                                   "run `ticketflow db upgrade` first")


@contextmanager
def _open_database(*, upgrade_first: bool = False) -> Iterator[tuple[Settings, Database]]:
    """Settings from the environment and the database they name, disposed afterwards.

    With `upgrade_first` the schema is brought to head (idempotent); otherwise a missing
    or old schema is reported instead of failing later on a missing table.
    """
    from runtime.config import Settings
    from runtime.db import Database
    from runtime.migrate import upgrade

    with _failures():
        settings = Settings.from_env()
        database = Database(settings.database_url)
        try:
            if upgrade_first:
                upgrade(database)
            else:
                _require_current_schema(database)
            yield settings, database
        finally:
            database.dispose()


def _now() -> datetime:
    from runtime.context import system_clock

    return system_clock()


@cli.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the schema, or upgrade it to this version of ticketflow (safe to repeat)."""
    with _open_database(upgrade_first=True) as (settings, _database):
        where = _where(settings.database_url)
    click.echo(f"the database {where} is up to date")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 exposes the server to the network).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
# The defaults are runtime.wsgi.DEFAULT_WORKERS and DEFAULT_THREADS (not imported here:
# that would load Flask for every command); why 2 x 2 is explained there.
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (about one per core).")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Threads per worker process.")
@click.option("--access-log/--no-access-log", default=True, show_default=True)
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="Also run one `ticketflow worker` beside the server (reminders, SLA "
                   "timers, e-mail and webhooks); --no-scheduler when workers run "
                   "elsewhere.")
def serve(host: str, port: int, workers: int, threads: int, access_log: bool,
          scheduler: bool) -> None:
    """Upgrade the database, then serve the web app and the API with granian."""
    from runtime.wsgi import SHUTDOWN_SECONDS
    from runtime.wsgi import serve as serve_wsgi

    with _open_database(upgrade_first=True) as (settings, _database):
        pass
    _check_app(settings)
    _check_port(host, port)
    url_host = f"[{host}]" if ":" in host else host
    beside = " and one scheduler" if scheduler else ""
    click.echo(f"ticketflow: serving http://{url_host}:{port}/ with {workers} process(es) x "
               f"{threads} thread(s){beside} on {_where(settings.database_url)}; Ctrl-C "
               "stops", err=True)
    # A process of its own, as `ticketflow worker` would be: the web processes stay
    # stateless, and any number of servers may each bring one (timers and messages are
    # leased, so each fires or is sent once).
    worker = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "worker", "--parent", str(os.getpid())]
    ) if scheduler else None
    try:
        serve_wsgi(host, port, workers=workers, threads=threads, access_log=access_log)
    finally:
        if worker is not None:
            _stop_process(worker, SHUTDOWN_SECONDS)


def _stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM (a worker finishes what it holds), then SIGKILL if it is still there."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _check_app(settings: Settings) -> None:
    """Build the app once before forking, so a broken installation is one clear line
    here rather than a traceback from every worker."""
    from runtime.app import create_app

    try:
        app = create_app(settings)
    except Exception as error:  # anything at all means "cannot serve"
        raise click.ClickException(
            f"the web application cannot start: {type(error).__name__}: {_first_line(error)}"
        ) from None
    app.extensions["ticketflow"].db.dispose()


def _check_port(host: str, port: int) -> None:
    """Refuse early, in one line, when the address is taken (the server would log a
    traceback from every worker)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # The server sets SO_REUSEADDR too: a socket left in TIME_WAIT is no conflict.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise click.ClickException(
                f"cannot listen on {host}:{port}: {error.strerror or error}") from None


@cli.group()
def users() -> None:
    """User accounts."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
        return password
    return str(click.prompt("Password", hide_input=True,
                            confirmation_prompt="Repeat the password"))


@users.command("create")
@click.argument("username")
@click.option("--role", required=True,
              type=click.Choice(["admin", "supervisor", "agent", "requester"]))
@click.option("--team", "teams", multiple=True, metavar="KEY",
              help="A team the user belongs to (repeat for several).")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin instead of prompting.")
@click.option("--display-name", help="The name shown to others (default: the user name).")
@click.option("--email")
@click.option("--language", default="en", show_default=True, type=click.Choice(["en", "zh"]))
def users_create(username: str, role: str, teams: tuple[str, ...], password_stdin: bool,
                 display_name: str | None, email: str | None, language: str) -> None:
    """Add a user who logs in with USERNAME and a password (at least 8 characters)."""
    from runtime.models import Role
    from runtime.services import accounts

    if not accounts.USERNAME.fullmatch(username):  # before asking for a password
        raise click.ClickException("a user name has 1 to 150 letters, digits, '.', '_' or '-'")
    password = _read_password(password_stdin)
    with _open_database() as (_settings, database):
        accounts.create_user(database, None, username=username, role=Role(role),
                             password=password, display_name=display_name, email=email,
                             language=language, teams=teams, now=_now())
    in_teams = f" in {', '.join(teams)}" if teams else ""
    click.echo(f"created {role} '{username}'{in_teams}")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin instead of prompting.")
def users_set_password(username: str, password_stdin: bool) -> None:
    """Set USERNAME's password (a forgotten one): their sessions and reset links end."""
    from runtime.context import Request
    from runtime.services import recovery
    from runtime.services.tickets import SYSTEM

    password = _read_password(password_stdin)
    with _open_database() as (_settings, database):
        recovery.set_password(database, Request(SYSTEM, _now(), None), username, password)
    click.echo(f"set the password of '{username}'; their sessions were ended")


@cli.group()
def teams() -> None:
    """Teams (queues) that agents and supervisors belong to."""


@teams.command("create")
@click.argument("key")
@click.argument("name")
def teams_create(key: str, name: str) -> None:
    """Add a team: KEY is what definitions and `--team` refer to, NAME is shown."""
    from runtime.services import accounts

    with _open_database() as (_settings, database):
        accounts.create_team(database, None, key, name, now=_now())
    click.echo(f"created team '{key}'")


@cli.group()
def tokens() -> None:
    """API tokens (Authorization: Bearer ...)."""


def _acting_as(database: Database, username: str, now: datetime) -> Request:
    from runtime.context import Request
    from runtime.services import accounts

    with database.read() as session:
        user = accounts.find_user(session, username)
        if user is None:
            raise click.ClickException(f"there is no user '{username}'")
        if not user.active:
            raise click.ClickException(f"the user '{username}' is disabled")
        return Request(accounts.actor_for(user), now, None)


@tokens.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@click.option("--expires-in-days", type=click.IntRange(min=1),
              help="Days until it stops working (default: until revoked).")
def tokens_create(username: str, name: str, expires_in_days: int | None) -> None:
    """Issue an API token acting as USERNAME and print it (it is shown only this once)."""
    from runtime.services import accounts

    now = _now()
    expires_at = now + timedelta(days=expires_in_days) if expires_in_days else None
    with _open_database() as (_settings, database):
        issued = accounts.create_token(database, _acting_as(database, username, now), name,
                                       expires_at=expires_at)
    # Only the token on stdout, so `$(ticketflow tokens create ...)` captures just it.
    click.echo(issued.token)
    until = f"until {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "until revoked"
    click.echo(f"token '{name}' for '{username}', valid {until}; it is not shown again",
               err=True)


@tokens.command("list")
@click.argument("username", required=False)
def tokens_list(username: str | None) -> None:
    """List the API tokens of USERNAME, or everyone's: never their secrets, only the
    first characters to recognise them by, with when each was last used."""
    from runtime.services import accounts

    with _open_database() as (_settings, database):
        found = accounts.list_tokens(database, None, username, now=_now())
    if not found:
        click.echo("no tokens")
        return
    click.echo(f"{'id':>6}  {'user':<16} {'name':<24} {'prefix':<12} {'status':<8} "
               f"{'created':<16} {'expires':<16} last used")
    for token in found:
        click.echo(f"{token.id:>6}  {token.user:<16} {token.name[:24]:<24} {token.prefix:<12} "
                   f"{token.status:<8} {_minute(token.created_at):<16} "
                   f"{_minute(token.expires_at) or 'never':<16} "
                   f"{_minute(token.last_used_at) or 'never'}")


def _minute(instant: datetime | None) -> str:
    return f"{instant:%Y-%m-%d %H:%M}" if instant is not None else ""


@tokens.command("revoke")
@click.argument("token_id", type=click.IntRange(min=1))
def tokens_revoke(token_id: int) -> None:
    """Revoke the API token TOKEN_ID (see `tokens list`); it stops working at once."""
    from runtime.context import Request
    from runtime.services import accounts
    from runtime.services.tickets import SYSTEM

    with _open_database() as (_settings, database):
        accounts.revoke_token(database, Request(SYSTEM, _now(), None), token_id)
    click.echo(f"revoked token {token_id}")


@cli.command()
def demo() -> None:
    """Seed a living demo (teams, agents, the bundled templates, tickets) into the
    configured database; running it again adds nothing. Passwords are printed only when
    their users are created."""
    from runtime.demo import seed_demo

    with _open_database(upgrade_first=True) as (settings, database):
        report = seed_demo(database, _now(), settings.attachment_dir)
        where = _where(settings.database_url)
    _print_demo(report, where)


def _print_demo(report: DemoReport, where: str) -> None:
    created = [f"{len(report.teams_created)} team(s)", f"{len(report.users_created)} user(s)",
               f"{len(report.tickets_created)} ticket(s)"]
    if report.templates_installed:
        created.insert(2, f"{len(report.templates_installed)} template(s)")
    nothing_new = not (report.teams_created or report.users_created
                       or report.template_installed or report.tickets_created)
    click.echo(f"demo on {where}: " + ("already seeded, nothing added" if nothing_new
                                        else "created " + ", ".join(created)))
    passwords = {name: password for name, _role, password in report.users_created}
    click.echo("demo logins:")
    for username, role in report.logins:
        shown = passwords.get(username, "(existing user: password unchanged)")
        click.echo(f"  {username:<8} {role:<11} {shown}")
    if passwords:
        click.echo("these passwords are printed only now; anyone who can reach the server "
                   "can use them, so keep a demo on 127.0.0.1")


# templates, export, import, diff, test: their own module (their imports stay lazy too).
from runtime import cli_library  # noqa: E402

cli_library.register(cli)
cli.add_command(worker_command)  # `ticketflow worker` (runtime/cli_worker.py)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="ticketflow")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":  # `python -m runtime.cli`, as the benchmark starts the server
    main()
