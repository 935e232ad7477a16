"""The runtime benchmark: creating repair tickets, and listing them with many stored.

For SQLite and for PostgreSQL it creates N repair tickets (realistic submissions, in
turn a software fault that goes straight to repairing and a network fault that goes to
the hardware check) three ways and prints tickets per second:

a. the service layer, `runtime.services.tickets.create`, in this process;
b. real HTTP: `POST /api/v1/tickets` with a bearer token to `ticketflow serve` (granian,
   1 process x 1 thread by default: issue 3's goals are for one process, and more threads
   in a process only contend for the GIL; `--threads 2` is the server's own default)
   started by this script on 127.0.0.1, first from one keep-alive connection, then from
   several client threads at once;
c. the floor: the same rows the service wrote for a ticket — the number counter, the
   ticket with its SLA clocks, its `created` and `assigned` events, its SLA timers, the
   team's rotation pointer, the winner's inbox entry and its outbox record — written with
   raw SQL through the same driver (sqlite3 / psycopg), one transaction per ticket.

Every ticket is routed (the repair template's skill match picks one of two skilled
agents) and gets SLA clocks on the cn-workdays calendar.

Then, on SQLite: list the newest 50 tickets of one type in one state with 100,000
tickets stored (bulk-loaded with raw SQL), median of many runs of
`tickets.list_tickets`, as an administrator and as an agent (whose visibility rule adds
an OR), against the same query in raw SQL; and export all of them as an administrator
(CSV and JSON Lines, `services.exports`), against sqlite3 rows fed to csv.writer.

Durability is what the application uses: SQLite in WAL mode with synchronous=NORMAL
and checkpoints on a background thread (runtime/db.py, runtime/checkpoint.py; the floor
takes its checkpoints the same way), PostgreSQL with the server's settings (printed). Nothing is
asserted about time; docs/performance.md records the figures and the machine. Every loop
is bounded and every wait has a deadline; servers listen on 127.0.0.1 only. PostgreSQL
gets a scratch database `tf_bench`, created and dropped here (skipped when unreachable).

    .venv/bin/python bench/create.py              # N=1000, 100k tickets to list (~2 min)
    .venv/bin/python bench/create.py --quick      # N=100, 5k tickets (~30 s)
    .venv/bin/python bench/create.py --n 5000 --skip-pg --clients 8
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder heads sys.path, and bench/engine.py would shadow
# the `engine` package: put the project root first instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from runtime.checkpoint import WalCheckpointer, configure_connection  # noqa: E402
from runtime.context import Actor, Request  # noqa: E402
from runtime.db import Database  # noqa: E402
from runtime.migrate import upgrade  # noqa: E402
from runtime.models import Role  # noqa: E402
from runtime.services import accounts, agents, definitions, exports, tickets  # noqa: E402

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
PG_ADMIN = os.environ.get("TICKETFLOW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_SCRATCH = "tf_bench"
TEMPLATE = ROOT / "templates_library" / "repair.yaml"
READY_SECONDS = 30
REQUEST_TIMEOUT = 30


def submission(i: int) -> dict[str, Any]:
    """A realistic intake form: what a customer sends from the portal or an integration."""
    if i % 2:
        return {"device": f"NET-{i % 10_000:04d}", "category": "network", "fault": "network",
                "symptom": "slow", "priority": "urgent",
                "description": "三楼会议室的无线网络非常慢，视频会议经常断线。",
                "contact_phone": "+86 139 1000 2000", "contact_email": "li.na@example.cn",
                "reported_on": "2026-03-02"}
    return {"device": f"PRN-{i % 10_000:04d}", "category": "printer", "fault": "software",
            "symptom": "paper_jam", "priority": "normal",
            "description": "Print jobs stay in the queue; restarting the laptop did not help.",
            "contact_phone": "+33 6 12 34 56 78", "contact_email": "alice@example.com"}


# --- results -------------------------------------------------------------------------


@dataclass
class Result:
    database: str
    method: str
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else float("inf")


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.results.append(result)
        print(f"  {result.method:<34} {result.count:>6} in {result.seconds:7.2f} s = "
              f"{result.rate:8.0f} tickets/s", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  {text}", flush=True)


def machine_info() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [f"machine: {usable} usable cores (nproc), {cpu}, {platform.system()} "
            f"{platform.release()}",
            f"python {platform.python_version()} ({sys.executable}); SQLite "
            f"{sqlite3.sqlite_version}; psycopg {psycopg.__version__}",
            "durability: SQLite WAL + synchronous=NORMAL, checkpoints in the background "
            "(the application's setting, the floor's too); one transaction per ticket",
            load_average()]


def load_average() -> str:
    """Other work on the machine skews every figure: print it at the start and the end."""
    if not hasattr(os, "getloadavg"):
        return "load average: unknown"
    one, five, fifteen = os.getloadavg()
    return f"load average: {one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min)"


# --- a database ready for tickets ----------------------------------------------------


@dataclass
class Setup:
    """A migrated database with the repair template, an admin, a customer and an agent."""

    name: str
    url: str
    db: Database
    admin: Actor
    customer: Actor
    agent: Actor

    def request(self, actor: Actor | None = None) -> Request:
        return Request(actor or self.customer, datetime.now(UTC), "127.0.0.1")


def prepare(name: str, url: str, now: datetime) -> Setup:
    db = Database(url)
    upgrade(db)
    accounts.create_team(db, None, "repair", "Repair", now=now)
    accounts.create_team(db, None, "network", "Network", now=now)
    people = {}
    for username, role, teams in (("admin", Role.ADMIN, ()), ("alice", Role.REQUESTER, ()),
                                  ("wang", Role.AGENT, ("repair",)),
                                  ("chen", Role.AGENT, ("repair",))):
        user = accounts.create_user(db, None, username=username, role=role,
                                    password="bench-password", teams=teams, now=now)
        people[username] = accounts.actor_for(user)
    admin = Request(people["admin"], now)
    definitions.install(db, admin, TEMPLATE.read_text(encoding="utf-8"))
    # Skilled agents: the repair template's skill match assigns every ticket to one of
    # them (a routing decision, a rotation pointer, an inbox entry for the winner).
    for username, skills in (("wang", ["printer", "laptop", "software"]),
                             ("chen", ["printer", "network", "hardware"])):
        agents.set_profile(db, admin, username, skills=skills)
    return Setup(name, url, db, people["admin"], people["alice"], people["wang"])


# --- a. the service layer ------------------------------------------------------------


def bench_service(setup: Setup, n: int, report: Report) -> None:
    # One ticket first, untimed in the rate, as the HTTP way's probe request: a process's
    # first ticket compiles the definition and loads the bundled calendars (the holidays
    # package) once, which is no part of the rate a running process creates at.
    start = time.perf_counter()
    tickets.create(setup.db, setup.request(), "repair", submission(0))
    report.note(f"a. the process's first ticket (compiles the definition, loads the "
                f"calendars): {(time.perf_counter() - start) * 1000:.0f} ms")
    start = time.perf_counter()
    for i in range(n):
        tickets.create(setup.db, setup.request(), "repair", submission(i))
    report.add(Result(setup.name, "a. service layer (tickets.create)", n,
                      time.perf_counter() - start))


# --- b. HTTP -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(url: str, instance: Path, workers: int, threads: int) -> Iterator[int]:
    """`ticketflow serve` on 127.0.0.1 in a child process; stopped on the way out."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "TICKETFLOW_INSTANCE": str(instance)}
    log = instance / "serve.log"
    instance.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--workers", str(workers), "--threads", str(threads), "--no-access-log",
             "--no-scheduler"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_listening(port, server, log)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


def wait_until_listening(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()[-500:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/v1/openapi.json")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {READY_SECONDS} s")


class Client:
    """One keep-alive HTTP connection that posts tickets."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}",
                        "Content-Type": "application/json"}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)

    def create(self, i: int) -> tuple[int, bytes]:
        body = json.dumps({"ticket_type": "repair", "values": submission(i)})
        for attempt in (1, 2):
            try:
                self.connection.request("POST", "/api/v1/tickets", body, self.headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: open a new one, once.
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port,
                                                             timeout=REQUEST_TIMEOUT)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


def post_many(port: int, token: str, first: int, count: int, failures: list[str]) -> None:
    client = Client(port, token)
    try:
        for i in range(first, first + count):
            status, body = client.create(i)
            if status != 201:
                failures.append(f"{status}: {body[:300]!r}")
                return
    finally:
        client.close()


def bench_http(setup: Setup, n: int, clients: int, server: tuple[int, int], instance: Path,
               report: Report) -> None:
    token = accounts.create_token(setup.db, setup.request(), "bench").token
    workers, server_threads = server
    with running_server(setup.url, instance, workers, server_threads) as port:
        probe = Client(port, token)
        status, body = probe.create(0)
        probe.close()
        if status != 201:
            report.note(f"b. HTTP skipped: POST /api/v1/tickets answered {status} "
                        f"{body[:200]!r}")
            return
        for threads in (1, clients):
            failures: list[str] = []
            share = n // threads
            workers_ = [threading.Thread(target=post_many,
                                         args=(port, token, k * share, share, failures))
                        for k in range(threads)]
            start = time.perf_counter()
            for thread in workers_:
                thread.start()
            for thread in workers_:
                thread.join()
            seconds = time.perf_counter() - start
            if failures:
                report.note(f"b. HTTP with {threads} client(s) failed: {failures[0]}")
                return
            label = f"b. HTTP, {threads} client(s), {workers}x{server_threads} server"
            report.add(Result(setup.name, label, share * threads, seconds))


# --- c. the floor: raw SQL -----------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """Every row the service wrote for one ticket (besides the ticket's own columns)."""

    ticket: dict[str, Any]
    events: list[tuple[str, int | None, dict[str, Any]]]  # kind, actor, data
    timers: list[tuple[str, str, datetime, dict[str, Any]]]  # kind, key suffix, due, payload
    notifications: list[tuple[int, str, str, dict[str, Any]]]  # user, kind, title, data
    outbox: list[tuple[str, str, str | None, dict[str, Any], str]]  # channel ... state


@dataclass(frozen=True)
class Shape:
    """What the service stored for each kind of submission: the floor writes the same."""

    definition_id: int
    version_id: int
    requester_id: int
    rows: list[Sample]


def stored_shape(setup: Setup) -> Shape:
    from sqlalchemy import select

    from runtime.models import (
        Definition,
        DefinitionVersion,
        Event,
        Notification,
        OutboxMessage,
        Ticket,
        Timer,
    )

    with setup.db.read() as session:
        version = session.scalar(select(DefinitionVersion))
        definition_id = session.scalar(select(Definition.id))
        samples = []
        for ticket in session.scalars(select(Ticket).order_by(Ticket.id).limit(2)):
            prefix = f"sla:{ticket.number}:"
            samples.append(Sample(
                {"state": ticket.state, "title": ticket.title, "data": ticket.data,
                 "team_id": ticket.team_id, "assignee_id": ticket.assignee_id,
                 "sla": ticket.sla, "sla_due_at": ticket.sla_due_at},
                [(e.kind, e.actor_id, e.data) for e in session.scalars(
                    select(Event).where(Event.ticket_id == ticket.id).order_by(Event.id))],
                [(t.kind, t.key.removeprefix(prefix), t.due_at, t.payload)
                 for t in session.scalars(select(Timer).where(Timer.ticket_id == ticket.id))],
                [(n.user_id, n.kind, n.title, n.data) for n in session.scalars(
                    select(Notification).where(Notification.ticket_id == ticket.id))],
                [(m.channel, m.recipient, m.subject, m.payload, m.state)
                 for m in session.scalars(select(OutboxMessage).where(
                     OutboxMessage.ticket_id == ticket.id))]))
    assert version is not None
    assert definition_id is not None
    return Shape(definition_id, version.id, setup.customer.user_id, samples)


NEXT_NUMBER = ("UPDATE definitions SET next_number = next_number + 1 WHERE id = {p} "
               "RETURNING next_number")
TICKET_INSERT = ("INSERT INTO tickets (number, ticket_type, definition_version_id, state, "
                 "title, data, requester_id, assignee_id, team_id, reopen_count, created_at, "
                 "updated_at, version, sla, sla_due_at) "
                 "VALUES ({p}, 'repair', {p}, {p}, {p}, {p}, {p}, {p}, {p}, 0, {p}, {p}, 1, "
                 "{p}, {p}) RETURNING id")
EVENT_INSERT = ("INSERT INTO events (ticket_id, kind, actor_id, at, client_address, data) "
                "VALUES ({p}, {p}, {p}, {p}, '127.0.0.1', {p}) RETURNING id")
ROTATION = ("INSERT INTO team_rotations (team_id, last_user_id, updated_at) "
            "VALUES ({p}, NULL, {p}) ON CONFLICT (team_id) DO UPDATE "
            "SET team_id = excluded.team_id RETURNING last_user_id")
MOVE_ROTATION = "UPDATE team_rotations SET last_user_id = {p}, updated_at = {p} WHERE team_id = {p}"
TIMER_INSERT = ("INSERT INTO timers (ticket_id, kind, key, due_at, payload, state, attempts, "
                "created_at) VALUES ({p}, {p}, {p}, {p}, {p}, 'pending', 0, {p})")
NOTIFICATION_INSERT = ("INSERT INTO notifications (user_id, ticket_id, event_id, kind, title, "
                       "data, created_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}) "
                       "RETURNING id")
OUTBOX_INSERT = ("INSERT INTO outbox (channel, recipient, subject, payload, language, state, "
                 "attempts, next_attempt_at, ticket_id, caused_by, created_at) "
                 "VALUES ({p}, {p}, {p}, {p}, 'en', {p}, 0, {p}, {p}, {p}, {p})")


def _write_floor_ticket(execute: Callable[..., Any], shape: Shape, sample: Sample,
                        now: Any, json_value: Callable[[Any], Any],
                        instant: Callable[[Any], Any]) -> None:
    """One ticket's rows in raw SQL, in the caller's transaction (the same for both
    drivers: `execute(sql, params)` returns a cursor; values are adapted per driver)."""
    (following,) = execute(NEXT_NUMBER, (shape.definition_id,)).fetchone()
    number = f"REP-{following - 1:06d}"
    ticket = sample.ticket
    if ticket["team_id"] is not None:
        execute(ROTATION, (ticket["team_id"], now)).fetchone()
    (ticket_id,) = execute(TICKET_INSERT, (
        number, shape.version_id, ticket["state"], ticket["title"], json_value(ticket["data"]),
        shape.requester_id, ticket["assignee_id"], ticket["team_id"], now, now,
        json_value(ticket["sla"]), instant(ticket["sla_due_at"]))).fetchone()
    if ticket["assignee_id"] is not None:
        execute(MOVE_ROTATION, (ticket["assignee_id"], now, ticket["team_id"]))
    for kind, key, due, payload in sample.timers:
        execute(TIMER_INSERT, (ticket_id, kind, f"sla:{number}:{key}", instant(due),
                               json_value(payload), now))
    event_id = None
    for kind, actor, data in sample.events:
        (event_id,) = execute(EVENT_INSERT, (ticket_id, kind, actor, now,
                                             json_value(data))).fetchone()
    for user, kind, title, data in sample.notifications:
        execute(NOTIFICATION_INSERT, (user, ticket_id, event_id, kind, title,
                                      json_value(data), now)).fetchone()
    for channel, recipient, subject, payload, state in sample.outbox:
        execute(OUTBOX_INSERT, (channel, recipient, subject, json_value(payload), state, now,
                                ticket_id, event_id, now))


def floor_sqlite(path: Path, shape: Shape, n: int) -> float:
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        connection.execute(f"PRAGMA {pragma}")
    # Checkpoints as the application takes them: in the background, off the commits.
    configure_connection(connection)
    checkpointer = WalCheckpointer(path)

    def execute(sql: str, params: tuple[Any, ...]) -> Any:
        return connection.execute(sql.format(p="?"), params)

    def instant(value: datetime | None) -> str | None:
        # SQLAlchemy's SQLite DateTime: naive UTC text.
        return None if value is None else value.replace(tzinfo=None).isoformat(sep=" ")

    start = time.perf_counter()
    for i in range(n):
        now = instant(datetime.now(UTC))
        connection.execute("BEGIN IMMEDIATE")
        _write_floor_ticket(execute, shape, shape.rows[i % len(shape.rows)], now,
                            lambda value: None if value is None else json.dumps(value),
                            instant)
        connection.execute("COMMIT")
        checkpointer.nudge()
    seconds = time.perf_counter() - start
    checkpointer.stop()
    connection.close()
    return seconds


def floor_postgres(dsn: str, shape: Shape, n: int) -> float:
    with psycopg.connect(dsn, autocommit=True) as connection:

        def execute(sql: str, params: tuple[Any, ...]) -> Any:
            return connection.execute(sql.format(p="%s"), params)  # type: ignore[arg-type]

        start = time.perf_counter()
        for i in range(n):
            with connection.transaction():
                _write_floor_ticket(execute, shape, shape.rows[i % len(shape.rows)],
                                    datetime.now(UTC),
                                    lambda value: None if value is None else Jsonb(value),
                                    lambda value: value)
        return time.perf_counter() - start


# --- one database, three ways --------------------------------------------------------


def libpq_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def bench_creation(setup: Setup, args: argparse.Namespace, instance: Path,
                   floor: Callable[[Shape, int], float], driver: str, report: Report) -> None:
    print(f"\n{setup.name}: creating {args.n} tickets each way", flush=True)
    bench_service(setup, args.n, report)
    shape = stored_shape(setup)
    try:
        bench_http(setup, args.n, args.clients, (args.workers, args.threads), instance, report)
    except (RuntimeError, OSError) as error:
        report.note(f"b. HTTP skipped: {error}")
    report.add(Result(setup.name, f"c. floor: raw SQL ({driver})", args.n,
                      floor(shape, args.n)))


def run_sqlite(args: argparse.Namespace, scratch: Path, report: Report) -> None:
    path = scratch / "create.db"
    setup = prepare("sqlite", f"sqlite:///{path}", datetime.now(UTC))
    try:
        bench_creation(setup, args, scratch / "instance-sqlite",
                       lambda shape, n: floor_sqlite(path, shape, n), "sqlite3", report)
    finally:
        setup.db.dispose()


def local_only(url: str) -> None:
    from sqlalchemy.engine import make_url

    host = make_url(url).host or "127.0.0.1"
    if host not in LOCAL_HOSTS:
        raise SystemExit(f"refusing to benchmark against {host}: only 127.0.0.1 is used")


def run_postgres(args: argparse.Namespace, scratch: Path, report: Report) -> None:
    local_only(PG_ADMIN)
    try:
        admin = psycopg.connect(libpq_dsn(PG_ADMIN), autocommit=True, connect_timeout=5)
    except psycopg.Error as error:
        report.note(f"postgresql: skipped, {PG_ADMIN} is unreachable "
                    f"({str(error).strip().splitlines()[0]})")
        return
    with admin:
        settings = [admin.execute(f"SHOW {name}").fetchone() for name in
                    ("server_version", "synchronous_commit", "fsync")]
        report.note("postgresql {} (synchronous_commit={}, fsync={})".format(
            *(row[0] if row else "?" for row in settings)))
        admin.execute(f'DROP DATABASE IF EXISTS "{PG_SCRATCH}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{PG_SCRATCH}"')
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_SCRATCH}"
        try:
            setup = prepare("postgresql", url, datetime.now(UTC))
            try:
                bench_creation(setup, args, scratch / "instance-pg",
                               lambda shape, n: floor_postgres(libpq_dsn(url), shape, n),
                               "psycopg", report)
            finally:
                setup.db.dispose()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{PG_SCRATCH}" WITH (FORCE)')


# --- listing with many tickets stored ------------------------------------------------

STATES = ["closed"] * 10 + ["resolved"] * 2 + ["repairing"] * 3 + ["hardware_check"] * 2 + \
    ["waiting_customer", "new"]


def bulk_load(path: Path, setup: Setup, shape: Shape, rows: int) -> None:
    """`rows` tickets in one transaction: a year of history, mixed states and teams."""
    connection = sqlite3.connect(path, isolation_level=None)
    teams = [row[0] for row in connection.execute("SELECT id FROM teams ORDER BY id")]
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=365)
    step = timedelta(days=365) / rows
    people = (setup.customer.user_id, setup.agent.user_id, setup.admin.user_id)

    def row(i: int) -> tuple[Any, ...]:
        sample = shape.rows[i % len(shape.rows)].ticket
        title, data = sample["title"], sample["data"]
        state = STATES[(i * 7) % len(STATES)]
        at = (start + step * i).isoformat(sep=" ")
        team = (teams + [None])[i % (len(teams) + 1)]
        assignee = people[1] if i % 3 == 0 else None
        closed = at if state == "closed" else None
        requester = people[0] if i % 5 else people[2]  # now and then staff open one
        return (f"REP-{i + 1:06d}", shape.version_id, state, title, json.dumps(data),
                requester, assignee, team, at, at, closed)

    connection.execute("BEGIN IMMEDIATE")
    first = connection.execute("SELECT coalesce(max(id), 0) FROM tickets").fetchone()[0]
    connection.executemany(
        "INSERT INTO tickets (number, ticket_type, definition_version_id, state, title, data, "
        "requester_id, assignee_id, team_id, reopen_count, created_at, updated_at, closed_at, "
        "version) VALUES (?, 'repair', ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, 1)",
        (row(i) for i in range(first, rows)))
    connection.execute("UPDATE definitions SET next_number = ? WHERE id = ?",
                       (rows + 1, shape.definition_id))
    connection.execute("COMMIT")
    connection.close()


def median_ms(call: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and best of `runs` calls, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def bench_list(args: argparse.Namespace, scratch: Path, report: Report) -> None:
    path = scratch / "list.db"
    setup = prepare("sqlite", f"sqlite:///{path}", datetime.now(UTC))
    print(f"\nsqlite: listing with {args.rows} tickets stored", flush=True)
    try:
        for i in range(2):
            tickets.create(setup.db, setup.request(), "repair", submission(i))
        shape = stored_shape(setup)
        start = time.perf_counter()
        bulk_load(path, setup, shape, args.rows)
        report.note(f"bulk-loaded {args.rows} tickets in {time.perf_counter() - start:.1f} s "
                    "(raw SQL, one transaction)")
        filters = tickets.Filters(ticket_type="repair", state="repairing")
        for label, actor in (("administrator", setup.admin), ("agent of one team", setup.agent)):
            page = tickets.list_tickets(setup.db, setup.request(actor), filters, limit=50)
            if len(page.items) != 50:
                raise RuntimeError(f"expected a full page, got {len(page.items)} tickets")
            median, best = median_ms(lambda actor=actor: tickets.list_tickets(
                setup.db, setup.request(actor), filters, limit=50), args.runs)
            report.note(f"list_tickets, newest 50 repair/repairing, as {label}: "
                        f"median {median:.2f} ms, best {best:.2f} ms ({args.runs} runs)")
        connection = sqlite3.connect(path)
        query = ("SELECT * FROM tickets WHERE ticket_type = 'repair' AND state = 'repairing' "
                 "ORDER BY id DESC LIMIT 50")
        median, best = median_ms(lambda: connection.execute(query).fetchall(), args.runs)
        connection.close()
        report.note(f"floor: the same 50 rows in raw SQL (sqlite3): median {median:.2f} ms, "
                    f"best {best:.2f} ms")
        bench_export(setup, path, args.rows, report)
    finally:
        setup.db.dispose()


def bench_export(setup: Setup, path: Path, stored: int, report: Report) -> None:
    """Every stored ticket exported as an administrator, against the floor: the same rows
    read with sqlite3 and written by csv.writer (values decoded, no labels, no policy)."""
    for export_format in exports.ExportFormat:
        start = time.perf_counter()
        exported = exports.export_tickets(setup.db, setup.request(setup.admin),
                                          tickets.Filters(), export_format)
        size = sum(len(chunk) for chunk in exported.chunks)
        seconds = time.perf_counter() - start
        report.note(f"export of all {stored} tickets as {export_format}: {seconds:.1f} s, "
                    f"{stored / seconds:,.0f} tickets/s, {size / 1e6:.1f} MB")
    start = time.perf_counter()
    connection = sqlite3.connect(path)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in connection.execute("SELECT number, ticket_type, state, title, requester_id, "
                                  "assignee_id, team_id, created_at, updated_at, closed_at, "
                                  "reopen_count, data FROM tickets ORDER BY id"):
        writer.writerow([*row[:-1], *json.loads(row[-1]).values()])
        if buffer.tell() > 64 * 1024:
            buffer.seek(0)
            buffer.truncate()
    connection.close()
    seconds = time.perf_counter() - start
    report.note(f"floor: the same rows by sqlite3 into csv.writer: {seconds:.1f} s, "
                f"{stored / seconds:,.0f} tickets/s")


# --- summary -------------------------------------------------------------------------


def summary(report: Report) -> None:
    print("\nsummary (tickets created per second; cost = time per ticket / the floor's)")
    print(f"  {'database':<11} {'method':<36} {'tickets':>7} {'tickets/s':>10} {'cost':>7}")
    for result in report.results:
        floor = next((r for r in report.results if r.database == result.database
                      and r.method.startswith("c.")), None)
        cost = f"{floor.rate / result.rate:6.1f}x" if floor else "-"
        print(f"  {result.database:<11} {result.method:<36} {result.count:>7} "
              f"{result.rate:>10.0f} {cost:>7}")
    for note in report.notes:
        print(f"  {note}")
    print(f"  {load_average()}")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="N=100 and 5,000 stored tickets (a smoke run)")
    parser.add_argument("--n", type=int, help="tickets to create each way (default 1000)")
    parser.add_argument("--rows", type=int, help="tickets stored for listing (default 100000)")
    parser.add_argument("--runs", type=int, default=None, help="list runs for the median")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=1,
                        help="server worker processes (issue 3's goals are for one)")
    parser.add_argument("--threads", type=int, default=1, help="threads per server process")
    parser.add_argument("--skip-pg", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    args.n = max(args.clients, args.n or (100 if args.quick else 1000))
    # About 1 in 6 stored tickets is in `repairing`: 1000 fill a page of 50 with room.
    args.rows = max(1_000, args.rows or (5_000 if args.quick else 100_000))
    args.runs = max(3, args.runs or (20 if args.quick else 100))
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    for line in machine_info():
        print(line)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="tf-bench-") as scratch:
        run_sqlite(args, Path(scratch), report)
        if args.skip_pg:
            report.note("postgresql: skipped (--skip-pg)")
        else:
            run_postgres(args, Path(scratch), report)
        bench_list(args, Path(scratch), report)
    summary(report)


if __name__ == "__main__":
    main()
