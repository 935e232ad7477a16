"""The UI benchmark: how long the server takes to render the ticket page and the queue
page, measured over HTTP.

A fresh SQLite database gets the demo (teams, people, the bundled templates, about twenty
tickets with their history), `--tickets` more repair tickets made through the service
layer (a third of them with a few comments), one ticket with `--events` events on its
timeline (comments, made through the services too), and `--stored` tickets in all
(bulk-loaded with raw SQL copies of a real ticket row: mixed states, teams and
assignees over a year). The app is served by Werkzeug's
threaded server on 127.0.0.1 (a free port); a timing middleware adds a `Server-Timing`
header with the time spent inside the WSGI app, so the figures are the server's render
time (routing, services, database, templates), apart from the client. One keep-alive
connection logged in as an agent then asks, many times each:

- `GET /t/<number>` — the ticket page (values, timeline, every step form decided by the
  engine, files), for a worked ticket and for the one with `--events` events;
- `GET /work/all` — the queue page (25 tickets a page, newest first);
- `GET /work/all?sort=updated&q=PRN` — the queue filtered and sorted;
- `POST /t/<number>/form/resolve` — the live step form re-rendered for typed values;
- `GET /work/board` — the kanban board (up to 100 cards);

and one logged in as a supervisor:

- `GET /supervise` and `GET /supervise?days=90` — breaches, the period's service levels
  (which read the SLA record of every ticket closed in it) and survey results, agents'
  load and the bulk-reassign list.

Nothing is asserted about time; docs/performance.md records the figures and the machine.

    .venv/bin/python bench/ui.py              # 100,000 stored, 200 events, 200 requests
    .venv/bin/python bench/ui.py --quick      # 2,000 stored, 50 events, 20 requests
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from runtime.app import create_app  # noqa: E402
from runtime.config import Settings  # noqa: E402
from runtime.context import Request  # noqa: E402
from runtime.db import Database  # noqa: E402
from runtime.demo import seed_demo  # noqa: E402
from runtime.migrate import upgrade  # noqa: E402
from runtime.services import accounts, tickets  # noqa: E402

AGENT = "wang"
SUPERVISOR = "zhao"  # leads the repair team: the reports count its tickets


class Timed:
    """WSGI middleware: the time spent in the app, as a Server-Timing header."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()

        def timed_start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            elapsed = (time.perf_counter() - started) * 1000
            headers.append(("Server-Timing", f"app;dur={elapsed:.3f}"))
            return start_response(status, headers, *args)

        return self.app(environ, timed_start)


def _seed(db: Database, folder: Path, count: int) -> str:
    now = datetime.now(UTC)
    seed_demo(db, now, folder / "attachments")
    with db.read() as session:
        requester = accounts.actor_for(accounts.find_user(session, "li"))
        agent = accounts.actor_for(accounts.find_user(session, AGENT))
        lead = accounts.actor_for(accounts.find_user(session, "zhao"))
    li, wang, zhao = Request(requester, now), Request(agent, now), Request(lead, now)
    measured = ""
    for index in range(count):
        values = {"device": f"PRN-{index:05d}", "category": "printer", "fault": "software",
                  "symptom": "paper_jam", "description": "Jams on every second page.",
                  "contact_phone": "+86 138 0013 8000"}
        view = tickets.create(db, li, "repair", values)
        number = view.number
        if index % 3 == 0:
            # The demo's agents have skills, so routing may already have given it to
            # someone: the supervisor passes it to the measured agent then.
            if view.assignee is None:
                tickets.claim(db, wang, number)
            elif view.assignee != AGENT:
                tickets.transfer(db, zhao, number, reason="bench", to_user=AGENT)
            for turn in range(3):
                tickets.comment(db, wang, number, f"Looking at it ({turn}); @chen FYI")
            measured = number  # a taken ticket with a history, like most worked ones
    return measured


def _long_history(db: Database, events: int) -> str:
    """A ticket whose timeline holds `events` events (its creation, routing, comments)."""
    now = datetime.now(UTC)
    with db.read() as session:
        requester = accounts.actor_for(accounts.find_user(session, "li"))
        agent = accounts.actor_for(accounts.find_user(session, AGENT))
    li, wang = Request(requester, now), Request(agent, now)
    number = tickets.create(db, li, "repair", {
        "device": "PRN-99999", "category": "printer", "fault": "software",
        "symptom": "paper_jam", "description": "Jams on every page, for months.",
        "contact_phone": "+86 138 0013 8000"}).number
    for turn in range(max(0, events - 2)):
        who = wang if turn % 2 else li
        tickets.comment(db, who, number, f"Turn {turn}: still jamming, trying another tray.")
    return number


STATES = ["closed"] * 10 + ["resolved"] * 2 + ["repairing"] * 3 + ["hardware_check"] * 2 + \
    ["waiting_customer", "new"]


def _bulk_load(path: Path, stored: int) -> None:
    """Fill the database up to `stored` tickets with copies of a real ticket row (raw SQL,
    one transaction): a year of history, mixed states, teams and assignees."""
    connection = sqlite3.connect(path, isolation_level=None)
    have = connection.execute("SELECT count(*), max(id) FROM tickets").fetchone()
    missing = stored - have[0]
    if missing <= 0:
        connection.close()
        return
    version, data, requester, clocks = connection.execute(
        "SELECT definition_version_id, data, requester_id, sla FROM tickets "
        "WHERE ticket_type = 'repair' ORDER BY id LIMIT 1").fetchone()
    teams = [row[0] for row in connection.execute("SELECT id FROM teams")] + [None]
    staff = [row[0] for row in connection.execute(
        "SELECT id FROM users WHERE role IN ('agent', 'supervisor')")] + [None]
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=365)
    step = timedelta(days=365) / missing

    def row(i: int) -> tuple[Any, ...]:
        state = STATES[(i * 7) % len(STATES)]
        at = (start + step * i).isoformat(sep=" ")
        # A closed one took from an hour to about four days.
        closed = (start + step * i + timedelta(hours=1 + (i * 37) % 96)).isoformat(sep=" ")
        return (f"OLD-{i:07d}", version, state, f"PRN-{i:07d} jams", data, requester,
                staff[i % len(staff)], teams[i % len(teams)], at, at,
                closed if state == "closed" else None, clocks)

    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(
        "INSERT INTO tickets (number, ticket_type, definition_version_id, state, title, data, "
        "requester_id, assignee_id, team_id, reopen_count, created_at, updated_at, closed_at, "
        "version, sla) VALUES (?, 'repair', ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, 1, ?)",
        (row(i) for i in range(missing)))
    connection.execute("COMMIT")
    connection.close()


class Client:
    """One keep-alive connection with the session cookie of a logged-in user."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""

    def send(self, method: str, path: str, body: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, str, float]:
        sent = {"Cookie": self.cookie, **(headers or {})}
        data = None
        if body is not None:
            data = urlencode(body)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=data, headers=sent)
        response = self.connection.getresponse()
        text = response.read().decode()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        timing = re.search(r"dur=([\d.]+)", response.getheader("Server-Timing") or "")
        return response.status, text, float(timing.group(1)) if timing else float("nan")

    def log_in(self, username: str) -> str:
        _status, page, _ms = self.send("GET", "/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        status, _page, _ms = self.send("POST", "/login", {
            "csrf_token": token, "username": username,
            "password": f"demo-{username}-2026"})
        assert status == 302, status
        # A login starts a fresh session, with a CSRF token of its own.
        _status, page, _ms = self.send("GET", "/work/mine")
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _measure(client: Client, repeat: int, method: str, path: str,
             body: dict[str, str] | None = None, headers: dict[str, str] | None = None
             ) -> tuple[float, float, float, int]:
    """Median and 95th percentile of the server's time, the median round trip, the size."""
    server, total = [], []
    size = 0
    client.send(method, path, body, headers)  # warm: compiled definition, templates
    for _ in range(repeat):
        started = time.perf_counter()
        status, text, ms = client.send(method, path, body, headers)
        total.append((time.perf_counter() - started) * 1000)
        assert status == 200, (path, status)
        server.append(ms)
        size = len(text.encode())
    server.sort()
    return (statistics.median(server), server[int(len(server) * 0.95) - 1],
            statistics.median(total), size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=300,
                        help="tickets made through the services")
    parser.add_argument("--stored", type=int, default=100_000, help="tickets stored in all")
    parser.add_argument("--events", type=int, default=200,
                        help="events on the long ticket's timeline")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--quick", action="store_true",
                        help="100 tickets made, 2,000 stored, 50 events, 20 requests")
    options = parser.parse_args(argv)
    if options.quick:
        options.tickets, options.stored, options.events, options.repeat = 100, 2_000, 50, 20
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        db = Database(f"sqlite:///{folder / 'ticketflow.db'}")
        upgrade(db)
        started = time.perf_counter()
        number = _seed(db, folder, options.tickets)
        long = _long_history(db, options.events)
        _bulk_load(folder / "ticketflow.db", options.stored)
        print(f"seeded {options.tickets} tickets through the services, one with "
              f"{options.events} events, {options.stored} stored in all, in "
              f"{time.perf_counter() - started:.1f} s")
        settings = Settings(database_url=db.url, instance_path=folder, secret_key="bench",
                            attachment_dir=folder / "attachments")
        app = create_app(settings, database=db)
        app.wsgi_app = Timed(app.wsgi_app)  # type: ignore[method-assign]
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            client = Client(server.server_port)
            token = client.log_in(AGENT)
            supervisor = Client(server.server_port)
            supervisor.log_in(SUPERVISOR)
            live = {"csrf_token": token, "present.resolution": "1", "resolution": "Done",
                    "present.repair_finished": "1", "repair_finished": "2026-11-23T09:00"}
            cases = [
                ("ticket page", "GET", f"/t/{number}", None, None),
                (f"ticket page, {options.events} events", "GET", f"/t/{long}", None, None),
                ("queue page", "GET", "/work/all", None, None),
                ("queue, filtered + sorted", "GET", "/work/all?sort=updated&q=PRN", None, None),
                ("live step form (htmx)", "POST", f"/t/{number}/form/resolve", live,
                 {"HX-Request": "true"}),
                ("kanban board", "GET", "/work/board", None, None),
            ]
            as_supervisor = [
                ("supervisor's page, 30 days", "GET", "/supervise", None, None),
                ("supervisor's page, 90 days", "GET", "/supervise?days=90", None, None),
            ]
            print(f"\n{'page':<28} {'server median':>14} {'server p95':>11} "
                  f"{'round trip':>11} {'bytes':>8}")
            for who, (name, method, path, body, headers) in [
                    *((client, case) for case in cases),
                    *((supervisor, case) for case in as_supervisor)]:
                median, p95, trip, size = _measure(who, options.repeat, method, path,
                                                   body, headers)
                print(f"{name:<28} {median:>11.2f} ms {p95:>8.2f} ms {trip:>8.2f} ms "
                      f"{size:>8}")
        finally:
            server.shutdown()
            thread.join(timeout=10)
            db.dispose()
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
