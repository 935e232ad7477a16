"""The period a report covers: from an instant (inclusive) to another (exclusive),
optionally one ticket type or one team."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select

from runtime.models import Team, Ticket
from runtime.services.errors import BadRequest


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    ticket_type: str | None = None
    team: str | None = None

    def check(self) -> None:
        """400 for a period that ends before it starts."""
        if self.end <= self.start:
            raise BadRequest("the period ends before it starts", code="bad-period")

    def ticket_scope(self) -> list[ColumnElement[bool]]:
        """The conditions on tickets for the type and the team, when given."""
        scope: list[ColumnElement[bool]] = []
        if self.ticket_type:
            scope.append(Ticket.ticket_type == self.ticket_type)
        if self.team:
            scope.append(Ticket.team_id == select(Team.id).where(
                Team.key == self.team).scalar_subquery())
        return scope

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "before": self.end.isoformat(),
                "ticket_type": self.ticket_type, "team": self.team}


def until_now(now: datetime) -> datetime:
    """The end of a period that includes `now` (the end is exclusive)."""
    return now + timedelta(microseconds=1)


def last_days(now: datetime, days: int, ticket_type: str | None = None,
              team: str | None = None) -> Period:
    """The `days` days up to and including `now`."""
    end = until_now(now)
    return Period(end - timedelta(days=days), end, ticket_type, team)
