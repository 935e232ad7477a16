"""The SLA benchmark: one sweep of due timers with many open tickets, an assignment
among 500 agents, a due instant across a calendar with holidays.

1. Sweep. For N open tickets with running clocks (SQLite: 10,000 and 100,000;
   PostgreSQL: also 1,000,000), bulk-loaded with raw SQL in big transactions — each with
   its armed timer (the resolution warning, carrying its breach: a ticket's timers are a
   sequence, `timers.sync`) due in the future and one fired or cancelled timer of its
   past — of which exactly 1,000 have a breach timer due at the sweep
   instant: time one sweep that claims and fires those 1,000 through the real code path
   (`timers.run_due` in batches of 100 until nothing is claimed; the SLA handler records
   its event and tells the assignee). The sweep must cost what its due rows cost, not
   what the open ones do: sweep(N) / sweep(10k), goal <= 1.5. The floor: the same claim,
   mark-fired and event/notification inserts in raw SQL through the same driver, on 1,000
   other due timers, in the same run.
2. Assignment: `engine.assignment.assign` for a skill match weighted by priority among
   500 agents with loads, skills, capacities, some off shift, away or on leave; median
   and p95, goal < 1 ms median; floor: sorting 500 tuples.
3. Due instant: `BusinessCalendar.add_business_time` on cn-workdays (CN public holidays
   and make-up workdays) for 4 h and 2 working days from varied instants, including the
   eves of the Spring Festival and National Day; goal < 50 us median; also
   `engine.sla.schedule` for a whole repair ticket. Floor: `datetime + timedelta`.

Nothing is asserted about time: figures go to docs/performance.md with the machine and
its load. Loops are bounded; PostgreSQL is a scratch database `tf_bench_sla` on a local
host, created and dropped here (skipped with a note when unreachable).

    .venv/bin/python bench/sla.py                 # 10k, 100k (SQLite); + 1M (PostgreSQL)
    .venv/bin/python bench/sla.py --skip-million  # PostgreSQL up to 100k too
    .venv/bin/python bench/sla.py --quick         # 2k and 10k tickets: a smoke run
    .venv/bin/python bench/sla.py --verbose       # + the claim query's plan at the largest N
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _sibling(name: str) -> Any:
    """bench/create.py's helpers (machine info, a prepared database): scripts, not a
    package, so loaded by path."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


create = _sibling("create")

import psycopg  # noqa: E402
from sqlalchemy import bindparam, text  # noqa: E402

from engine.assignment import Candidate, assign  # noqa: E402
from engine.calendar_compile import load_calendar  # noqa: E402
from engine.compile import loads  # noqa: E402
from engine.durations import parse_duration  # noqa: E402
from engine.sla import TicketTimes, schedule  # noqa: E402
from runtime.context import Request  # noqa: E402
from runtime.services import sla, tickets, timers  # noqa: E402

PG_SCRATCH = "tf_bench_sla"
DUE = 1_000
BATCH = 100
CREATED = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
SWEEP_AT = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # Tuesday 14:00 in Shanghai
CALENDAR = ROOT / "templates_library" / "calendars" / "cn-workdays.yaml"
SLA_KINDS = ("escalation", "notify", "remind", "sla_breach", "sla_stuck", "sla_warning")


# --- results -------------------------------------------------------------------------


@dataclass
class Sweep:
    database: str
    n: int
    seconds: float
    fired: int
    floor: float

    @property
    def rate(self) -> float:
        return self.fired / self.seconds if self.seconds else float("inf")


@dataclass
class Figures:
    sweeps: list[Sweep] = field(default_factory=list)
    latencies: dict[str, tuple[float, float]] = field(default_factory=dict)  # median, p95 s
    notes: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        self.notes.append(line)
        print(f"  {line}", flush=True)


# --- the sweep: loading --------------------------------------------------------------


def _stamp(dialect: str, instant: datetime) -> Any:
    """A bound instant as each driver needs it (SQLite: naive UTC text, like the app)."""
    if dialect == "sqlite":
        return instant.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return instant


def _due_sql(dialect: str, minutes: str) -> str:
    """SQL for SWEEP_AT plus `minutes` (an SQL expression) minutes."""
    if dialect == "sqlite":
        return f"strftime('%Y-%m-%d %H:%M:%f', :base, ({minutes}) || ' minutes') || '000'"
    return f"CAST(:base AS timestamptz) + ({minutes}) * interval '1 minute'"


def _json_sql(dialect: str, name: str) -> str:
    return f"CAST(:{name} AS jsonb)" if dialect == "postgresql" else f":{name}"


def _columns(connection: Any, dialect: str) -> list[str]:
    if dialect == "sqlite":
        names = [row[1] for row in connection.execute(text("PRAGMA table_info(tickets)"))]
    else:
        names = list(connection.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'tickets' "
            "ORDER BY ordinal_position")).scalars())
    return [name for name in names if name not in ("id", "number")]


@dataclass
class Loaded:
    """A database with the repair template and open tickets in bulk."""

    db: Any
    dialect: str
    sample_id: int
    payloads: dict[str, str]  # timer kind -> a real payload, as JSON text
    assignee: int
    tickets: int = 0
    rounds: int = 0


def _seed(setup: Any) -> Loaded:
    """Two tickets through the services: the rows every bulk ticket copies."""
    request = Request(setup.customer, CREATED, "127.0.0.1")
    numbers = [tickets.create(setup.db, request, "repair", create.submission(i)).number
               for i in (0, 2)]
    with setup.db.engine.connect() as connection:
        sample_id, assignee = connection.execute(text(
            "SELECT id, assignee_id FROM tickets WHERE number = :n"), {"n": numbers[0]}).one()
    with setup.db.read() as session:
        planned = timers.upcoming(session, sla.prefix(numbers[0]))
    payloads = {str(item.kind): json.dumps(item.payload) for item in planned
                if ":first_response:" in item.key}
    with setup.db.write() as session:  # the samples' own timers would add to the 1,000
        for number in numbers:
            timers.cancel(session, prefix=f"sla:{number}:")
    if assignee is None or set(payloads) != {"sla_warning", "sla_breach"}:
        raise RuntimeError(f"unexpected sample ticket: {assignee=}, {sorted(payloads)}")
    return Loaded(setup.db, setup.db.dialect, sample_id, payloads, assignee, 0)


def grow(loaded: Loaded, n: int) -> float:
    """Bulk tickets up to `n`, each with its armed future warning and a past timer."""
    if n <= loaded.tickets:
        return 0.0
    dialect, lo, hi = loaded.dialect, loaded.tickets + 1, n
    columns = _columns_cache(loaded)
    if dialect == "sqlite":
        series = ("WITH RECURSIVE seq(g) AS (SELECT :lo UNION ALL SELECT g + 1 FROM seq "
                  "WHERE g < :hi) ")
        number, source = "printf('BEN-%07d', g)", "seq"
    else:
        series, number = "", "'BEN-' || lpad(g::text, 7, '0')"
        source = "generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) AS seq(g)"
    copied = ", ".join(f"t.{name}" for name in columns)
    start = time.perf_counter()
    with loaded.db.engine.begin() as connection:
        first = connection.execute(text("SELECT coalesce(max(id), 0) FROM tickets")).scalar()
        connection.execute(text(
            f"{series}INSERT INTO tickets (number, {', '.join(columns)}) "
            f"SELECT {number}, {copied} FROM {source} CROSS JOIN tickets t WHERE t.id = :sample"),
            {"lo": lo, "hi": hi, "sample": loaded.sample_id})
        insert = ("INSERT INTO timers (ticket_id, kind, key, due_at, payload, state, attempts, "
                  "created_at, fired_at) SELECT id, :kind, 'sla:' || number || :suffix, {due}, "
                  "{payload}, {state}, 0, :created, {fired} FROM tickets WHERE id > :first")
        created = _stamp(dialect, CREATED)
        for kind, suffix, minutes, state, fired in (
                ("sla_warning", ":resolution:warning", "id % 20000 + 10", "'pending'", "NULL"),
                ("sla_warning", ":first_response:warning",
                 "-(id % 20000) - 600",
                 "CASE WHEN id % 2 = 0 THEN 'fired' ELSE 'cancelled' END",
                 "CASE WHEN id % 2 = 0 THEN :created END")):
            connection.execute(text(insert.format(
                due=_due_sql(dialect, minutes), payload=_json_sql(dialect, "payload"),
                state=state, fired=fired)), {
                "kind": kind, "suffix": suffix, "base": _stamp(dialect, SWEEP_AT),
                "payload": loaded.payloads[kind], "created": created, "first": first})
        if dialect == "postgresql":
            connection.execute(text("ANALYZE tickets"))
            connection.execute(text("ANALYZE timers"))
    loaded.tickets = n
    return time.perf_counter() - start


_COLUMNS: dict[int, list[str]] = {}


def _columns_cache(loaded: Loaded) -> list[str]:
    if id(loaded) not in _COLUMNS:
        with loaded.db.engine.connect() as connection:
            _COLUMNS[id(loaded)] = _columns(connection, loaded.dialect)
    return _COLUMNS[id(loaded)]


def arm_due(loaded: Loaded, rng: random.Random) -> None:
    """1,000 breach timers due at (or up to an hour before) the sweep instant, on tickets
    spread over the whole table."""
    loaded.rounds += 1
    numbers = rng.sample(range(1, loaded.tickets + 1), DUE)
    dialect = loaded.dialect
    with loaded.db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO timers (ticket_id, kind, key, due_at, payload, state, attempts, "
            f"created_at) SELECT id, 'sla_breach', 'sla:' || number || :suffix, "
            f"{_due_sql(dialect, '-(id % 60)')}, {_json_sql(dialect, 'payload')}, 'pending', "
            "0, :created FROM tickets WHERE number IN :numbers").bindparams(
            bindparam("numbers", expanding=True)), {
            "suffix": f":first_response:breach:r{loaded.rounds}",
            "base": _stamp(dialect, SWEEP_AT), "payload": loaded.payloads["sla_breach"],
            "created": _stamp(dialect, CREATED),
            "numbers": [f"BEN-{i:07d}" for i in numbers]})


# --- the sweep: measuring ------------------------------------------------------------


def sweep(loaded: Loaded) -> tuple[float, int]:
    """Claim and fire everything due through the service code; seconds and fired."""
    fired = 0
    start = time.perf_counter()
    for _ in range(DUE // BATCH + 5):
        done = timers.run_due(loaded.db, now=SWEEP_AT, owner="bench", limit=BATCH)
        fired += done.fired
        if not done.claimed:
            break
    return time.perf_counter() - start, fired


CLAIM = ("SELECT id, ticket_id FROM timers WHERE ((state = 'pending' AND due_at <= {p}) OR "
         "(state = 'leased' AND lease_expires_at <= {p})) AND kind IN ({kinds}) "
         "ORDER BY due_at, id LIMIT {limit}")
LEASE = ("UPDATE timers SET state = 'leased', lease_owner = 'floor', lease_expires_at = {p}, "
         "attempts = attempts + 1 WHERE id IN ({ids})")
CHECK = "SELECT state, lease_owner FROM timers WHERE id = {p}"
FIRED = ("UPDATE timers SET state = 'fired', fired_at = {p}, lease_expires_at = NULL "
         "WHERE id = {p}")
EVENT = ("INSERT INTO events (ticket_id, kind, actor_id, at, client_address, data) "
         "VALUES ({p}, {p}, NULL, {p}, NULL, {p})")
NOTICE = ("INSERT INTO notifications (user_id, ticket_id, event_id, kind, title, data, "
          "created_at) VALUES ({p}, {p}, NULL, 'sla_breach', 'SLA breached', {p}, {p})")


def claim_sql(dialect: str) -> str:
    kinds = ", ".join(f"'{kind}'" for kind in SLA_KINDS)
    sql = CLAIM.format(p="{p}", kinds=kinds, limit=BATCH)
    return sql + (" FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else "")


@contextmanager
def raw(loaded: Loaded) -> Iterator[tuple[Any, str]]:
    """The driver's own connection (sqlite3 / psycopg) from the app's pool."""
    connection = loaded.db.engine.raw_connection()
    try:
        yield connection.driver_connection, "?" if loaded.dialect == "sqlite" else "%s"
    finally:
        connection.close()


def floor(loaded: Loaded) -> float:
    """The same work as a sweep, in raw SQL: claim batches under a lease, then per timer
    one transaction that checks the lease, marks it fired and inserts the `timer_fired`
    and `sla_breached` events and the assignee's notification."""
    now = _stamp(loaded.dialect, SWEEP_AT)
    sqlite = loaded.dialect == "sqlite"
    data = json.dumps({"clock": "first_response"}) if sqlite else psycopg.types.json.Jsonb(
        {"clock": "first_response"})
    with raw(loaded) as (connection, p):
        if sqlite:
            connection.isolation_level = None
        begin = "BEGIN IMMEDIATE" if sqlite else "BEGIN"
        check = CHECK.format(p=p) + ("" if sqlite else " FOR UPDATE")
        start = time.perf_counter()
        for _ in range(DUE // BATCH + 5):
            connection.execute(begin)
            if not sqlite:
                connection.execute("SET LOCAL jit = off")  # as timers.claim_due does
            rows = connection.execute(claim_sql(loaded.dialect).format(p=p), (now, now)).fetchall()
            if rows:
                connection.execute(LEASE.format(p=p, ids=", ".join(str(r[0]) for r in rows)),
                                   (now,))
            connection.execute("COMMIT")
            if not rows:
                break
            for timer_id, ticket_id in rows:
                connection.execute(begin)
                connection.execute(check.format(p=p), (timer_id,)).fetchone()
                connection.execute(FIRED.format(p=p), (now, timer_id))
                for kind in ("timer_fired", "sla_breached"):
                    connection.execute(EVENT.format(p=p), (ticket_id, kind, now, data))
                connection.execute(NOTICE.format(p=p), (loaded.assignee, ticket_id, data, now))
                connection.execute("COMMIT")
        return time.perf_counter() - start


def explain(loaded: Loaded) -> list[str]:
    """The claim query's plan (PostgreSQL: executed, in a transaction rolled back)."""
    now = _stamp(loaded.dialect, SWEEP_AT)
    with raw(loaded) as (connection, p):
        if loaded.dialect == "sqlite":
            rows = connection.execute("EXPLAIN QUERY PLAN " + claim_sql("sqlite").format(p=p),
                                      (now, now)).fetchall()
            return [str(row[-1]) for row in rows]
        connection.execute("SET LOCAL jit = off")  # as timers.claim_due does
        rows = connection.execute("EXPLAIN (ANALYZE, BUFFERS) " +
                                  claim_sql("postgresql").format(p=p), (now, now)).fetchall()
        connection.rollback()
        return [row[0] for row in rows]


def bench_sweeps(loaded: Loaded, name: str, sizes: Sequence[int], verbose: bool,
                 figures: Figures) -> None:
    rng = random.Random(20261124)
    print(f"\n{name}: one sweep of {DUE} due timers", flush=True)
    for n in sizes:
        seconds = grow(loaded, n)
        print(f"  loaded {n:>9,} open tickets ({2 * n:,} timers) in {seconds:6.1f} s",
              flush=True)
        arm_due(loaded, rng)
        if verbose and n == sizes[-1]:
            print("  claim query plan:")
            for line in explain(loaded):
                print(f"    {line}")
        took, fired = sweep(loaded)
        arm_due(loaded, rng)
        floor_seconds = floor(loaded)
        result = Sweep(name, n, took, fired, floor_seconds)
        figures.sweeps.append(result)
        base = next(s for s in figures.sweeps if s.database == name)
        print(f"  N={n:>9,}: sweep {took:6.3f} s ({result.rate:6.0f} timers/s, {fired} fired)"
              f"; floor {floor_seconds:6.3f} s (sweep/floor {took / floor_seconds:4.1f}x)"
              f"; sweep/sweep(first) {took / base.seconds:4.2f} (goal <= 1.5)", flush=True)
        if fired != DUE:
            figures.note(f"{name} N={n}: fired {fired}, expected {DUE}")


def run_sqlite(sizes: Sequence[int], scratch: Path, verbose: bool, figures: Figures) -> None:
    path = scratch / "sla.db"
    setup = create.prepare("sqlite", f"sqlite:///{path}", CREATED)
    try:
        bench_sweeps(_seed(setup), "sqlite", sizes, verbose, figures)
    finally:
        setup.db.dispose()


def run_postgres(sizes: Sequence[int], verbose: bool, figures: Figures) -> None:
    create.local_only(create.PG_ADMIN)
    try:
        admin = psycopg.connect(create.libpq_dsn(create.PG_ADMIN), autocommit=True,
                                connect_timeout=5)
    except psycopg.Error as error:
        figures.note(f"postgresql: skipped, {create.PG_ADMIN} is unreachable "
                     f"({str(error).strip().splitlines()[0]})")
        return
    with admin:
        version = admin.execute("SHOW server_version").fetchone()
        figures.note(f"postgresql {version[0] if version else '?'}")
        admin.execute(f'DROP DATABASE IF EXISTS "{PG_SCRATCH}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{PG_SCRATCH}"')
        url = create.PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_SCRATCH}"
        try:
            setup = create.prepare("postgresql", url, CREATED)
            try:
                bench_sweeps(_seed(setup), "postgresql", sizes, verbose, figures)
            finally:
                setup.db.dispose()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{PG_SCRATCH}" WITH (FORCE)')


# --- latencies -----------------------------------------------------------------------


def timed(call: Callable[[], object], runs: int, inner: int = 1) -> tuple[float, float]:
    """Median and p95 seconds per call over `runs` samples of `inner` calls each."""
    samples = []
    gc.disable()
    try:
        for _ in range(runs):
            start = time.perf_counter()
            for _ in range(inner):
                call()
            samples.append((time.perf_counter() - start) / inner)
    finally:
        gc.enable()
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def _report(figures: Figures, label: str, value: tuple[float, float], floor_value: float,
            goal: str) -> None:
    figures.latencies[label] = value
    median, p95 = value
    print(f"  {label:<44} median {median * 1e6:8.1f} us, p95 {p95 * 1e6:8.1f} us; "
          f"/ floor {median / floor_value:7.1f}x; goal {goal}", flush=True)


def repair_type(weighted: bool = True) -> Any:
    source = (ROOT / "templates_library" / "repair.yaml").read_text(encoding="utf-8")
    if weighted:
        source = source.replace(
            "strategy: skill_match, match_skills: [category, fault]}",
            "strategy: skill_match, match_skills: [category, fault], weight_by_priority: true, "
            "capacity: 25}")
    return loads(source, "repair.yaml")


SKILLS = ("printer", "laptop", "network", "hardware", "software", "phone", "server",
          "storage", "mobile", "power")


def candidates(count: int, rng: random.Random) -> list[Candidate]:
    """A big team as the runtime sees it: loads by priority, skills, a few unavailable."""
    people = []
    for i in range(count):
        roll = rng.random()
        by_priority = {"normal": rng.randint(0, 15), "urgent": rng.randint(0, 5),
                       "critical": rng.randint(0, 2)}
        people.append(Candidate(
            id=f"agent-{i:04d}", open_tickets=sum(by_priority.values()),
            open_by_priority=by_priority,
            capacity=rng.choice((None, None, None, 12, 30)),
            skills=frozenset(rng.sample(SKILLS, rng.randint(0, 4))),
            on_shift=roll > 0.05, away=0.05 <= roll < 0.08, on_leave=0.08 <= roll < 0.10))
    return people


def bench_assignment(runs: int, figures: Figures) -> None:
    print("\nassignment among 500 agents (skill match weighted by priority)", flush=True)
    rule = repair_type().assignment_rules[1]
    rng = random.Random(500)
    team = candidates(500, rng)
    values = create.submission(0)
    decision = assign(rule, values, team, pointer="agent-0250")
    figures.note(f"assign: {decision.outcome} {decision.winner} "
                 f"(required {', '.join(decision.required_skills)})")
    rows = [(rng.random(), rng.randint(0, 30), f"agent-{i:04d}") for i in range(500)]
    sort_floor = timed(lambda: sorted(rows), runs)[0]
    _report(figures, "assign, 500 candidates",
            timed(lambda: assign(rule, values, team, pointer="agent-0250"), runs),
            sort_floor, "< 1 ms median")
    print(f"  {'floor: sorted() of 500 tuples':<44} median {sort_floor * 1e6:8.1f} us")


START_INSTANTS = {  # local Shanghai wall time -> why it is interesting
    "2026-11-23 10:00": "a plain Monday morning",
    "2026-11-27 17:30": "Friday, half an hour before close",
    "2026-11-28 11:00": "a Saturday",
    "2026-11-24 12:30": "the lunch break",
    "2026-02-13 16:00": "the eve of the Spring Festival holidays",
    "2026-09-30 17:00": "the eve of National Day (Golden Week)",
    "2026-12-31 15:00": "New Year's Eve",
}


def bench_calendar(runs: int, figures: Figures) -> None:
    print("\ndue instants on cn-workdays (public holidays CN and make-up days)", flush=True)
    calendar = load_calendar(CALENDAR)
    shanghai = ZoneInfo("Asia/Shanghai")
    starts = [datetime.strptime(text_, "%Y-%m-%d %H:%M").replace(tzinfo=shanghai)
              for text_ in START_INSTANTS]
    targets = {"4h": calendar.minutes_of(parse_duration("4h")),
               "2d": calendar.minutes_of(parse_duration("2d"))}
    for label, minutes in targets.items():
        for start, why in list(zip(starts, START_INSTANTS.values(), strict=True))[-3:-1]:
            due, span = calendar.add_business_time(start, minutes)
            figures.note(f"{label} from {start:%Y-%m-%d %H:%M} ({why}): due "
                         f"{due.astimezone(shanghai):%Y-%m-%d %H:%M}, "
                         f"{len(span.days_off)} day(s) off skipped")
    wall = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    plus = timedelta(hours=4)
    add_floor = timed(lambda: wall + plus, runs, inner=100)[0]
    index = iter(range(10**9))

    for label, minutes in targets.items():
        def one(minutes: float = minutes) -> object:
            return calendar.add_business_time(starts[next(index) % len(starts)], minutes)

        _report(figures, f"add_business_time {label}", timed(one, runs), add_floor,
                "< 50 us median")
    ticket_type = repair_type(weighted=False)
    values = create.submission(0)

    def whole() -> object:
        at = starts[next(index) % len(starts)]
        return schedule(ticket_type, calendar, values,
                        TicketTimes.of(at, [("repairing", at)]))

    _report(figures, "engine.sla.schedule, one repair ticket", timed(whole, runs), add_floor,
            "(no goal: two clocks, warnings, breaches)")

    def stored() -> object:
        # What tickets.create pays: the schedule and the dicts it stores (clocks, timers).
        at = starts[next(index) % len(starts)]
        return schedule(ticket_type, calendar, values,
                        TicketTimes.of(at, [("repairing", at)])).to_dicts()

    _report(figures, "schedule + to_dicts, one repair ticket", timed(stored, runs), add_floor,
            "(no goal: what runtime.services.sla.compute stores)")
    print(f"  {'floor: datetime + timedelta':<44} median {add_floor * 1e6:8.3f} us")


# --- main ----------------------------------------------------------------------------


def summary(figures: Figures) -> None:
    print("\nsummary")
    print(f"  {'database':<11} {'open tickets':>12} {'sweep s':>8} {'timers/s':>9} "
          f"{'/ 10k':>6} {'/ floor':>8}")
    for result in figures.sweeps:
        base = next(s for s in figures.sweeps if s.database == result.database)
        print(f"  {result.database:<11} {result.n:>12,} {result.seconds:>8.3f} "
              f"{result.rate:>9.0f} {result.seconds / base.seconds:>6.2f} "
              f"{result.seconds / result.floor:>7.1f}x")
    for label, (median, p95) in figures.latencies.items():
        print(f"  {label:<44} median {median * 1e6:8.1f} us, p95 {p95 * 1e6:8.1f} us")
    for note in figures.notes:
        print(f"  {note}")
    print(f"  {create.load_average()}")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2,000 and 10,000 tickets, fewer runs (a smoke run)")
    parser.add_argument("--skip-pg", action="store_true", help="SQLite only")
    parser.add_argument("--skip-million", action="store_true",
                        help="PostgreSQL up to 100,000 tickets too")
    parser.add_argument("--verbose", action="store_true",
                        help="print the claim query's plan at the largest N")
    parser.add_argument("--runs", type=int, help="samples per latency (default 2000)")
    args = parser.parse_args(argv)
    small = [2_000, 10_000] if args.quick else [10_000, 100_000]
    args.sqlite_sizes = small
    args.pg_sizes = small if args.quick or args.skip_million else [*small, 1_000_000]
    args.runs = max(10, args.runs or (200 if args.quick else 2_000))
    return args


def main(argv: Sequence[str] | None = None) -> Figures:
    args = parse(argv)
    for line in create.machine_info()[:2] + [create.load_average()]:
        print(line)
    figures = Figures()
    bench_assignment(args.runs, figures)
    bench_calendar(args.runs, figures)
    with tempfile.TemporaryDirectory(prefix="tf-bench-sla-") as scratch:
        run_sqlite(args.sqlite_sizes, Path(scratch), args.verbose, figures)
    if args.skip_pg:
        figures.note("postgresql: skipped (--skip-pg)")
    else:
        run_postgres(args.pg_sizes, args.verbose, figures)
    summary(figures)
    return figures


if __name__ == "__main__":
    main()
