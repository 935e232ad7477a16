"""Who is acting, from where, and when. Time is a parameter: services never read a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from runtime.models import Role

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real clock (used only at the edges: the web app, the CLI, the worker)."""
    return datetime.now(UTC)


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
