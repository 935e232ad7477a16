"""`ticketflow` as an operator uses it: the schema, accounts, tokens, the demo and the
server. Commands run against SQLite and PostgreSQL in turn (the `database` fixture's URL
as DATABASE_URL, a temporary instance folder as TICKETFLOW_INSTANCE)."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from runtime.cli import cli
from runtime.context import Request
from runtime.db import Database
from runtime.demo import STORIES, USERS, seed_demo
from runtime.models import Event, EventKind, Team, Ticket, User
from runtime.services import accounts, periods, satisfaction, tickets
from runtime.services import templates as templates_service
from runtime.services.configuration import referenced_teams
from tests.runtime.conftest import START
from tests.runtime.servers import ticketflow_serve

PASSWORD = "a-long-enough-password"


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


Run = Callable[..., Outcome]


def _runner(env: dict[str, str]) -> Run:
    def run(*args: str, input: str | None = None) -> Outcome:
        result = CliRunner().invoke(cli, list(args), env=env, input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback is a bug: show it
        return Outcome(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def ticketflow(database: Database, tmp_path: Path) -> Run:
    """The CLI on the test database (SQLite, then PostgreSQL)."""
    return _runner({"DATABASE_URL": database.url,
                    "TICKETFLOW_INSTANCE": str(tmp_path / "instance")})


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[Run, Database]]:
    """The CLI on an empty SQLite file: no schema yet."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    database = Database(url)
    yield _runner({"DATABASE_URL": url, "TICKETFLOW_INSTANCE": str(tmp_path / "instance")}), \
        database
    database.dispose()


def one_error_line(outcome: Outcome) -> str:
    """A refusal: exit 1 and exactly one line on stderr, nothing on stdout."""
    assert outcome.code == 1, outcome
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert outcome.stdout == ""
    return lines[0]


# --- the schema ----------------------------------------------------------------------


def test_db_upgrade_can_run_again(ticketflow: Run):
    first, second = ticketflow("db", "upgrade"), ticketflow("db", "upgrade")
    assert (first.code, second.code) == (0, 0), (first, second)
    assert "up to date" in second.stdout


def test_db_upgrade_creates_the_schema_on_an_empty_database(fresh: tuple[Run, Database]):
    run, database = fresh
    assert run("db", "upgrade").code == 0
    assert run("teams", "create", "repair", "Repair").code == 0


def test_commands_other_than_upgrade_ask_for_the_schema_first(fresh: tuple[Run, Database]):
    run, _ = fresh
    line = one_error_line(run("teams", "create", "repair", "Repair"))
    assert "ticketflow db upgrade" in line


def test_an_unreachable_database_is_one_line(tmp_path: Path):
    # Port 1 on 127.0.0.1: nothing listens there, the refusal is immediate.
    run = _runner({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
                   "TICKETFLOW_INSTANCE": str(tmp_path)})
    assert "database:" in one_error_line(run("db", "upgrade"))


# --- users, teams, tokens ------------------------------------------------------------


def test_a_created_user_can_log_in_with_their_role_and_teams(ticketflow: Run,
                                                             database: Database):
    assert ticketflow("teams", "create", "repair", "Repair").code == 0
    assert ticketflow("teams", "create", "network", "Network 网络组").code == 0
    outcome = ticketflow("users", "create", "wang", "--role", "agent", "--team", "repair",
                         "--team", "network", "--display-name", "Wang Lei 王磊", "--language",
                         "zh", "--email", "wang@example.cn", "--password-stdin",
                         input=PASSWORD + "\n")
    assert outcome.code == 0, outcome
    login = accounts.log_in(database, "wang", PASSWORD, now=START, address=None)
    with database.read() as session:
        user = session.get(User, login.user_id)
        assert user is not None
        assert (user.role, user.display_name, user.language, user.email) == (
            "agent", "Wang Lei 王磊", "zh", "wang@example.cn")
        assert sorted(team.key for team in user.teams) == ["network", "repair"]


def test_without_stdin_the_password_is_asked_twice(ticketflow: Run, database: Database):
    outcome = ticketflow("users", "create", "admin", "--role", "admin",
                         input=f"{PASSWORD}\n{PASSWORD}\n")
    assert outcome.code == 0, outcome
    assert accounts.log_in(database, "admin", PASSWORD, now=START, address=None)


# (setup commands, the refused command, stdin, a fragment of the one-line message)
REFUSALS = [
    pytest.param([["users", "create", "li", "--role", "requester", "--password-stdin"]],
                 ["users", "create", "li", "--role", "agent", "--password-stdin"],
                 PASSWORD, "'li' is taken", id="duplicate-user"),
    pytest.param([], ["users", "create", "li", "--role", "agent", "--team", "nope",
                      "--password-stdin"], PASSWORD, "no team 'nope'", id="unknown-team"),
    pytest.param([], ["users", "create", "li", "--role", "agent", "--password-stdin"],
                 "short", "at least 8 characters", id="short-password"),
    pytest.param([], ["users", "create", "li", "--role", "agent", "--password-stdin"],
                 "", "no password", id="empty-stdin"),
    pytest.param([], ["users", "create", "li na", "--role", "agent"], None, "user name",
                 id="bad-user-name"),
    pytest.param([["teams", "create", "repair", "Repair"]], ["teams", "create", "repair", "R"],
                 None, "'repair' exists", id="duplicate-team"),
    pytest.param([], ["teams", "create", "Repair Team", "R"], None, "team key",
                 id="bad-team-key"),
    pytest.param([], ["tokens", "create", "nobody"], None, "no user 'nobody'",
                 id="token-for-unknown-user"),
]


@pytest.mark.parametrize(("setup", "command", "stdin", "message"), REFUSALS)
def test_refusals_are_one_line_and_exit_1(ticketflow: Run, setup: list[list[str]],
                                          command: list[str], stdin: str | None, message: str):
    for args in setup:
        assert ticketflow(*args, input=PASSWORD + "\n").code == 0
    assert message in one_error_line(ticketflow(*command, input=stdin))


def test_a_printed_token_works_and_expires(ticketflow: Run, database: Database):
    ticketflow("users", "create", "bot", "--role", "agent", "--password-stdin",
               input=PASSWORD + "\n")
    outcome = ticketflow("tokens", "create", "bot", "--name", "ci", "--expires-in-days", "2")
    assert outcome.code == 0, outcome
    token = outcome.stdout.strip()
    assert "\n" not in token  # only the token on stdout; the note goes to stderr
    assert "not shown again" in outcome.stderr
    with database.read() as session:
        issued = session.scalar(select(func.max(Event.at)))
    assert issued is not None
    user = accounts.user_for_token(database, token, issued)
    assert user is not None
    assert user.username == "bot"
    assert accounts.user_for_token(database, token, issued + timedelta(days=2, seconds=1)) is None


def test_an_operator_sets_a_forgotten_password(ticketflow: Run, database: Database):
    ticketflow("users", "create", "wang", "--role", "agent", "--password-stdin",
               input=PASSWORD + "\n")
    before = accounts.log_in(database, "wang", PASSWORD, now=START, address=None)
    outcome = ticketflow("users", "set-password", "wang", "--password-stdin",
                         input="another-good-one\n")
    assert outcome.code == 0, outcome
    assert accounts.caller_for_session(database, before.session_id) is None  # ended
    assert accounts.log_in(database, "wang", "another-good-one", now=START, address=None)
    assert "at least 8" in one_error_line(
        ticketflow("users", "set-password", "wang", "--password-stdin", input="short\n"))
    assert "no user 'nobody'" in one_error_line(
        ticketflow("users", "set-password", "nobody", "--password-stdin",
                   input="another-good-one\n"))


def test_an_operator_lists_and_revokes_tokens(ticketflow: Run, database: Database):
    for name in ("bot", "feeder"):
        ticketflow("users", "create", name, "--role", "agent", "--password-stdin",
                   input=PASSWORD + "\n")
    bot_token = ticketflow("tokens", "create", "bot", "--name", "nightly import").stdout.strip()
    ticketflow("tokens", "create", "feeder", "--name", "feed")
    assert ticketflow("tokens", "list").stdout.count("active") == 2
    listed = ticketflow("tokens", "list", "bot")
    assert listed.code == 0, listed
    rows = listed.stdout.splitlines()[1:]
    assert len(rows) == 1
    assert "nightly import" in rows[0]
    assert bot_token[:10] in rows[0]
    assert bot_token not in listed.stdout  # never the secret itself
    token_id = rows[0].split()[0]
    assert ticketflow("tokens", "revoke", token_id).code == 0
    assert "revoked" in ticketflow("tokens", "list", "bot").stdout
    assert accounts.user_for_token(database, bot_token, START) is None
    with database.read() as session:
        revoked = session.scalars(select(Event).where(
            Event.kind == str(EventKind.TOKEN_REVOKED))).one()
    assert (revoked.actor_id, revoked.data) == (None, {"token": int(token_id)})
    assert "no such token" in one_error_line(ticketflow("tokens", "revoke", "999"))
    assert "no user 'nobody'" in one_error_line(ticketflow("tokens", "list", "nobody"))


# --- the demo ------------------------------------------------------------------------


def _counts(database: Database) -> tuple[int, int, int]:
    with database.read() as session:
        return tuple(session.scalar(select(func.count()).select_from(model))  # type: ignore
                     for model in (User, Ticket, Event))


def test_demo_twice_adds_nothing_the_second_time(ticketflow: Run, database: Database):
    first = ticketflow("demo")
    assert first.code == 0, first
    after_first = _counts(database)
    second = ticketflow("demo")
    assert second.code == 0, second
    assert _counts(database) == after_first
    assert after_first[:2] == (len(USERS), len(STORIES))
    assert "demo-admin-2026" in first.stdout
    assert "demo-" not in second.stdout  # passwords are printed once, when created
    assert "nothing added" in second.stdout


def test_the_demo_tells_a_story_in_two_languages(database: Database, tmp_path: Path):
    report = seed_demo(database, START, tmp_path / "attachments")
    assert len(report.tickets_created) == len(STORIES) >= 12
    with database.read() as session:
        rows = session.scalars(select(Ticket)).all()
    states = {row.state for row in rows}
    assert states >= {"new", "hardware_check", "repairing", "waiting_customer", "resolved",
                      "closed"}
    assert any(row.reopen_count == 1 for row in rows)
    assert any(row.assignee_id is not None for row in rows)
    assert any(row.data.get("photos") for row in rows)
    assert any(any("\u4e00" <= c <= "\u9fff" for c in row.data["description"]) for row in rows)
    admin = next(u for u in report.users_created if u[0] == "admin")
    assert accounts.log_in(database, "admin", admin[2], now=START, address=None)
    # The demo happened in the past, and a customer can follow their own tickets.
    assert all(row.created_at < START for row in rows)
    with database.read() as session:
        assert session.scalar(select(func.max(Event.at))) == START
    li = accounts.log_in(database, "li", "demo-li-2026", now=START, address=None)
    with database.read() as session:
        user = session.get(User, li.user_id)
        assert user is not None
        actor = accounts.actor_for(user)
    page = tickets.list_tickets(database, Request(actor, START), tickets.Filters(requester="me"))
    assert {item.requester for item in page.items} == {"li"}
    # Customers rated some of the closed ones: the supervisor's page has figures to show.
    with database.read() as session:
        zhao = accounts.actor_for(session.scalars(select(User).where(User.username == "zhao")
                                                  ).one())
    results = satisfaction.summary(database, Request(zhao, START),
                                   periods.last_days(START, 30))
    assert results.answered == 3
    assert len(results.comments) == 2


def _decisions(database: Database) -> dict[str, dict]:
    """Each demo ticket's first routing decision, by its title."""
    with database.read() as session:
        rows = session.execute(
            select(Ticket.title, Event.data).join(Event, Event.ticket_id == Ticket.id)
            .where(Event.kind == EventKind.ASSIGNED).order_by(Event.id)).all()
    found: dict[str, dict] = {}
    for title, data in rows:
        found.setdefault(title, data)
    return found


def test_the_demo_tickets_are_routed_by_the_templates_rules(database: Database,
                                                              tmp_path: Path):
    seed_demo(database, START, tmp_path / "attachments")
    decisions = _decisions(database)
    outcomes = {str(data["outcome"]) for data in decisions.values()}
    assert {"assigned", "queued", "pool"} <= outcomes
    # Network equipment: nobody in the repair team has the skills; it waits for a person.
    assert decisions["NET-0310"]["outcome"] == "queued"
    assert decisions["NET-0310"]["team"] == "repair"
    # Critical faults go to the senior engineers; IT tickets to the help desk's pool.
    assert decisions["NET-1022"]["team"] == "senior"
    assert decisions["月结时 ERP 客户端闪退"]["outcome"] == "pool"
    # The agent who is away is passed by, and says why.
    reasons = {candidate["agent"]: candidate["reason"] for data in decisions.values()
               for candidate in data["candidates"]}
    assert reasons["liu"] == "away"
    # Every team a bundled template routes or escalates to exists: nothing is unrouted.
    wanted = set().union(*(referenced_teams(t.ticket_type.source)
                           for t in templates_service.bundled()))
    with database.read() as session:
        assert wanted <= set(session.scalars(select(Team.key)))
        leads = dict(session.execute(select(Team.key, User.username)
                                     .join(User, User.id == Team.lead_id)).all())
    assert leads["repair"] == "zhao"


# --- the server ----------------------------------------------------------------------


def test_serve_defaults_are_the_documented_ones():
    from runtime import wsgi

    defaults = {param.name: param.default for param in cli.commands["serve"].params}
    assert defaults["host"] == "127.0.0.1"
    assert (defaults["workers"], defaults["threads"]) == (wsgi.DEFAULT_WORKERS,
                                                          wsgi.DEFAULT_THREADS)


def test_serve_on_a_taken_port_is_one_line(fresh: tuple[Run, Database]):
    run, _ = fresh
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        line = one_error_line(run("serve", "--port", str(taken.getsockname()[1])))
    assert "cannot listen on 127.0.0.1" in line


def test_serve_upgrades_then_answers_http_on_127_0_0_1(tmp_path: Path):
    database_file = tmp_path / "serve.db"
    env = {"DATABASE_URL": f"sqlite:///{database_file}",
           "TICKETFLOW_INSTANCE": str(tmp_path / "instance")}
    # It answers the login page with 200, then exits cleanly when stopped.
    with ticketflow_serve(env, tmp_path / "serve.log", threads=2):
        pass
    with sqlite3.connect(database_file) as connection:
        assert connection.execute("select count(*) from alembic_version").fetchone() == (1,)
