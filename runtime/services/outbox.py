"""The outbox's life after a change wrote it: workers claim messages under a lease, send
them (runtime/delivery, outside any transaction) and record the outcome; administrators
see dead letters and send them again.

    pending --claim--> sending --sent--> sent
       ^                  |--passing failure--> failed --(next_attempt_at)--> claimable
       |                  |--refused, or max_attempts failures--> dead
       |                  +--lease expired (worker died): claimable again
       +------------ retry by an administrator (dead or failed)

Claiming works like the timers' (PostgreSQL `FOR UPDATE SKIP LOCKED`, SQLite's single
writer), so two workers never hold the same message. The one window left is a crash
between the receiver accepting a message and `settle` recording it: after the lease
expires another worker sends it again. Delivery is therefore at least once on the wire
(exactly once in our records); webhook receivers can drop repeats by the
`X-Ticketflow-Delivery` id, mail clients by the Message-ID.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from runtime import policy
from runtime.context import Request
from runtime.db import Database, lease_due_rows
from runtime.delivery.result import Result, Verdict
from runtime.models import Channel, EventKind, OutboxMessage, OutboxState, Ticket, Webhook
from runtime.services.errors import BadRequest, Conflict, Forbidden, NotFound
from runtime.services.events import record

DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_BATCH = 20
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
MAX_PAGE = 200
RETRYABLE = (str(OutboxState.DEAD), str(OutboxState.FAILED))


@dataclass(frozen=True)
class Outgoing:
    """A claimed message, as the sender needs it."""

    id: int
    channel: str
    recipient: str
    subject: str | None
    payload: dict[str, Any]
    language: str
    attempts: int


def backoff(message_id: int, attempts: int) -> timedelta:
    """The pause before attempt `attempts + 1`: doubling from 30 s up to an hour, each
    scaled by a jitter between 0.5 and 1 drawn from the message id and attempt, so
    messages that failed together do not all come back together (and tests can compute
    it)."""
    pause = min(RETRY_CAP, RETRY_BASE * 2 ** max(0, attempts - 1))
    digest = hashlib.sha256(f"{message_id}:{attempts}".encode()).digest()
    jitter = 0.5 + int.from_bytes(digest[:4], "big") / 2**33
    return pause * jitter


def claim(db: Database, *, now: datetime, owner: str, lease: timedelta = DEFAULT_LEASE,
          limit: int = DEFAULT_BATCH,
          channels: Iterable[Channel] = (Channel.EMAIL, Channel.WEBHOOK)) -> list[Outgoing]:
    """Lease up to `limit` messages that are due (new, waiting for a retry, or left by a
    worker whose lease ran out) to `owner`, oldest first."""
    wanted = sorted(str(channel) for channel in channels)
    if not wanted or limit < 1:
        return []
    waiting = [str(OutboxState.PENDING), str(OutboxState.FAILED)]
    due = ((OutboxMessage.state.in_(waiting)) & (OutboxMessage.next_attempt_at <= now)) | (
        (OutboxMessage.state == str(OutboxState.SENDING))
        & (OutboxMessage.lease_expires_at <= now))
    with db.write() as session:
        rows = lease_due_rows(
            session, OutboxMessage,
            (OutboxMessage.id, OutboxMessage.channel, OutboxMessage.recipient,
             OutboxMessage.subject, OutboxMessage.payload, OutboxMessage.language,
             OutboxMessage.attempts),
            due=due & OutboxMessage.channel.in_(wanted),
            order_by=(OutboxMessage.next_attempt_at, OutboxMessage.id), limit=limit,
            leased=str(OutboxState.SENDING), owner=owner, until=now + lease)
        return [Outgoing(row.id, row.channel, row.recipient, row.subject, dict(row.payload),
                         row.language, row.attempts + 1) for row in rows]


def settle(db: Database, message_id: int, *, owner: str, result: Result, now: datetime,
           max_attempts: int) -> OutboxState | None:
    """Record how an attempt went. None: the lease was no longer ours (another worker
    took the message over after it expired; its record wins)."""
    with db.write() as session:
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
            .execution_options(populate_existing=True)).first()
        if (message is None or message.state != OutboxState.SENDING
                or message.lease_owner != owner):
            return None
        message.lease_owner = None
        message.lease_expires_at = None
        if result.verdict is Verdict.SENT:
            state = OutboxState.SENT
            message.sent_at = now
        elif result.verdict is Verdict.REFUSED or message.attempts >= max_attempts:
            state = OutboxState.DEAD
        else:
            state = OutboxState.FAILED
            message.next_attempt_at = now + backoff(message.id, message.attempts)
        message.state = str(state)
        if result.error is not None:
            message.last_error = result.error
        return state


def release(db: Database, ids: Iterable[int], *, owner: str, now: datetime) -> int:
    """Give back claimed messages this worker will not send (it is stopping): due again
    at once, and the claim does not count as an attempt."""
    wanted = list(ids)
    if not wanted:
        return 0
    with db.write() as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(wanted), OutboxMessage.lease_owner == owner,
                   OutboxMessage.state == str(OutboxState.SENDING))
            .values(state=str(OutboxState.PENDING), lease_owner=None, lease_expires_at=None,
                    next_attempt_at=now, attempts=OutboxMessage.attempts - 1)
            .execution_options(synchronize_session=False))
        return result.rowcount or 0


@dataclass(frozen=True)
class WebhookTarget:
    """Where a webhook message goes (read when it is sent: a changed URL applies)."""

    name: str
    url: str
    secret: str | None
    format: str
    active: bool


def webhook_target(db: Database, name: str) -> WebhookTarget | None:
    with db.read() as session:
        hook = session.scalar(select(Webhook).where(Webhook.name == name))
        if hook is None:
            return None
        return WebhookTarget(hook.name, hook.url, hook.secret, hook.format, hook.active)


# --- administrators: dead letters ------------------------------------------------------


@dataclass(frozen=True)
class MessageView:
    id: int
    channel: str
    recipient: str
    subject: str | None
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    ticket: str | None
    created_at: datetime
    sent_at: datetime | None
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for key in ("next_attempt_at", "created_at", "sent_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _view(message: OutboxMessage, number: str | None) -> MessageView:
    return MessageView(message.id, message.channel, message.recipient, message.subject,
                       message.state, message.attempts, message.next_attempt_at,
                       message.last_error, number, message.created_at, message.sent_at,
                       dict(message.payload))


@dataclass(frozen=True)
class MessagePage:
    items: list[MessageView]
    next_before: int | None


def list_messages(db: Database, request: Request, *, state: OutboxState | None = None,
                  channel: Channel | None = None, before: int | None = None,
                  limit: int = 50) -> MessagePage:
    """Outbox messages newest first (keyset: `before` is the last id seen); admins only.
    `state=dead` lists the dead letters."""
    if not policy.can_read_outbox(request.actor):
        raise Forbidden("only administrators may read the outbox")
    if before is not None and before < 1:
        raise BadRequest("'before' must be a positive message id", code="bad-cursor")
    limit = max(1, min(limit, MAX_PAGE))
    query = select(OutboxMessage, Ticket.number).outerjoin(
        Ticket, Ticket.id == OutboxMessage.ticket_id)
    if state is not None:
        query = query.where(OutboxMessage.state == str(state))
    if channel is not None:
        query = query.where(OutboxMessage.channel == str(channel))
    if before is not None:
        query = query.where(OutboxMessage.id < before)
    with db.read() as session:
        rows = session.execute(query.order_by(OutboxMessage.id.desc()).limit(limit + 1)).all()
    items = [_view(message, number) for message, number in rows[:limit]]
    return MessagePage(items, items[-1].id if len(rows) > limit else None)


def retry(db: Database, request: Request, message_id: int) -> MessageView:
    """Send a dead (or failed) message again, from a fresh count of attempts (admins)."""
    if not policy.can_read_outbox(request.actor):
        raise Forbidden("only administrators may retry messages")
    with db.write() as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.id == message_id)
                                  .with_for_update()).first()
        if message is None:
            raise NotFound(f"there is no message {message_id}")
        if message.state not in RETRYABLE:
            raise Conflict(f"message {message_id} is {message.state}; only dead or failed "
                           "messages can be retried", code="not-retryable")
        before = message.state
        message.state = str(OutboxState.PENDING)
        message.attempts = 0
        message.next_attempt_at = request.now
        message.lease_owner = message.lease_expires_at = None
        record(session, request, EventKind.DELIVERY_RETRIED,
               {"message": message.id, "channel": message.channel, "was": before})
        number = (session.scalar(select(Ticket.number).where(Ticket.id == message.ticket_id))
                  if message.ticket_id is not None else None)
        session.flush()
        return _view(message, number)
