"""The satisfaction survey sent when a ticket closes: CSAT 1–5, NPS 0–10 and a comment,
answered once — through a one-time secret link (no account needed) or by the logged-in
requester.

Only a hash of the link's secret is stored. A link is issued to the requester (the
notifications deliver it by e-mail); issuing a new one invalidates the previous link.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from runtime import policy
from runtime.catalog import compiled_version
from runtime.context import Request
from runtime.db import Database
from runtime.hashing import secret_digest
from runtime.models import Event, EventKind, Survey, Ticket
from runtime.services.errors import Conflict, Forbidden, Invalid, NotFound

MAX_COMMENT = 2_000


@dataclass(frozen=True)
class Answer:
    csat: int
    nps: int | None
    comment: str | None



def open_for(session: Session, ticket: Ticket, now: datetime) -> Survey:
    """Open a survey for a ticket that just closed (inside the closing transaction)."""
    survey = Survey(ticket_id=ticket.id, token_hash=secret_digest(secrets.token_urlsafe(32)),
                    created_at=now)
    session.add(survey)
    return survey


def _open_survey(session: Session, ticket_id: int) -> Survey | None:
    return session.scalar(select(Survey).where(Survey.ticket_id == ticket_id,
                                               Survey.answered_at.is_(None))
                          .order_by(Survey.id.desc()).limit(1))


def issue_link(db: Database, request: Request | None, number: str) -> str:
    """A fresh one-time secret for the ticket's open survey (the requester's, or the
    system's when `request` is None, e.g. the notifier)."""
    with db.write() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        if ticket is None or (request is not None
                              and not policy.can_answer_survey(request.actor, ticket)):
            raise NotFound(f"there is no ticket {number}")
        survey = _open_survey(session, ticket.id)
        if survey is None:
            raise NotFound(f"ticket {number} has no survey waiting for an answer")
        token = secrets.token_urlsafe(32)
        survey.token_hash = secret_digest(token)
        return token


def parse_answer(csat: Any, nps: Any = None, comment: Any = None) -> Answer:
    """Check an answer; every problem at once."""
    details = []
    if not isinstance(csat, int) or isinstance(csat, bool) or not 1 <= csat <= 5:
        details.append({"field": "csat", "code": "out-of-range",
                        "message": "satisfaction is a whole number from 1 to 5"})
    if nps is not None and (not isinstance(nps, int) or isinstance(nps, bool)
                            or not 0 <= nps <= 10):
        details.append({"field": "nps", "code": "out-of-range",
                        "message": "the recommendation score is a whole number from 0 to 10"})
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        details.append({"field": "comment", "code": "too-long",
                        "message": f"a comment may have at most {MAX_COMMENT} characters"})
    if details:
        raise Invalid("the answer has problems; nothing was saved", details=details)
    return Answer(csat, nps, comment or None)


def _record_answer(session: Session, survey: Survey, answer: Answer, now: datetime,
                   actor_id: int | None, address: str | None) -> None:
    if survey.answered_at is not None:
        raise Conflict("this survey was already answered; thank you", code="already-answered")
    survey.csat, survey.nps, survey.comment = answer.csat, answer.nps, answer.comment
    survey.answered_at = now
    session.add(Event(ticket_id=survey.ticket_id, kind=str(EventKind.SURVEY_ANSWERED),
                      actor_id=actor_id, at=now, client_address=address,
                      data={"csat": answer.csat, "nps": answer.nps,
                            "comment": answer.comment}))


@dataclass(frozen=True)
class Invitation:
    """What the page of a survey link shows: the ticket it asks about, as its requester
    sees it."""

    number: str
    title: str


_REQUESTER = frozenset({"requester"})


def invitation(db: Database, token: str) -> Invitation:
    """The ticket a survey link asks about; a used or unknown link is refused, as when it
    is answered."""
    with db.read() as session:
        found = session.execute(select(Survey, Ticket).join(Ticket, Ticket.id == Survey.ticket_id)
                                .where(Survey.token_hash == secret_digest(token))).first()
        if found is None:
            raise NotFound("this survey link is not valid")
        survey, ticket = found
        if survey.answered_at is not None:
            raise Conflict("this survey was already answered; thank you", code="already-answered")
        ticket_type = compiled_version(session, ticket.definition_version_id).ticket_type
        return Invitation(ticket.number, policy.visible_title(ticket_type, ticket, _REQUESTER))


def answer_by_link(db: Database, token: str, answer: Answer, *, now: datetime,
                   address: str | None = None) -> None:
    """Answer through the secret link; a used or unknown link is refused."""
    with db.write() as session:
        survey = session.scalar(select(Survey).where(Survey.token_hash == secret_digest(token)))
        if survey is None:
            raise NotFound("this survey link is not valid")
        _record_answer(session, survey, answer, now, None, address)


def answer_as_requester(db: Database, request: Request, number: str, answer: Answer) -> None:
    """The logged-in requester answers their ticket's open survey."""
    with db.write() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        if ticket is None or not policy.can_answer_survey(request.actor, ticket):
            raise NotFound(f"there is no ticket {number}")
        survey = _open_survey(session, ticket.id)
        if survey is None:
            latest = session.scalar(select(Survey.id).where(Survey.ticket_id == ticket.id))
            if latest is not None:
                raise Conflict("this survey was already answered; thank you",
                               code="already-answered")
            raise Forbidden(f"ticket {number} is not closed yet", code="not-closed")
        _record_answer(session, survey, answer, request.now, request.actor.user_id,
                       request.address)


def waiting(db: Database, request: Request, number: str) -> bool:
    """Whether the ticket's requester has a survey to answer (False for anyone else)."""
    with db.read() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        if ticket is None or not policy.can_answer_survey(request.actor, ticket):
            return False
        return _open_survey(session, ticket.id) is not None
