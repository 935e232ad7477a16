"""Timers: due instants that any number of workers fire exactly once.

A timer is a row with a unique `key` naming its firing (`sla:REP-000123:resolution:
breach:v3`), a `kind` that picks its handler, and a state:

    pending --claim--> leased --fire--> fired          (terminal: never re-armed)
       ^                 |  \\--handler failed, too often--> failed
       |                 +--lease expired: claimable again
       +-- schedule() re-arms a pending, leased, cancelled or failed key; cancel() stops it

* `claim_due` takes a batch of due timers for one worker under a lease (PostgreSQL:
  `FOR UPDATE SKIP LOCKED`, so concurrent workers take disjoint batches; SQLite: the
  write transaction holds the database's single write lock, `BEGIN IMMEDIATE`).
* `fire` runs one claimed timer: in ONE transaction it checks the lease is still this
  worker's, marks the timer fired, records a `timer_fired` event and runs the handler,
  which writes its own rows (notifications, outbox messages) in that same transaction.
  A crash either fired it completely or not at all; a worker whose lease was taken over
  finds someone else's name on the row and does nothing.
* Time is a parameter: a clock that jumps forward fires each overdue timer once, in due
  order, a bounded batch at a time; one that jumps back finds fired timers fired.
* A sequence (`sync`, `in_sequence`) is a plan of timers kept as one armed row whose
  payload carries the rest (`THEN`); firing it, or a failure of its handler, arms the
  next. An SLA schedule of four or five deadlines costs a ticket one row, not five.

Handlers are registered per kind with `@handler(TimerKind.X)`; a worker only claims
kinds it has a handler for, so a timer of a kind no module handles yet waits, unharmed.
Handler modules are listed in `HANDLER_MODULES` (the SLA module adds itself there).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from runtime.db import Database, lease_due_rows
from runtime.models import Event, EventKind, Timer, TimerKind, TimerState
from runtime.services.events import record_system

HANDLER_MODULES: tuple[str, ...] = ("runtime.services.reminders", "runtime.services.sla")
DEFAULT_LEASE = timedelta(minutes=2)
DEFAULT_BATCH = 100
MAX_ATTEMPTS = 5  # a handler that fails this often leaves its timer `failed`
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
MAX_ERROR = 2_000
THEN = "then"  # a timer's payload key: the timers that follow it in its sequence
_LIVE = (TimerState.PENDING, TimerState.LEASED)  # armed: due, or being fired


@dataclass(frozen=True)
class Firing:
    """What a handler gets: the timer, the instant of firing and the `timer_fired` event
    already recorded for it (its id goes on the handler's notifications)."""

    timer_id: int
    kind: str
    key: str
    ticket_id: int | None
    due_at: datetime
    payload: dict[str, Any]
    now: datetime
    event: Event


Handler = Callable[[Session, Firing], None]
HANDLERS: dict[str, Handler] = {}


def handler(kind: TimerKind | str) -> Callable[[Handler], Handler]:
    """Register the function that fires timers of `kind` (one per kind)."""

    def register(function: Handler) -> Handler:
        HANDLERS[str(kind)] = function
        return function

    return register


def load_handlers() -> dict[str, Handler]:
    """Import every handler module (registering its kinds) and return the registry."""
    for module in HANDLER_MODULES:
        importlib.import_module(module)
    return HANDLERS


# --- scheduling (in the caller's transaction) ------------------------------------------


def _insert(session: Session) -> Any:
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql"
            else sqlite.insert)(Timer)


def schedule(session: Session, *, kind: TimerKind | str, key: str, due_at: datetime,
             now: datetime, ticket_id: int | None = None,
             payload: dict[str, Any] | None = None) -> Timer:
    """Arm the timer `key` to fire at `due_at`, idempotently: scheduling a key again moves
    its instant (and replaces its payload); a fired key stays fired. Safe when two
    transactions schedule the same key at once (one inserts, the other updates)."""
    session.execute(_insert(session).values(
        kind=str(kind), key=key, due_at=due_at, payload=payload or {}, ticket_id=ticket_id,
        state=str(TimerState.PENDING), attempts=0, created_at=now,
    ).on_conflict_do_nothing(index_elements=["key"]))
    timer = session.scalars(select(Timer).where(Timer.key == key).with_for_update()
                            .execution_options(populate_existing=True)).one()
    if timer.state != TimerState.FIRED:
        if timer.state != TimerState.PENDING:
            # Re-arming: a worker that still holds a lease on it will find the lease gone.
            timer.attempts = 0
            timer.last_error = None
        timer.kind, timer.due_at, timer.payload = str(kind), due_at, payload or {}
        timer.ticket_id = ticket_id
        timer.state = str(TimerState.PENDING)
        timer.lease_owner = timer.lease_expires_at = None
    session.flush()
    return timer


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def cancel(session: Session, *, key: str | None = None, prefix: str | None = None) -> int:
    """Stop timers that have not fired: one `key`, or every key starting with `prefix`
    (e.g. `sla:REP-000123:` when the ticket closes). Returns how many were cancelled."""
    if (key is None) == (prefix is None):
        raise ValueError("cancel needs exactly one of key and prefix")
    chosen = Timer.key == key if key is not None else Timer.key.like(
        _like_prefix(prefix or ""), escape="\\")
    result = session.execute(
        update(Timer).where(chosen, Timer.state.in_(
            [str(TimerState.PENDING), str(TimerState.LEASED), str(TimerState.FAILED)]))
        .values(state=str(TimerState.CANCELLED), lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


@dataclass(frozen=True)
class Planned:
    """A timer as a computation wants it (e.g. one of the engine's SLA timers)."""

    kind: TimerKind | str
    key: str
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


def in_sequence(planned: Iterable[Planned]) -> Planned | None:
    """The first of `planned` in due order (ties by key), carrying the rest in its payload
    under `THEN`: a sequence is one armed row at a time (two while a failed one waits to
    be retried), and firing it arms the next (`fire`). None for nothing planned."""
    ordered = sorted(planned, key=lambda item: (item.due_at, item.key))
    if not ordered:
        return None
    head, rest = ordered[0], ordered[1:]
    if not rest:
        return head
    return Planned(head.kind, head.key, head.due_at, {
        **head.payload, THEN: [{"kind": str(item.kind), "key": item.key,
                                "due_at": item.due_at.isoformat(), "payload": item.payload}
                               for item in rest]})


def _next_in_sequence(payload: dict[str, Any]) -> Planned | None:
    """The timer that follows the one whose payload this is (with the rest after it)."""
    rest = payload.get(THEN) or []
    return in_sequence(Planned(item["kind"], item["key"], datetime.fromisoformat(item["due_at"]),
                               item.get("payload") or {}) for item in rest)


def without_sequence(payload: dict[str, Any]) -> dict[str, Any]:
    """A timer's payload as its handler and its event see it: the sequence's rest left
    out."""
    return {key: value for key, value in payload.items() if key != THEN}


def sync(session: Session, *, prefix: str, planned: Iterable[Planned], now: datetime,
         ticket_id: int | None = None) -> None:
    """Make the timers under `prefix` the sequence `planned`, in the caller's transaction:
    the first unfired one in due order is armed, carrying the rest (`in_sequence`), and
    every other unfired timer under the prefix is cancelled. A fired key stays fired and
    leaves the sequence. For recomputed clocks: `sync(session, prefix=f"sla:{number}:",
    planned=..., now=..., ticket_id=...)`."""
    wanted = list(planned)
    if any(not item.key.startswith(prefix) for item in wanted):
        raise ValueError(f"every planned key must start with {prefix!r}")
    states = dict(session.execute(select(Timer.key, Timer.state).where(
        Timer.key.like(_like_prefix(prefix), escape="\\"))).all())
    head = in_sequence(item for item in wanted if states.get(item.key) != TimerState.FIRED)
    unfired = (TimerState.PENDING, TimerState.LEASED, TimerState.FAILED)
    for key in sorted(key for key, state in states.items() if state in unfired):
        if head is None or key != head.key:
            cancel(session, key=key)
    if head is not None:
        schedule(session, kind=head.kind, key=head.key, due_at=head.due_at, now=now,
                 ticket_id=ticket_id, payload=head.payload)


def upcoming(session: Session, prefix: str) -> list[Planned]:
    """The timers under `prefix` still to fire, in due order: each armed one and the rest
    of its sequence."""
    rows = session.scalars(select(Timer).where(
        Timer.key.like(_like_prefix(prefix), escape="\\"))).all()
    live = [timer for timer in rows if timer.state in _LIVE]
    fired = {timer.key for timer in rows if timer.state == TimerState.FIRED}
    # A row armed while the one before it is retried is also in that one's rest (its own
    # row says it), and may have fired since.
    found = {timer.key: Planned(timer.kind, timer.key, timer.due_at,
                                without_sequence(timer.payload)) for timer in live}
    for timer in live:
        item = _next_in_sequence(timer.payload)
        while item is not None:
            if item.key not in fired:
                found.setdefault(item.key, Planned(item.kind, item.key, item.due_at,
                                                   without_sequence(item.payload)))
            item = _next_in_sequence(item.payload)
    return sorted(found.values(), key=lambda item: (item.due_at, item.key))


# --- claiming and firing (the worker) -------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    key: str
    due_at: datetime


def claim_due(db: Database, *, now: datetime, owner: str, lease: timedelta = DEFAULT_LEASE,
              limit: int = DEFAULT_BATCH, kinds: Iterable[str] | None = None) -> list[Claimed]:
    """Lease up to `limit` timers due at `now` (and timers whose lease expired: their
    worker died) to `owner`, oldest due first. Only `kinds` (default: those with a
    handler) are taken."""
    wanted = sorted(kinds if kinds is not None else load_handlers())
    if not wanted or limit < 1:
        return []
    due = ((Timer.state == str(TimerState.PENDING)) & (Timer.due_at <= now)) | (
        (Timer.state == str(TimerState.LEASED)) & (Timer.lease_expires_at <= now))
    with db.write() as session:
        rows = lease_due_rows(
            session, Timer, (Timer.id, Timer.kind, Timer.key, Timer.due_at),
            due=due & Timer.kind.in_(wanted), order_by=(Timer.due_at, Timer.id), limit=limit,
            leased=str(TimerState.LEASED), owner=owner, until=now + lease)
        return [Claimed(row.id, row.kind, row.key, row.due_at) for row in rows]


class Outcome(StrEnum):
    FIRED = "fired"
    SKIPPED = "skipped"  # no longer ours: re-armed, cancelled, or taken over after expiry
    FAILED = "failed"  # the handler raised; retried later, or left failed


def _transient(error: BaseException) -> bool:
    """A database that is unreachable (or dropped us) — not the handler's fault."""
    return isinstance(error, OperationalError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated)


def fire(db: Database, claimed: Claimed, *, now: datetime, owner: str,
         handlers: dict[str, Handler] | None = None,
         max_attempts: int = MAX_ATTEMPTS) -> Outcome:
    """Fire one claimed timer, all or nothing (see the module's docstring)."""
    registry = handlers if handlers is not None else load_handlers()
    try:
        with db.write() as session:
            timer = session.scalars(select(Timer).where(Timer.id == claimed.id)
                                    .with_for_update()
                                    .execution_options(populate_existing=True)).first()
            if (timer is None or timer.state != TimerState.LEASED
                    or timer.lease_owner != owner):
                return Outcome.SKIPPED
            timer.state = str(TimerState.FIRED)
            timer.fired_at = now
            timer.lease_expires_at = None
            timer.last_error = None
            payload = without_sequence(timer.payload)
            event = record_system(session, EventKind.TIMER_FIRED, {
                "kind": timer.kind, "key": timer.key, "due_at": timer.due_at.isoformat(),
                "payload": payload}, now=now, ticket_id=timer.ticket_id)
            # Before the handler: one that recomputes the sequence (an escalation raising
            # the priority) then finds the next timer armed and re-plans it like any other.
            _arm_next(session, timer, now)
            registry[timer.kind](session, Firing(
                timer.id, timer.kind, timer.key, timer.ticket_id, timer.due_at, payload,
                now, event))
            return Outcome.FIRED
    except Exception as error:
        if _transient(error):
            raise  # the worker backs off; the lease runs out and the timer is retried
        _record_failure(db, claimed, owner, now, error, max_attempts)
        return Outcome.FAILED


def _arm_next(session: Session, timer: Timer, now: datetime) -> None:
    """Arm the timer after `timer` in its sequence, past any that already fired; one
    already armed (by an earlier failure of `timer`) or being fired is left alone."""
    following = _next_in_sequence(timer.payload)
    while following is not None:
        state = session.scalar(select(Timer.state).where(Timer.key == following.key))
        if state in _LIVE:
            return
        if state != TimerState.FIRED:
            schedule(session, kind=following.kind, key=following.key,
                     due_at=following.due_at, now=now, ticket_id=timer.ticket_id,
                     payload=following.payload)
            return
        following = _next_in_sequence(following.payload)


def _record_failure(db: Database, claimed: Claimed, owner: str, now: datetime,
                    error: Exception, max_attempts: int) -> None:
    message = f"{type(error).__name__}: {error}"[:MAX_ERROR]
    with db.write() as session:
        timer = session.scalars(select(Timer).where(Timer.id == claimed.id).with_for_update()
                                .execution_options(populate_existing=True)).first()
        if timer is None or timer.state != TimerState.LEASED or timer.lease_owner != owner:
            return
        timer.last_error = message
        # Its retries are its own: a broken warning neither silences nor delays the breach.
        _arm_next(session, timer, now)
        if timer.attempts >= max_attempts:
            timer.state = str(TimerState.FAILED)
            timer.lease_expires_at = None
        else:
            # Keep the lease, ending it after a growing pause: then anyone retries.
            pause = min(RETRY_CAP, RETRY_BASE * 2 ** max(0, timer.attempts - 1))
            timer.lease_expires_at = now + pause


def release(db: Database, claimed: Iterable[Claimed], *, owner: str) -> int:
    """Give back leased timers this worker will not fire (it is stopping): they are due
    again at once for the next worker, and the claim does not count as an attempt."""
    ids = [item.id for item in claimed]
    if not ids:
        return 0
    with db.write() as session:
        result = session.execute(
            update(Timer).where(Timer.id.in_(ids), Timer.lease_owner == owner,
                                Timer.state == str(TimerState.LEASED))
            .values(state=str(TimerState.PENDING), lease_owner=None, lease_expires_at=None,
                    attempts=Timer.attempts - 1)
            .execution_options(synchronize_session=False))
        return result.rowcount or 0


@dataclass
class Pass:
    """What one pass over the due timers did."""

    claimed: int = 0
    fired: int = 0
    skipped: int = 0
    failed: int = 0


def run_due(db: Database, *, now: datetime, owner: str, lease: timedelta = DEFAULT_LEASE,
            limit: int = DEFAULT_BATCH, stop: Callable[[], bool] = lambda: False) -> Pass:
    """Claim one batch of due timers and fire them in due order. `stop` is asked between
    firings; the rest of the batch is released for other workers."""
    registry = load_handlers()
    done = Pass()
    # Firing a timer arms the next of its sequence, which is due already when the clock
    # jumped past it: claim again until nothing is due or `limit` were claimed.
    while done.claimed < limit:
        batch = claim_due(db, now=now, owner=owner, lease=lease, limit=limit - done.claimed,
                          kinds=registry)
        done.claimed += len(batch)
        for index, claimed in enumerate(batch):
            if stop():
                release(db, batch[index:], owner=owner)
                return done
            outcome = fire(db, claimed, now=now, owner=owner, handlers=registry)
            setattr(done, outcome.value, getattr(done, outcome.value) + 1)
        if not batch or stop():
            break
    return done
