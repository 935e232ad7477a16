"""What customers said: the satisfaction surveys of a period, summed up for supervisors.

Surveys are counted by when they were sent (the ticket's closing), over the tickets the
supervisor may see (`policy.visible_tickets`: their teams', for a supervisor), so a team
lead reads their own teams' results and an administrator everyone's. CSAT is reported as
its average and as the share of satisfied answers (4 or 5), NPS as promoters (9–10) minus
detractors (0–6) in points, as customer-service teams usually quote them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from runtime import policy
from runtime.context import Request
from runtime.db import Database
from runtime.models import Survey, Ticket, User
from runtime.services.errors import Forbidden
from runtime.services.periods import Period

LATEST_COMMENTS = 10
MAX_AGENTS = 50


@dataclass(frozen=True)
class Comment:
    number: str
    csat: int
    nps: int | None
    comment: str
    answered_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "csat": self.csat, "nps": self.nps,
                "comment": self.comment, "answered_at": self.answered_at.isoformat()}


@dataclass(frozen=True)
class AgentScore:
    """The answers about the tickets assigned to one agent."""

    agent: str
    answered: int
    csat_average: float

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "answered": self.answered,
                "csat_average": self.csat_average}


@dataclass(frozen=True)
class Summary:
    period: Period
    sent: int
    answered: int
    csat: dict[int, int]  # answers by score, 1 to 5
    nps: dict[int, int] = field(default_factory=dict)  # answers by score, 0 to 10
    agents: list[AgentScore] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)

    @property
    def response_rate(self) -> float | None:
        """Answered / sent, 0 to 1 (None when nothing was sent)."""
        return self.answered / self.sent if self.sent else None

    @property
    def csat_average(self) -> float | None:
        if not self.answered:
            return None
        return round(sum(score * n for score, n in self.csat.items()) / self.answered, 2)

    @property
    def satisfied(self) -> float | None:
        """The share of answers of 4 or 5."""
        if not self.answered:
            return None
        return (self.csat.get(4, 0) + self.csat.get(5, 0)) / self.answered

    @property
    def nps_score(self) -> int | None:
        """Promoters' share minus detractors', in points from -100 to 100 (None without
        any NPS answer: the question is optional)."""
        answers = sum(self.nps.values())
        if not answers:
            return None
        promoters = sum(n for score, n in self.nps.items() if score >= 9)
        detractors = sum(n for score, n in self.nps.items() if score <= 6)
        return round(100 * (promoters - detractors) / answers)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.period.to_dict(), "sent": self.sent, "answered": self.answered,
            "response_rate": self.response_rate,
            "csat": {"average": self.csat_average, "satisfied": self.satisfied,
                     "answers": {str(score): self.csat.get(score, 0) for score in range(1, 6)}},
            "nps": {"score": self.nps_score,
                    "answers": {str(score): self.nps.get(score, 0) for score in range(11)}},
            "agents": [agent.to_dict() for agent in self.agents],
            "comments": [comment.to_dict() for comment in self.comments],
        }


def summary(db: Database, request: Request, period: Period) -> Summary:
    """The surveys sent in `period` about tickets the actor may see, summed up
    (supervisors and administrators)."""
    if not policy.can_supervise(request.actor):
        raise Forbidden("only supervisors and administrators may read survey results")
    period.check()
    with db.read() as session:
        scope = [policy.visible_tickets(request.actor), Survey.created_at >= period.start,
                 Survey.created_at < period.end, *period.ticket_scope()]
        surveys = select(Survey).join(Ticket, Ticket.id == Survey.ticket_id).where(*scope)
        csat: Counter[int] = Counter()
        nps: Counter[int] = Counter()
        sent = 0
        for csat_score, nps_score, count in session.execute(
                surveys.with_only_columns(Survey.csat, Survey.nps, func.count())
                .group_by(Survey.csat, Survey.nps)):
            sent += count
            if csat_score is not None:
                csat[csat_score] += count
                if nps_score is not None:
                    nps[nps_score] += count
        agents = [AgentScore(name, answered, round(float(average), 2))
                  for name, answered, average in session.execute(
                      surveys.join(User, User.id == Ticket.assignee_id)
                      .where(Survey.csat.is_not(None))
                      .with_only_columns(User.username, func.count(), func.avg(Survey.csat))
                      .group_by(User.username)
                      .order_by(func.count().desc(), User.username).limit(MAX_AGENTS))]
        comments = [Comment(number, csat_score, nps_score, text, answered_at)
                    for number, csat_score, nps_score, text, answered_at in session.execute(
                        surveys.where(Survey.comment.is_not(None))
                        .with_only_columns(Ticket.number, Survey.csat, Survey.nps,
                                           Survey.comment, Survey.answered_at)
                        .order_by(Survey.answered_at.desc(), Survey.id.desc())
                        .limit(LATEST_COMMENTS))]
    return Summary(period, sent, sum(csat.values()), dict(csat), dict(nps), agents, comments)
