"""Timers: each fires exactly once however many workers race, crash or see the clock
jump; on SQLite and PostgreSQL. Time moves by hand (the `clock` fixture), never by
sleeping."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from runtime.config import DeliverySettings
from runtime.db import Database
from runtime.models import Event, EventKind, Notification, Timer, TimerKind, TimerState
from runtime.services import reminders, timers
from runtime.services.errors import Invalid, NotFound
from runtime.worker import Worker
from tests.conftest import ROOT
from tests.runtime.conftest import VALID_REPAIR, Clock, Seed

LEASE = timedelta(minutes=2)


def schedule(seed: Seed, key: str, in_minutes: float, *, kind: TimerKind = TimerKind.NOTIFY,
             **payload: Any) -> None:
    body = payload or {"users": ["wang"], "subject": key, "text": "due", "email": False}
    with seed.db.write() as session:
        timers.schedule(session, kind=kind, key=key, now=seed.clock(), payload=body,
                        due_at=seed.clock() + timedelta(minutes=in_minutes))


def state_of(seed: Seed, key: str) -> str:
    with seed.db.read() as session:
        return session.scalar(select(Timer.state).where(Timer.key == key)) or "missing"


def fired_keys(db: Database) -> Counter[str]:
    """How often each key fired, read from the append-only events."""
    with db.read() as session:
        data = session.scalars(select(Event.data).where(
            Event.kind == str(EventKind.TIMER_FIRED)).order_by(Event.id)).all()
    return Counter(item["key"] for item in data)


def fire_order(db: Database) -> list[str]:
    with db.read() as session:
        data = session.scalars(select(Event.data).where(
            Event.kind == str(EventKind.TIMER_FIRED)).order_by(Event.id)).all()
    return [item["key"] for item in data]


def run(seed: Seed, owner: str = "w1", **options: Any) -> timers.Pass:
    return timers.run_due(seed.db, now=seed.clock(), owner=owner, lease=LEASE, **options)


# --- scheduling ------------------------------------------------------------------------


def test_a_timer_fires_when_due_and_only_then(seed: Seed):
    schedule(seed, "t:1", 10)
    assert run(seed).claimed == 0
    seed.clock.advance(minutes=10)
    assert run(seed).fired == 1
    assert state_of(seed, "t:1") == TimerState.FIRED
    assert run(seed).claimed == 0
    assert fired_keys(seed.db) == {"t:1": 1}


def test_rescheduling_a_pending_key_moves_it_and_a_fired_key_is_never_rearmed(seed: Seed):
    schedule(seed, "t:move", 10)
    schedule(seed, "t:move", 30)  # the same firing, now later: still one row
    seed.clock.advance(minutes=10)
    assert run(seed).claimed == 0
    seed.clock.advance(minutes=20)
    assert run(seed).fired == 1
    schedule(seed, "t:move", 5)  # a re-run of whatever scheduled it: no second firing
    seed.clock.advance(minutes=5)
    assert run(seed).claimed == 0
    with seed.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Timer)) == 1
    assert fired_keys(seed.db) == {"t:move": 1}


@pytest.mark.parametrize(("cancel", "left"), [
    ({"key": "sla:REP-1:resolution:breach"}, {"sla:REP-1:response:warn", "sla:REP-2:x"}),
    ({"prefix": "sla:REP-1:"}, {"sla:REP-2:x"}),
    ({"prefix": "sla:REP-_"}, {"sla:REP-1:response:warn", "sla:REP-1:resolution:breach",
                               "sla:REP-2:x"}),  # "_" is a character, not a wildcard
], ids=["by-key", "by-prefix", "prefix-is-literal"])
def test_cancel_by_key_or_prefix(seed: Seed, cancel: dict[str, str], left: set[str]):
    for key in ("sla:REP-1:response:warn", "sla:REP-1:resolution:breach", "sla:REP-2:x"):
        schedule(seed, key, 5)
    with seed.db.write() as session:
        timers.cancel(session, **cancel)
    seed.clock.advance(minutes=5)
    run(seed)
    assert set(fired_keys(seed.db)) == left


def test_a_cancelled_key_can_be_armed_again(seed: Seed):
    schedule(seed, "t:pause", 5)
    with seed.db.write() as session:
        assert timers.cancel(session, key="t:pause") == 1
    schedule(seed, "t:pause", 10)  # e.g. an SLA clock resumed
    seed.clock.advance(minutes=10)
    assert run(seed).fired == 1


def test_sync_makes_the_unfired_timers_under_a_prefix_the_planned_ones(seed: Seed):
    def plan(*keys_and_minutes: tuple[str, int]) -> None:
        with seed.db.write() as session:
            timers.sync(session, prefix="sla:REP-1:", now=seed.clock(), planned=[
                timers.Planned(TimerKind.NOTIFY, key, seed.clock() + timedelta(minutes=m),
                               {"users": [], "email": False})
                for key, m in keys_and_minutes])

    schedule(seed, "sla:REP-2:other", 100)  # another ticket's: untouched
    plan(("sla:REP-1:warn", 10), ("sla:REP-1:breach", 40))
    seed.clock.advance(minutes=10)
    run(seed)  # the warning fired
    plan(("sla:REP-1:warn", 20), ("sla:REP-1:breach:v2", 60))  # recomputed after a change
    seed.clock.advance(days=1)
    run(seed)
    assert fired_keys(seed.db) == {"sla:REP-1:warn": 1, "sla:REP-1:breach:v2": 1,
                                   "sla:REP-2:other": 1}
    assert state_of(seed, "sla:REP-1:breach") == "cancelled"
    with seed.db.write() as session, pytest.raises(ValueError, match="must start with"):
        timers.sync(session, prefix="sla:REP-1:", now=seed.clock(),
                    planned=[timers.Planned(TimerKind.NOTIFY, "sla:REP-9:x", seed.clock())])


def _plan(seed: Seed, prefix: str, *keys_and_minutes: tuple[str, int],
          kind: TimerKind | str = TimerKind.NOTIFY) -> None:
    with seed.db.write() as session:
        timers.sync(session, prefix=prefix, now=seed.clock(), planned=[
            timers.Planned(kind, prefix + key, seed.clock() + timedelta(minutes=m),
                           {"users": [], "email": False, "name": key})
            for key, m in keys_and_minutes])


def _upcoming(seed: Seed, prefix: str) -> list[str]:
    with seed.db.read() as session:
        return [item.key.removeprefix(prefix) for item in timers.upcoming(session, prefix)]


def _armed(seed: Seed) -> set[str]:
    with seed.db.read() as session:
        return set(session.scalars(select(Timer.key).where(
            Timer.state == str(TimerState.PENDING))))


def test_a_plan_is_one_armed_timer_at_a_time_and_firing_it_arms_the_next(seed: Seed):
    _plan(seed, "s:1:", ("breach", 40), ("warn", 10), ("escalate", 70))
    assert _armed(seed) == {"s:1:warn"}  # one row armed, carrying the rest
    assert _upcoming(seed, "s:1:") == ["warn", "breach", "escalate"]
    seed.clock.advance(minutes=10)
    assert run(seed).fired == 1
    assert _armed(seed) == {"s:1:breach"}
    assert _upcoming(seed, "s:1:") == ["breach", "escalate"]
    seed.clock.advance(days=1)  # past both: one pass fires them, in order
    assert (run(seed).fired, _armed(seed)) == (2, set())
    assert fire_order(seed.db) == ["s:1:warn", "s:1:breach", "s:1:escalate"]
    with seed.db.read() as session:  # the rest of the plan is no one's business but ours
        payloads = session.scalars(select(Event.data["payload"]).where(
            Event.kind == str(EventKind.TIMER_FIRED))).all()
    assert [payload["name"] for payload in payloads] == ["warn", "breach", "escalate"]
    assert all(timers.THEN not in payload for payload in payloads)


def test_a_timer_whose_handler_fails_holds_up_nothing_after_it_in_its_plan(
        seed: Seed, monkeypatch: pytest.MonkeyPatch):
    def broken(session: Any, firing: timers.Firing) -> None:
        raise RuntimeError("the handler broke")

    monkeypatch.setitem(timers.HANDLERS, "broken", broken)
    rest = {"users": [], "email": False}
    with seed.db.write() as session:
        timers.sync(session, prefix="s:1:", now=seed.clock(), planned=[
            timers.Planned("broken", "s:1:warn", seed.clock()),
            timers.Planned(TimerKind.NOTIFY, "s:1:breach", seed.clock() + timedelta(hours=1),
                           rest),
            timers.Planned(TimerKind.NOTIFY, "s:1:escalate",
                           seed.clock() + timedelta(hours=3), rest)])
    assert run(seed).failed == 1
    assert _armed(seed) == {"s:1:breach"}  # at once: the warning's retries are its own
    assert _upcoming(seed, "s:1:") == ["warn", "breach", "escalate"]
    seed.clock.advance(hours=1)
    assert (run(seed).failed, _armed(seed)) == (1, {"s:1:escalate"})  # the breach fired
    assert _upcoming(seed, "s:1:") == ["warn", "escalate"]
    for _ in range(timers.MAX_ATTEMPTS - 2):  # given up on in the end: nothing re-armed
        seed.clock.advance(minutes=10)
        assert (run(seed).failed, _armed(seed)) == (1, {"s:1:escalate"})
    assert state_of(seed, "s:1:warn") == "failed"
    seed.clock.advance(hours=2)
    assert run(seed).fired == 1
    assert fired_keys(seed.db) == {"s:1:breach": 1, "s:1:escalate": 1}


def test_cancel_needs_exactly_one_selector(seed: Seed):
    with seed.db.write() as session, pytest.raises(ValueError, match="exactly one"):
        timers.cancel(session)


# --- clocks ----------------------------------------------------------------------------


def test_a_clock_jumping_forward_fires_each_overdue_timer_once_in_due_order(seed: Seed):
    for minutes in (50, 10, 40, 20, 30):
        schedule(seed, f"t:{minutes:02d}", minutes)
    seed.clock.advance(days=7)  # the machine slept for a week
    first = run(seed, limit=2)  # a bounded batch, not a storm
    assert (first.claimed, first.fired) == (2, 2)
    while run(seed, limit=2).claimed:
        pass
    assert fire_order(seed.db) == ["t:10", "t:20", "t:30", "t:40", "t:50"]
    assert set(fired_keys(seed.db).values()) == {1}


def test_a_clock_jumping_back_fires_nothing_again(seed: Seed):
    schedule(seed, "t:once", 5)
    seed.clock.advance(minutes=5)
    run(seed)
    seed.clock.advance(hours=-3)
    assert run(seed).claimed == 0
    seed.clock.advance(hours=6)
    assert run(seed).claimed == 0
    assert fired_keys(seed.db) == {"t:once": 1}


def test_timers_that_came_due_while_no_worker_ran_fire_once_on_start(seed: Seed):
    for index in range(3):
        schedule(seed, f"t:{index}", index)
    seed.clock.advance(hours=12)
    worker = Worker(seed.db, DeliverySettings(), owner="starting", clock=seed.clock)
    assert worker.run_once().timers.fired == 3
    assert worker.run_once().timers.claimed == 0


# --- leases and crashes --------------------------------------------------------------


def test_a_crashed_workers_timers_are_reclaimed_when_the_lease_expires(seed: Seed):
    schedule(seed, "t:a", 0)
    schedule(seed, "t:b", 0)
    claimed = timers.claim_due(seed.db, now=seed.clock(), owner="crashed", lease=LEASE)
    assert [c.key for c in claimed] == ["t:a", "t:b"]
    # ... and the worker dies without firing them.
    assert run(seed, owner="w2").claimed == 0  # leased: not before the lease runs out
    seed.clock.advance(minutes=2)
    assert run(seed, owner="w2").fired == 2
    assert fired_keys(seed.db) == {"t:a": 1, "t:b": 1}


def test_a_worker_killed_mid_batch_loses_nothing_and_fires_nothing_twice(seed: Seed):
    for index in range(4):
        schedule(seed, f"t:{index}", 0)
    batch = timers.claim_due(seed.db, now=seed.clock(), owner="w1", lease=LEASE)
    for claimed in batch[:2]:  # fires half its batch, then is killed
        assert timers.fire(seed.db, claimed, now=seed.clock(), owner="w1") == "fired"
    seed.clock.advance(minutes=3)
    assert run(seed, owner="w2").fired == 2  # the other half, once
    # w1 was only paused (a long GC, a frozen VM): its late attempts change nothing.
    for claimed in batch:
        assert timers.fire(seed.db, claimed, now=seed.clock(), owner="w1") == "skipped"
    assert fired_keys(seed.db) == {f"t:{i}": 1 for i in range(4)}


def test_rescheduling_a_leased_timer_takes_it_away_from_its_worker(seed: Seed):
    schedule(seed, "t:moved", 0)
    [claimed] = timers.claim_due(seed.db, now=seed.clock(), owner="w1", lease=LEASE)
    schedule(seed, "t:moved", 60)
    assert timers.fire(seed.db, claimed, now=seed.clock(), owner="w1") == "skipped"
    seed.clock.advance(minutes=60)
    assert run(seed, owner="w2").fired == 1


def test_a_stopping_worker_gives_back_the_rest_of_its_batch(seed: Seed):
    for index in range(3):
        schedule(seed, f"t:{index}", 0)
    asked: list[int] = []

    def stop_after_one() -> bool:
        asked.append(1)
        return len(asked) > 1

    done = run(seed, owner="stopping", stop=stop_after_one)
    assert (done.claimed, done.fired) == (3, 1)
    assert run(seed, owner="next").fired == 2  # at once: no lease to wait out
    with seed.db.read() as session:
        assert set(session.scalars(select(Timer.attempts))) == {1}


# --- handlers ------------------------------------------------------------------------


def test_a_failing_handler_fires_nothing_and_is_retried_then_left_failed(
        seed: Seed, monkeypatch: pytest.MonkeyPatch):
    calls: list[str] = []

    def half_then_fail(session: Any, firing: timers.Firing) -> None:
        calls.append(firing.key)
        session.add(Notification(user_id=1, kind="notice", title="half-done", data={},
                                 created_at=firing.now))
        session.flush()
        raise RuntimeError("the handler broke")

    monkeypatch.setitem(timers.HANDLERS, "broken", half_then_fail)
    with seed.db.write() as session:
        timers.schedule(session, kind="broken", key="t:broken", due_at=seed.clock(),
                        now=seed.clock())
    for _ in range(timers.MAX_ATTEMPTS):
        assert run(seed).failed == 1
        seed.clock.advance(hours=2)
    assert run(seed).claimed == 0
    assert len(calls) == timers.MAX_ATTEMPTS
    with seed.db.read() as session:
        timer = session.scalar(select(Timer).where(Timer.key == "t:broken"))
        assert timer is not None
        assert (timer.state, timer.last_error) == ("failed",
                                                   "RuntimeError: the handler broke")
        assert session.scalar(select(func.count()).select_from(Notification)) == 0
    assert fired_keys(seed.db) == {}  # the event rolled back with the handler's rows


def test_a_kind_without_a_handler_waits_unharmed(seed: Seed):
    # A kind a newer release handles, scheduled before this worker was upgraded.
    schedule(seed, "later:REP-1", 0, kind="from_a_newer_release", target="x")  # type: ignore[arg-type]
    assert run(seed).claimed == 0
    assert state_of(seed, "later:REP-1") == "pending"


# --- reminders -----------------------------------------------------------------------


def test_a_reminder_reaches_its_user_once_as_inbox_entry_and_event(seed: Seed):
    from runtime.services import tickets

    number = tickets.create(seed.db, seed.request("li"), "repair", dict(VALID_REPAIR)).number
    reminder = reminders.remind(seed.db, seed.request("wang"), number,
                                at=seed.clock() + timedelta(hours=1), note="call the customer")
    assert reminder.key.startswith(f"remind:{number}:")
    seed.clock.advance(hours=1)
    assert run(seed).fired == 1
    with seed.db.read() as session:
        [entry] = session.scalars(select(Notification)).all()
    assert entry.kind == "reminder"
    assert entry.title == f"Reminder: {number} PRN-0042"
    assert entry.data["detail"] == "call the customer"
    timeline = tickets.timeline(seed.db, seed.request("wang"), number)
    assert timeline[-1].kind == "timer_fired"
    # the requester's timeline does not show the staff's reminders
    assert [e.kind for e in tickets.timeline(seed.db, seed.request("li"), number)] == [
        "created", "assigned"]


@pytest.mark.parametrize(("who", "at_hours", "error"), [
    ("wang", -1, Invalid), ("zhou", 1, NotFound)],
    ids=["in-the-past", "someone-elses-ticket"])
def test_reminders_that_are_refused(seed: Seed, who: str, at_hours: int,
                                    error: type[Exception]):
    from runtime.services import tickets

    number = tickets.create(seed.db, seed.request("li"), "repair", dict(VALID_REPAIR)).number
    with pytest.raises(error):
        reminders.remind(seed.db, seed.request(who), number,
                         at=seed.clock() + timedelta(hours=at_hours))


# --- racing workers ------------------------------------------------------------------


def _drain(db: Database, clock: Clock, owner: str, errors: list[BaseException],
           start: threading.Barrier) -> None:
    worker = Worker(db, DeliverySettings(), owner=owner, clock=clock, timer_batch=3)
    try:
        start.wait()
        while worker.run_once().timers.claimed:
            pass
    except BaseException as error:  # reported by the test, not lost in the thread
        errors.append(error)


def test_racing_worker_threads_fire_each_timer_exactly_once(seed: Seed):
    keys = [f"race:{index:03d}" for index in range(60)]
    for index, key in enumerate(keys):
        schedule(seed, key, index % 7)
    seed.clock.advance(minutes=10)
    errors: list[BaseException] = []
    start = threading.Barrier(4)
    threads = [threading.Thread(target=_drain, args=(seed.db, seed.clock, f"w{n}", errors,
                                                     start)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert fired_keys(seed.db) == dict.fromkeys(keys, 1)
    with seed.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 60


def test_racing_worker_processes_fire_each_timer_exactly_once(seed: Seed, tmp_path: Any):
    keys = [f"proc:{index:03d}" for index in range(90)]
    for key in keys:
        schedule(seed, key, -10 * 365 * 24 * 60)  # due by the workers' real clock, too
    env = {**os.environ, "DATABASE_URL": seed.db.url,
           "TICKETFLOW_INSTANCE": str(tmp_path / "instance")}
    command = [sys.executable, "-m", "runtime.cli", "worker", "--once", "--batch", "30"]
    workers = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [process.communicate(timeout=120) for process in workers]
    assert [process.returncode for process in workers] == [0, 0, 0], outputs
    # Three disjoint batches of 30: every worker fired a full batch, none twice.
    assert [out.split(";")[0] for out, _ in outputs] == [
        "timers: 30 fired, 0 failed, 0 skipped"] * 3
    assert fired_keys(seed.db) == dict.fromkeys(keys, 1)

