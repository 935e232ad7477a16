"""The worker behind `ticketflow worker`: fires due timers and delivers the outbox.

One pass: claim a batch of due timers and fire them (runtime/services/timers.py), then
claim a batch of outbox messages, send each (runtime/delivery, no transaction open) and
record the outcome (runtime/services/outbox.py). Any number of workers may run against
one database; the leases keep them out of each other's way, so correctness never
depends on how many run or where.

The loop is an edge: it reads the clock (a function passed in, so tests move a fake
one) and waits between passes (a function too). When the database is unreachable it
logs one line, waits a growing pause (1 s doubling to a minute) and tries again; nothing
is lost meanwhile, since every timer and message is a row that waits for it.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from runtime.config import DeliverySettings
from runtime.context import Clock, system_clock
from runtime.db import Database
from runtime.delivery import formats, http, messages, smtp
from runtime.delivery.result import Result, Verdict
from runtime.models import Channel, NoticeKind, OutboxState
from runtime.services import housekeeping, outbox, recovery, surveys, timers
from runtime.services.errors import ServiceError

log = logging.getLogger("ticketflow.worker")
BACKOFF_START = 1.0
BACKOFF_CAP = 60.0


def default_owner() -> str:
    """A worker id unique across machines and restarts: host, process, a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def unreachable(error: BaseException) -> bool:
    """Whether an error means the database cannot be reached right now."""
    if isinstance(error, OperationalError | PoolTimeout | DisconnectionError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def first_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


@dataclass
class Report:
    """What one pass did."""

    timers: timers.Pass = field(default_factory=timers.Pass)
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    lost: int = 0  # lease taken over by another worker before we could record

    @property
    def busy(self) -> bool:
        """A batch came back full: more is probably waiting, so no pause before the next."""
        return self.timers.claimed > 0 or self.claimed > 0

    def line(self) -> str:
        t = self.timers
        return (f"timers: {t.fired} fired, {t.failed} failed, {t.skipped} skipped; "
                f"messages: {self.sent} sent, {self.retrying} to retry, {self.dead} dead")


class Worker:
    """Fires timers and delivers messages; `run_once` for one pass, `run` for the loop."""

    def __init__(self, db: Database, delivery: DeliverySettings, *, owner: str | None = None,
                 clock: Clock = system_clock, timer_batch: int = timers.DEFAULT_BATCH,
                 outbox_batch: int = outbox.DEFAULT_BATCH,
                 timer_lease: timedelta = timers.DEFAULT_LEASE,
                 outbox_lease: timedelta | None = None) -> None:
        self.db = db
        self.delivery = delivery
        self.owner = owner or default_owner()
        self.clock = clock
        self.timer_batch = timer_batch
        self.outbox_batch = outbox_batch
        self.timer_lease = timer_lease
        # Long enough to send the whole batch even if every receiver times out.
        slowest = max(delivery.webhook_timeout, delivery.smtp_timeout) * 3
        self.outbox_lease = outbox_lease or max(
            outbox.DEFAULT_LEASE, timedelta(seconds=slowest * outbox_batch))
        self._stop = threading.Event()
        self._swept_at: datetime | None = None

    @property
    def channels(self) -> tuple[Channel, ...]:
        """E-mails are claimed only when an SMTP server is configured (until then they
        wait in the outbox)."""
        if self.delivery.smtp_host:
            return (Channel.EMAIL, Channel.WEBHOOK)
        return (Channel.WEBHOOK,)

    def stop(self) -> None:
        """Finish the message or timer in hand, give back the rest, and leave the loop."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Pause up to `seconds`; True when asked to stop meanwhile."""
        return self._stop.wait(seconds)

    # --- one pass ----------------------------------------------------------------------

    def run_once(self) -> Report:
        """Fire one batch of due timers, then deliver one batch of messages; sweep what
        is no longer needed when the last sweep is older than `housekeeping.INTERVAL`."""
        report = Report()
        report.timers = timers.run_due(self.db, now=self.clock(), owner=self.owner,
                                       lease=self.timer_lease, limit=self.timer_batch,
                                       stop=self._stop.is_set)
        if not self.stopping:
            self._deliver_batch(report)
        now = self.clock()
        if not self.stopping and (self._swept_at is None
                                  or now - self._swept_at >= housekeeping.INTERVAL):
            swept = housekeeping.sweep(self.db, now)
            self._swept_at = now
            if swept:
                log.info("removed %s throttle row(s), %s ended session(s), %s reset(s)",
                         swept.throttles, swept.sessions, swept.resets)
        return report

    def _deliver_batch(self, report: Report) -> None:
        batch = outbox.claim(self.db, now=self.clock(), owner=self.owner,
                             lease=self.outbox_lease, limit=self.outbox_batch,
                             channels=self.channels)
        report.claimed = len(batch)
        for index, message in enumerate(batch):
            if self.stopping:
                outbox.release(self.db, [m.id for m in batch[index:]], owner=self.owner,
                               now=self.clock())
                return
            result = self.send(message)
            state = outbox.settle(self.db, message.id, owner=self.owner, result=result,
                                  now=self.clock(), max_attempts=self.delivery.max_attempts)
            self._count(report, message, result, state)

    def _count(self, report: Report, message: outbox.Outgoing, result: Result,
               state: OutboxState | None) -> None:
        if state is None:
            report.lost += 1
        elif result.verdict is Verdict.SENT:
            report.sent += 1
        elif state is OutboxState.DEAD:
            report.dead += 1
            log.warning("message %s to %s is dead after %s attempt(s): %s", message.id,
                        message.recipient, message.attempts, result.error)
        else:
            report.retrying += 1
            log.info("message %s to %s failed (attempt %s): %s", message.id,
                     message.recipient, message.attempts, result.error)

    # --- sending one message (I/O, no transaction open) ---------------------------------

    def send(self, message: outbox.Outgoing) -> Result:
        """Send one claimed message over its channel."""
        if message.channel == Channel.EMAIL:
            return self._send_email(message)
        if message.channel == Channel.WEBHOOK:
            return self._send_webhook(message)
        return Result.refused(f"nothing sends over the channel '{message.channel}'")

    def _survey_token(self, number: str) -> str | None:
        # A fresh one-time link, issued as the mail goes out (only its hash is stored).
        try:
            return surveys.issue_link(self.db, None, number)
        except ServiceError:
            return None  # answered meanwhile, or no survey: the mail goes without a link

    def _send_email(self, message: outbox.Outgoing) -> Result:
        payload = message.payload
        try:
            kind = NoticeKind(payload.get("kind"))
        except ValueError:
            return Result.refused(f"unknown notification kind {payload.get('kind')!r}")
        if not smtp.well_formed(message.recipient):
            return Result.refused(f"malformed e-mail address: {message.recipient!r}")
        survey_for = payload.get("survey_for")
        token = self._survey_token(survey_for) if isinstance(survey_for, str) else None
        reset_token = None
        if kind is NoticeKind.PASSWORD_RESET:
            # Issued now, not when asked for: the outbox never holds a usable secret.
            reset = payload.get("reset")
            reset_token = (recovery.issue_link(self.db, reset, self.clock())
                           if isinstance(reset, int) else None)
            if reset_token is None:
                return Result.refused("the password reset was used or withdrawn, or the "
                                      "account was disabled")
        params = payload.get("params") or {}
        subject = message.subject or messages.title(kind, message.language, params)
        text = messages.email_text(kind, message.language, params,
                                   base_url=self.delivery.base_url, survey_token=token,
                                   reset_token=reset_token)
        email = smtp.compose(self.delivery, to=message.recipient, subject=subject, text=text,
                             delivery_id=message.id, now=self.clock())
        return smtp.send(self.delivery, email)

    def _send_webhook(self, message: outbox.Outgoing) -> Result:
        target = outbox.webhook_target(self.db, message.recipient)
        if target is None:
            return Result.refused("the webhook was deleted")
        if not target.active:
            return Result.refused("the webhook is disabled")
        request = formats.build(fmt=target.format, url=target.url, secret=target.secret,
                                document=message.payload, language=message.language,
                                base_url=self.delivery.base_url, delivery_id=message.id,
                                now=self.clock())
        return http.post(request, fmt=target.format, timeout=self.delivery.webhook_timeout)

    # --- the loop ----------------------------------------------------------------------

    def run(self, *, interval: float = 5.0,
            wait: Callable[[float], bool] | None = None) -> None:
        """Pass after pass until `stop()`: no pause while there is work, `interval`
        seconds when idle, a growing pause while the database is unreachable. `wait(s)`
        pauses and says whether to stop (default: the stop event's wait)."""
        pause = wait or self.wait
        failures = 0
        while not self.stopping:
            try:
                report = self.run_once()
            except Exception as error:
                failures += 1
                delay = min(BACKOFF_CAP, BACKOFF_START * 2 ** (failures - 1))
                if unreachable(error):
                    log.warning("the database is unreachable (%s); trying again in %g s",
                                first_line(error), delay)
                else:  # a bug: the traceback helps whoever fixes it
                    log.exception("the pass failed; trying again in %g s", delay)
                if pause(delay):
                    break
                continue
            if failures:
                log.info("the database is reachable again; resuming")
                failures = 0
            if report.busy:
                log.info("%s", report.line())
            if pause(0 if report.busy else interval):
                break
        log.info("worker %s stopped", self.owner)
