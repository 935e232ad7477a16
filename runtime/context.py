"""Who is acting, from where, and when. Time is a parameter: services never read a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo

from runtime.models import Role

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real clock (used only at the edges: the web app, the CLI, the worker)."""
    return datetime.now(UTC)


def instant_or_day(text: str, zone: tzinfo) -> datetime:
    """An instant a person or a program typed, in UTC: ISO 8601 with its offset
    (2026-12-01T08:00:00+08:00), or a date (2026-12-01), meaning its midnight on `zone`'s
    clock. ValueError says what is wrong."""
    try:
        if len(text) == 10:
            instant = datetime.combine(date.fromisoformat(text), time(), zone)
        else:
            instant = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("must be a date (YYYY-MM-DD) or an ISO 8601 instant with its "
                         "offset") from None
    if instant.tzinfo is None:
        raise ValueError("an instant needs its offset (add Z or +08:00)")
    try:
        return instant.astimezone(UTC)
    except OverflowError:  # the first or last day of the calendar, shifted past it
        raise ValueError("is out of range") from None


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated user as the policy sees them."""

    user_id: int
    username: str
    role: Role
    team_ids: frozenset[int] = field(default_factory=frozenset)
    language: str = "en"

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_staff(self) -> bool:
        """Agents, supervisors and admins: people who work tickets."""
        return self.role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class Request:
    """Everything a service needs to know about the call besides its arguments."""

    actor: Actor
    now: datetime
    address: str | None = None
