"""SLA warnings and breaches fire exactly once with four real worker processes on
PostgreSQL, one of them killed with SIGKILL in the middle of its batch.

The workers are `ticketflow worker --once` subprocesses pinned to an instant with
`--now` (time is a parameter, nothing sleeps). The kill lands mid-batch by construction,
not by timing: the test holds the tickets' rows locked (`FOR UPDATE`), so every worker
claims its batch and then waits in its first firing (recording an event takes a key-share
lock on its ticket). Once all four hold leases, one is killed; the lock is released; the
other three finish; after the lease expiry instant a fresh worker takes over the dead
one's timers. A ticket's timers are a sequence (one armed row at a time): each warning
fired arms its breach, which is due too and fires in a later claim.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from runtime.models import Event, EventKind, Ticket, Timer, TimerKind, TimerState
from runtime.services import sla, tickets, timers
from tests.conftest import ROOT
from tests.runtime.conftest import VALID_REPAIR, Seed

pytestmark = [pytest.mark.postgres,
              pytest.mark.parametrize("database", ["postgresql"], indirect=True)]

TICKETS = 12
BATCH = 3  # 12 tickets' first-response warnings armed and due = 4 workers x 3
DEADLINE = 60.0  # seconds; polling a database we control, never asserting time


def _worker(seed: Seed, tmp_path: Path, name: str, now: datetime, batch: int = BATCH
            ) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": seed.db.url,
           "TICKETFLOW_INSTANCE": str(tmp_path / "instance")}
    command = [sys.executable, "-m", "runtime.cli", "worker", "--once", "--id", name,
               "--batch", str(batch), "--now", now.isoformat()]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _leases(seed: Seed) -> Counter[str]:
    with seed.db.read() as session:
        owners = session.scalars(select(Timer.lease_owner).where(
            Timer.state == str(TimerState.LEASED))).all()
    return Counter(owner for owner in owners if owner)


def _wait_for(condition: str, check: Callable[[], bool],
              workers: list[subprocess.Popen[str]]) -> None:
    """Poll until `check()` holds; a worker that exits early fails the test with its
    output (the deadline only guards against hanging forever)."""
    deadline = time.monotonic() + DEADLINE
    while not check():
        for process in workers:
            if process.poll() is not None:
                pytest.fail(f"a worker exited while waiting for {condition}: "
                            f"{process.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {condition}")
        time.sleep(0.05)


@pytest.fixture
def locked_tickets(seed: Seed) -> Iterator[Callable[[], None]]:
    """Hold every ticket row `FOR UPDATE` until the returned function is called."""
    engine = create_engine(seed.db.url)
    connection = engine.connect()
    transaction = connection.begin()
    connection.execute(text("SELECT id FROM tickets FOR UPDATE")).all()
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            transaction.rollback()
            released = True

    try:
        yield release
    finally:
        release()
        connection.close()
        engine.dispose()


def _sla_events(seed: Seed) -> Counter[tuple[int | None, str, str]]:
    """(ticket, clock, warning|breach) of every SLA event recorded."""
    with seed.db.read() as session:
        rows = session.execute(select(Event.ticket_id, Event.kind, Event.data).where(
            Event.kind.in_([str(EventKind.SLA_WARNING), str(EventKind.SLA_BREACHED)]))).all()
    return Counter((ticket, data["clock"], kind) for ticket, kind, data in rows)


def _fired_keys(seed: Seed) -> Counter[str]:
    with seed.db.read() as session:
        data = session.scalars(select(Event.data).where(
            Event.kind == str(EventKind.TIMER_FIRED))).all()
    return Counter(item["key"] for item in data)


def test_four_workers_one_killed_mid_batch_fire_each_warning_and_breach_once(
        seed: Seed, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    numbers = [tickets.create(seed.db, seed.request("li"), "repair", dict(VALID_REPAIR)).number
               for _ in range(TICKETS)]
    # 09:00 Monday in Shanghai + 4 working hours = 14:00: five minutes past the
    # first-response breach (and its warning); the resolution clock (2 days) still runs.
    now = seed.clock.advance(hours=5, minutes=5)
    with seed.db.read() as session:
        due = {key: kind for key, kind in session.execute(select(Timer.key, Timer.kind).where(
            Timer.state == str(TimerState.PENDING), Timer.due_at <= now))}
    assert sorted(due.values()) == [str(TimerKind.SLA_WARNING)] * TICKETS
    assert all(key.startswith(tuple(sla.prefix(n) for n in numbers)) for key in due)
    every = {sla.prefix(n) + f"first_response:{end}" for n in numbers
             for end in ("warning", "breach")}

    release = request.getfixturevalue("locked_tickets")
    names = ["w1", "w2", "w3", "w4"]
    workers = [_worker(seed, tmp_path, name, now) for name in names]
    try:
        _wait_for("four leased batches", lambda: _leases(seed) == dict.fromkeys(names, BATCH),
                  workers)
        victim = workers[0]
        victim.kill()  # SIGKILL: no handler runs, its leases stay behind
        victim.wait(timeout=DEADLINE)
        release()
        outputs = [process.communicate(timeout=DEADLINE) for process in workers[1:]]
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert victim.returncode == -9
    assert [process.returncode for process in workers[1:]] == [0, 0, 0], outputs
    assert [out.split(";")[0] for out, _ in outputs] == [
        f"timers: {BATCH} fired, 0 failed, 0 skipped"] * 3
    with seed.db.read() as session:
        orphaned = set(session.scalars(select(Timer.key).where(
            Timer.state == str(TimerState.LEASED), Timer.lease_owner == "w1")))
    assert len(orphaned) == BATCH  # the killed worker fired nothing: its transaction died

    # Before the lease runs out nobody takes the dead worker's timers: a fresh worker
    # fires only the breaches the other three armed ...
    early = _worker(seed, tmp_path, "w5", now + timedelta(minutes=1), batch=100)
    assert early.communicate(timeout=DEADLINE)[0].startswith(f"timers: {3 * BATCH} fired")
    assert _leases(seed) == {"w1": BATCH}
    # ... after it, one pass of another fires them, once, and the breaches they arm.
    late = _worker(seed, tmp_path, "w6", now + timers.DEFAULT_LEASE + timedelta(seconds=1),
                   batch=100)
    out, err = late.communicate(timeout=DEADLINE)
    assert late.returncode == 0, err
    assert out.startswith(f"timers: {2 * BATCH} fired")

    assert _fired_keys(seed) == dict.fromkeys(every, 1)
    with seed.db.read() as session:
        rows = session.execute(select(Timer.key, Timer.state, Timer.lease_owner).where(
            Timer.key.in_(list(every)))).all()
        ids = dict(session.execute(select(Ticket.number, Ticket.id)).all())
    assert {state for _, state, _ in rows} == {str(TimerState.FIRED)}
    assert {key: owner for key, _, owner in rows if key in orphaned} == dict.fromkeys(
        orphaned, "w6")
    expected = {(ids[number], "first_response", kind): 1 for number in numbers
                for kind in (str(EventKind.SLA_WARNING), str(EventKind.SLA_BREACHED))}
    assert _sla_events(seed) == expected

