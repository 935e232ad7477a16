"""`ticketflow worker`: the scheduler and the outbox's delivery, as a command.

Registered on the `cli` group in runtime/cli.py. Runtime modules are imported inside the
command, so the engine's commands keep starting without SQLAlchemy.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from datetime import datetime
from typing import Any

import click


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("ticketflow")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _on_signals(stop: Any) -> None:
    """SIGTERM (systemd, docker stop) and SIGINT (Ctrl-C) stop the loop gracefully."""
    def handle(_signum: int, _frame: Any) -> None:
        # Not `stop()` here: the handler runs on the main thread between two bytecodes,
        # possibly while that thread holds the stop event's lock (inside its wait), and
        # setting the event would then deadlock. A thread takes the lock when it is free.
        threading.Thread(target=stop, name="ticketflow-stop").start()

    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(signum, handle)
        except ValueError:  # not the main thread (e.g. inside a test runner's thread)
            pass


def _stop_with_parent(parent: int, runner: Any, every: float = 1.0) -> None:
    """Stop `runner` when process `parent` is gone: a scheduler started by `ticketflow
    serve` must not outlive a server killed outright (SIGKILL runs no clean-up). An
    orphan is adopted by another process, so its parent's id changes."""
    def watch() -> None:
        while os.getppid() == parent:
            if runner.wait(every):  # the worker stopped for another reason
                return
        logging.getLogger("ticketflow.worker").info(
            "the process that started this worker (%d) is gone; stopping", parent)
        runner.stop()

    threading.Thread(target=watch, name="ticketflow-parent-watch", daemon=True).start()


def _instant(_context: Any, _param: Any, value: str | None) -> datetime | None:
    """`--now`: an ISO 8601 instant that says its offset (a naive one would be ambiguous)."""
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 instant") from None
    if instant.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset (add +00:00 or Z)")
    return instant


@click.command("worker")
@click.option("--once", is_flag=True,
              help="One pass (fire what is due, send what is queued), then exit; for cron "
                   "and tests.")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(min=0.05),
              help="Seconds to wait between passes when there is nothing to do.")
@click.option("--id", "worker_id", metavar="NAME",
              help="This worker's name in leases (default: host:pid:random).")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 10_000),
              help="Timers claimed per pass.")
@click.option("--now", "fixed_now", metavar="INSTANT", callback=_instant,
              help="With --once: act as if it were this ISO 8601 instant with an offset "
                   "(e.g. 2026-11-23T06:05:00+00:00) instead of reading the clock; for "
                   "tests and drills that replay what workers do at a given moment.")
@click.option("--parent", type=int, hidden=True,
              help="Stop when this process (the `ticketflow serve` that started this "
                   "worker) is gone.")
def worker(once: bool, interval: float, worker_id: str | None, batch: int,
           fixed_now: datetime | None, parent: int | None) -> None:
    """Fire due reminders, warnings, breaches and escalations, and deliver notifications
    (e-mail, webhooks). Run as many as you like, on as many machines: each timer fires
    once and each message is sent by one worker. SMTP and links: TICKETFLOW_SMTP_* and
    TICKETFLOW_BASE_URL (docs/architecture.md)."""
    from runtime.cli import _failures, _require_current_schema
    from runtime.config import Settings
    from runtime.context import system_clock
    from runtime.db import Database
    from runtime.worker import Worker

    if fixed_now is not None and not once:
        raise click.UsageError("--now needs --once: a looping worker follows the clock")
    _configure_logging()
    log = logging.getLogger("ticketflow.worker")
    with _failures():
        settings = Settings.from_env()
        database = Database(settings.database_url)
        try:
            clock = (lambda: fixed_now) if fixed_now is not None else system_clock
            runner = Worker(database, settings.delivery, owner=worker_id, timer_batch=batch,
                            clock=clock)
            if once:
                _require_current_schema(database)
                click.echo(runner.run_once().line())
                return
            _on_signals(runner.stop)
            if parent is not None:
                _stop_with_parent(parent, runner)
            log.info("worker %s started; every %g s when idle", runner.owner, interval)
            if not settings.delivery.smtp_host:
                log.info("no SMTP server configured (TICKETFLOW_SMTP_HOST): "
                         "e-mails wait in the outbox")
            if _wait_for_database(runner, lambda: _require_current_schema(database)):
                runner.run(interval=interval)
        finally:
            database.dispose()


def _wait_for_database(runner: Any, check: Any) -> bool:
    """A worker started while the database is down waits for it (like an outage later);
    a database without the current schema is an error at once. False: stopped first."""
    from runtime.worker import BACKOFF_CAP, BACKOFF_START, first_line, unreachable

    delay = BACKOFF_START
    while True:
        try:
            check()
            return True
        except Exception as error:
            if not unreachable(error):
                raise
            logging.getLogger("ticketflow.worker").warning(
                "the database is unreachable (%s); trying again in %g s",
                first_line(error), delay)
        if runner.wait(delay):
            return False
        delay = min(BACKOFF_CAP, delay * 2)
