"""Idempotency keys: a client that retries a request with the same `Idempotency-Key`
gets the first answer again instead of a second ticket.

A key belongs to one user. Its life:

1. *reserve* — insert (user, key, request hash) in its own short transaction. The unique
   constraint on (user_id, key) decides races: exactly one request inserts, the others
   find the row. Found with another request hash → 422 `idempotency-key-reused`; found
   with a stored response → replay it; found without one → 409
   `idempotency-key-in-flight`, unless it is older than `STALE_AFTER`, in which case the
   request that stored it is taken to have crashed and this one takes the key over (a
   compare-and-set, so only one retry wins the takeover).
2. *run* the call.
3. *complete* — store the final status and body: the success, or a 4xx the same request
   would always get again (validation, permission, unknown type).
   *release* instead — delete the reservation — on a 409, a 429 or a 5xx: those depend
   on the moment, so the client should be able to retry with the same key.

A successful answer is stored inside the call's own transaction: `call` receives a
`Store` and hands it to the service, which calls it before committing (see the `within`
hook of `tickets.create`). So the ticket and the answer that names it commit together:
a crash leaves either both or neither, and a retry after a crash that lost both simply
runs again (after `STALE_AFTER`, when it may take the orphaned reservation over).
Refusals are stored afterwards in a transaction of their own: nothing was written by
the call, so there is nothing to keep consistent with.

Time is the request's `now`, never a clock read here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from runtime.context import Request
from runtime.db import Database, Transaction
from runtime.models import IdempotencyKey
from runtime.services.errors import BadRequest, Conflict, Invalid, ServiceError

STALE_AFTER = timedelta(seconds=60)
KEY = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII, as the IETF draft suggests
# Errors that depend on the moment, not on the request: the client may retry them.
RETRYABLE = frozenset({409, 429})
ATTEMPTS = 3
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What to send: the call's own answer, or the stored one (`replayed`)."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class _Reservation:
    id: int


class Store:
    """Records the answer to a reserved key inside the caller's transaction."""

    def __init__(self, reservation: _Reservation) -> None:
        self._reservation = reservation
        self.stored = False

    def __call__(self, session: Transaction, status: int, body: dict[str, Any]) -> None:
        """Store `status` and `body` as this key's answer, in `session`'s transaction."""
        _store(session, self._reservation, status, body)
        self.stored = True


def fingerprint(method: str, path: str, body: Any) -> str:
    """A hash of what was asked, so a key reused for another request is caught."""
    canonical = json.dumps({"method": method, "path": path, "body": body}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    """The key, if it is one a client may send (400 otherwise)."""
    if not KEY.fullmatch(key):
        raise BadRequest("Idempotency-Key must be 1 to 200 visible ASCII characters",
                         code="bad-idempotency-key")
    return key


def run_once(db: Database, request: Request, key: str, request_hash: str,
             call: Callable[[Store], tuple[int, dict[str, Any]]],
             render_error: Callable[[ServiceError], dict[str, Any]]) -> Outcome:
    """Run `call` at most once per (user, key); later requests get its stored answer.

    `call` should pass the `Store` it gets to the service so the answer commits with
    the change; if it does not, the answer is stored after the call returns.

    A stored 4xx is raised again as the service error it was, so the caller renders it
    the usual way; a replayed one comes back as an `Outcome` with `replayed` set.
    """
    found = _reserve(db, request, check_key(key), request_hash)
    if isinstance(found, Outcome):
        return found
    store = Store(found)
    try:
        status, body = call(store)
    except ServiceError as error:
        if error.status < 500 and error.status not in RETRYABLE:
            _complete(db, found, error.status, render_error(error))
        else:
            _release(db, found)
        raise
    except BaseException:
        _release(db, found)
        raise
    if not store.stored:
        _complete(db, found, status, body)
    return Outcome(status, body)


def _reserve(db: Database, request: Request, key: str, request_hash: str
             ) -> _Reservation | Outcome:
    for _ in range(ATTEMPTS):
        try:
            with db.write() as session:
                row = IdempotencyKey(user_id=request.actor.user_id, key=key,
                                     request_hash=request_hash, created_at=request.now)
                session.add(row)
                session.flush()
                return _Reservation(row.id)
        except IntegrityError:
            pass  # the key exists: see what it holds
        found = _existing(db, request, key, request_hash)
        if found is not None:
            return found
        # Released between our insert and our read (its request failed): try again.
    raise _in_flight()


def _existing(db: Database, request: Request, key: str, request_hash: str
              ) -> _Reservation | Outcome | None:
    with db.write() as session:
        row = session.scalar(select(IdempotencyKey).where(
            IdempotencyKey.user_id == request.actor.user_id, IdempotencyKey.key == key))
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise Invalid("this Idempotency-Key was used for a different request; "
                          "use a new key for a new request", code="idempotency-key-reused")
        if row.status_code is not None:
            return Outcome(row.status_code, dict(row.response or {}), replayed=True)
        if request.now - row.created_at < STALE_AFTER:
            raise _in_flight()
        if _take_over(session, row.id, request.now):
            log.warning("taking over idempotency key %s of user %s: its first request "
                        "never finished", row.id, row.user_id)
            return _Reservation(row.id)
        raise _in_flight()


def _take_over(session: Session, row_id: int, now: datetime) -> bool:
    # A compare-and-set: the winner renews created_at, so the condition no longer holds
    # for the other retries (on PostgreSQL they re-check it after waiting for the lock).
    result = session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row_id, IdempotencyKey.status_code.is_(None),
               IdempotencyKey.created_at <= now - STALE_AFTER)
        .values(created_at=now).execution_options(synchronize_session=False))
    return bool(result.rowcount)


def _in_flight() -> Conflict:
    return Conflict("a request with this Idempotency-Key is still being processed; "
                    "retry in a moment", code="idempotency-key-in-flight")


def _complete(db: Database, reservation: _Reservation, status: int,
              body: dict[str, Any]) -> None:
    with db.write() as session:
        _store(session, reservation, status, body)


def _store(session: Transaction, reservation: _Reservation, status: int,
           body: dict[str, Any]) -> None:
    session.execute(update(IdempotencyKey).where(IdempotencyKey.id == reservation.id)
                    .values(status_code=status, response=body)
                    .execution_options(synchronize_session=False))


def _release(db: Database, reservation: _Reservation) -> None:
    try:
        with db.write() as session:
            session.execute(delete(IdempotencyKey).where(
                IdempotencyKey.id == reservation.id, IdempotencyKey.status_code.is_(None)))
    except SQLAlchemyError:
        # The original failure matters more; an unreleased key frees itself after
        # STALE_AFTER (a retry takes it over).
        log.exception("could not release idempotency key %s", reservation.id)


def purge(db: Database, before: datetime) -> int:
    """Forget keys created before `before` (for the worker's housekeeping)."""
    with db.write() as session:
        result = session.execute(delete(IdempotencyKey).where(
            IdempotencyKey.created_at < before))
        return int(result.rowcount or 0)
