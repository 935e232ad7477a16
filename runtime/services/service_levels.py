"""How well a period's tickets were served, for supervisors: how many were opened and
closed, how long closing took, and how often each SLA clock was met on time.

Counted over the tickets the supervisor may see (`policy.visible_tickets`). A clock is
judged on the tickets closed in the period, by the status its ticket's SLA record keeps:
met on time, met late (it was breached), or stopped (the ticket closed before the clock
was met, e.g. resolved without a first reply). Attainment is met / (met + late).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import func, select

from engine.sla import ClockStatus, SlaKind
from runtime import policy
from runtime.context import Request
from runtime.db import Database
from runtime.delivery import messages
from runtime.models import Ticket
from runtime.services.errors import Forbidden
from runtime.services.periods import Period
from runtime.services.sla import CLOCK_LABELS


@dataclass(frozen=True)
class ClockResult:
    """One kind of SLA clock over the tickets closed in the period."""

    kind: str
    label: str
    met: int
    late: int
    stopped: int

    @property
    def attainment(self) -> float | None:
        """Met on time, of the clocks that were met (None when none was)."""
        judged = self.met + self.late
        return self.met / judged if judged else None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "met": self.met, "late": self.late,
                "stopped": self.stopped, "attainment": self.attainment}


@dataclass(frozen=True)
class ServiceLevels:
    period: Period
    opened: int
    closed: int
    # Calendar time from opening to closing of the tickets closed in the period.
    median_to_close: timedelta | None
    p90_to_close: timedelta | None
    clocks: list[ClockResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def hours(span: timedelta | None) -> float | None:
            return round(span.total_seconds() / 3600, 2) if span is not None else None

        return {**self.period.to_dict(), "opened": self.opened, "closed": self.closed,
                "median_hours_to_close": hours(self.median_to_close),
                "p90_hours_to_close": hours(self.p90_to_close),
                "clocks": [clock.to_dict() for clock in self.clocks]}


# The clocks' order in a report: the customer's first wait first.
_ORDER = tuple(CLOCK_LABELS)


def service_levels(db: Database, request: Request, period: Period) -> ServiceLevels:
    """The period's tickets as the actor may see them, summed up (supervisors and
    administrators)."""
    if not policy.can_supervise(request.actor):
        raise Forbidden("only supervisors and administrators may read service levels")
    period.check()
    language = messages.language_of(request.actor.language)
    scope = [policy.visible_tickets(request.actor), *period.ticket_scope()]
    outcomes, decode = _clock_outcomes(db.dialect)
    durations: list[timedelta] = []
    statuses: defaultdict[str, Counter[str]] = defaultdict(Counter)
    with db.read() as session:
        opened = session.scalar(select(func.count()).select_from(Ticket).where(
            *scope, Ticket.created_at >= period.start, Ticket.created_at < period.end))
        for created_at, closed_at, found in session.execute(
                select(Ticket.created_at, Ticket.closed_at, outcomes).where(
                    *scope, Ticket.closed_at >= period.start, Ticket.closed_at < period.end)):
            durations.append(closed_at - created_at)
            pairs = decode(found) if found is not None else ()
            for kind, status in zip(pairs[::2], pairs[1::2], strict=True):
                if kind is not None:
                    statuses[kind][status or ""] += 1
    results = [ClockResult(name, CLOCK_LABELS.get(name, {}).get(language, name),
                           counts[ClockStatus.MET], counts[ClockStatus.MET_LATE],
                           counts[ClockStatus.STOPPED])
               for name, counts in sorted(statuses.items(), key=lambda item: (
                   _ORDER.index(item[0]) if item[0] in _ORDER else len(_ORDER), item[0]))]
    return ServiceLevels(period, opened or 0, len(durations), _quantile(durations, 0.5),
                         _quantile(durations, 0.9), results)


def _clock_outcomes(dialect: str) -> tuple[Any, Callable[[Any], Any]]:
    """A column holding each of a ticket's clocks' kind and status, one after the other
    (null for the slots it does not use), and how to read it. Only these few values are
    taken out of the SLA record, which also explains each due instant: decoding whole
    records took most of a second for a month of closed tickets."""
    slots = [(i, key) for i in range(len(SlaKind)) for key in ("kind", "status")]
    if dialect == "postgresql":
        return func.json_build_array(*(Ticket.sla[("clocks", i, key)].as_string()
                                       for i, key in slots)), list
    # One parse of the record for all the paths (SQLite returns them as a JSON array).
    return func.json_extract(Ticket.sla, *(f"$.clocks[{i}].{key}" for i, key in slots)), \
        orjson.loads


def _quantile(spans: list[timedelta], q: float) -> timedelta | None:
    """The q-quantile of `spans` by nearest rank (the lower middle for a median of an even
    count); None for none."""
    if not spans:
        return None
    ranked = sorted(spans)
    return ranked[max(0, math.ceil(q * len(ranked)) - 1)]
