"""Housekeeping on SQLite and PostgreSQL: rows whose job is done go — throttle windows
that passed, sessions ended a month ago, reset links used, ended or expired a month ago —
and nothing that still counts; the worker sweeps at most once an hour."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from runtime.models import LoginThrottle, PasswordReset, User, UserSession
from runtime.services import accounts, housekeeping
from runtime.services.errors import Forbidden, TooManyRequests
from tests.runtime.conftest import Seed
from tests.runtime.test_delivery import settings_for, worker

DAY = timedelta(days=1)


def _user_id(seed: Seed, username: str = "li") -> int:
    with seed.db.read() as session:
        return session.scalars(select(User.id).where(User.username == username)).one()


def _keys(seed: Seed) -> set[str]:
    with seed.db.read() as session:
        return set(session.scalars(select(LoginThrottle.key)))


def _add_throttle(seed: Seed, key: str, started: datetime) -> None:
    with seed.db.write() as session:
        session.add(LoginThrottle(key=key, window_start=started, failures=3))


def test_throttle_windows_that_passed_go(seed: Seed) -> None:
    now = seed.clock()
    _add_throttle(seed, "user:old", now - accounts.THROTTLE_WINDOW - timedelta(seconds=1))
    _add_throttle(seed, "user:recent", now - accounts.THROTTLE_WINDOW + timedelta(minutes=1))
    swept = housekeeping.sweep(seed.db, now)
    assert swept.throttles == 1
    assert _keys(seed) == {"user:recent"}


def test_a_sweep_never_lifts_a_lock_still_in_force(seed: Seed) -> None:
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(Forbidden):
            accounts.log_in(seed.db, "li", "a wrong guess", now=seed.clock(), address=None)
    seed.clock.advance(minutes=10)
    housekeeping.sweep(seed.db, seed.clock())
    with pytest.raises(TooManyRequests):
        accounts.log_in(seed.db, "li", "a wrong guess", now=seed.clock(), address=None)


@pytest.mark.parametrize(("revoked_days_ago", "kept"), [
    (None, True), (29, True), (31, False),
], ids=["a live session", "ended a month ago less a day", "ended over a month ago"])
def test_ended_sessions_go_after_a_month(seed: Seed, revoked_days_ago: int | None,
                                         kept: bool) -> None:
    now = seed.clock()
    with seed.db.write() as session:
        session.add(UserSession(
            id="s1", user_id=_user_id(seed), created_at=now - 40 * DAY,
            revoked_at=None if revoked_days_ago is None else now - revoked_days_ago * DAY))
    housekeeping.sweep(seed.db, now)
    with seed.db.read() as session:
        assert (session.get(UserSession, "s1") is not None) is kept


@pytest.mark.parametrize(("columns", "kept"), [
    ({"issued_at": 0, "expires_at": 1}, True),  # a live link
    ({"issued_at": -31, "expires_at": -31, "used_at": -31}, False),
    ({"issued_at": -29, "expires_at": -29, "used_at": -29}, True),
    ({"issued_at": -32, "expires_at": -31}, False),  # expired unused
    ({"ended_at": -31}, False),  # ended before its e-mail went out
    ({}, True),  # its e-mail has not gone out yet (asked for today)
], ids=["live", "used a month ago", "used less than a month ago", "expired",
        "ended unsent", "waiting to be sent"])
def test_reset_links_go_a_month_after_they_end(seed: Seed, columns: dict[str, int],
                                               kept: bool) -> None:
    now = seed.clock()
    with seed.db.write() as session:
        session.add(PasswordReset(id=1, user_id=_user_id(seed), requested_at=now - 40 * DAY
                                  if columns else now,
                                  **{name: now + days * DAY for name, days in columns.items()}))
    housekeeping.sweep(seed.db, now)
    with seed.db.read() as session:
        assert (session.get(PasswordReset, 1) is not None) is kept


def test_the_worker_sweeps_at_most_once_an_hour(seed: Seed) -> None:
    the_worker = worker(seed, settings_for())
    the_worker.run_once()
    stale = seed.clock() - accounts.THROTTLE_WINDOW - timedelta(minutes=1)
    _add_throttle(seed, "user:stale", stale)
    the_worker.run_once()
    assert "user:stale" in _keys(seed)  # swept a moment ago: not again yet
    seed.clock.advance(minutes=61)
    the_worker.run_once()
    assert "user:stale" not in _keys(seed)
