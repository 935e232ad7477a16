"""Housekeeping: rows whose job is done, removed so that they do not pile up for ever.

- login and reset throttle rows whose window has passed (anyone can add one by typing a
  new name at the login, so they would otherwise grow without bound);
- browser sessions ended more than `KEPT_FOR` ago (a replayed cookie finds no row, as it
  found a revoked one);
- password resets used, ended or expired more than `KEPT_FOR` ago, and those whose
  e-mail never went out.

What happened stays in the events (logins, logouts, resets asked for and made), which
nothing deletes. The worker sweeps at most once per `INTERVAL`; every sweep is a few
indexed deletes, safe to run from several workers at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func

from runtime.db import Database
from runtime.models import LoginThrottle, PasswordReset, UserSession
from runtime.services.accounts import THROTTLE_WINDOW

KEPT_FOR = timedelta(days=30)
INTERVAL = timedelta(hours=1)


@dataclass(frozen=True)
class Swept:
    """How many rows of each kind a sweep removed."""

    throttles: int
    sessions: int
    resets: int

    def __bool__(self) -> bool:
        return bool(self.throttles or self.sessions or self.resets)


def sweep(db: Database, now: datetime) -> Swept:
    """Remove what is no longer needed as of `now` (one transaction)."""
    long_ago = now - KEPT_FOR
    with db.write() as session:
        throttles = session.execute(delete(LoginThrottle).where(
            LoginThrottle.window_start <= now - THROTTLE_WINDOW)).rowcount
        sessions = session.execute(delete(UserSession).where(
            UserSession.revoked_at <= long_ago)).rowcount
        done = func.coalesce(PasswordReset.used_at, PasswordReset.ended_at,
                             PasswordReset.expires_at, PasswordReset.requested_at)
        resets = session.execute(delete(PasswordReset).where(done <= long_ago)).rowcount
    return Swept(throttles, sessions, resets)
