"""The worker's loop and `ticketflow worker`: backing off while the database is away and
resuming without losing a timer, stopping gracefully, one pass for cron. SQLite and
PostgreSQL; the outage is real (a missing database file, a proxy that cuts PostgreSQL)."""

from __future__ import annotations

import logging
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from runtime.cli import cli
from runtime.config import DeliverySettings
from runtime.db import Database
from runtime.models import TimerKind
from runtime.services import timers
from runtime.worker import Worker
from tests.conftest import ROOT
from tests.runtime.conftest import Seed
from tests.runtime.servers import SAYS_WITHIN_S, Log, TcpProxy, free_port
from tests.runtime.test_timers import fired_keys, schedule


@dataclass
class Outage:
    """A database the worker cannot reach until `restore()`."""

    db: Database
    restore: Callable[[], None]


@pytest.fixture
def outage(seed: Seed, tmp_path: Path) -> Iterator[Outage]:
    if seed.db.dialect == "sqlite":
        # The database file is not there yet (a volume not mounted): every connection fails.
        later = tmp_path / "later" / "ticketflow.db"
        source = make_url(seed.db.url).database
        assert source is not None

        def restore() -> None:
            later.parent.mkdir()
            with sqlite3.connect(source) as original, sqlite3.connect(later) as copy:
                original.backup(copy)

        database = Database(f"sqlite:///{later}")
        yield Outage(database, restore)
        database.dispose()
        return
    url = make_url(seed.db.url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    database = Database(url.set(port=proxy.port).render_as_string(hide_password=False))
    yield Outage(database, lambda: proxy.set_up(True))
    database.dispose()
    proxy.close()


def test_an_unreachable_database_makes_the_worker_back_off_and_resume(
        seed: Seed, outage: Outage, caplog: pytest.LogCaptureFixture):
    schedule(seed, "t:during-outage", 0)
    worker = Worker(outage.db, DeliverySettings(), owner="patient", clock=seed.clock)
    pauses: list[float] = []

    def wait(seconds: float) -> bool:
        pauses.append(seconds)
        if len(pauses) == 3:
            outage.restore()
        return len(pauses) > 3  # stop after the first pass that worked

    with caplog.at_level(logging.INFO, logger="ticketflow.worker"):
        worker.run(interval=5, wait=wait)
    assert pauses == [1, 2, 4, 0]  # doubling while down; no pause after a busy pass
    assert fired_keys(outage.db) == {"t:during-outage": 1}
    lines = [record.getMessage() for record in caplog.records]
    assert sum("the database is unreachable" in line for line in lines) == 3
    assert "the database is reachable again; resuming" in lines
    assert all(record.exc_info is None for record in caplog.records)  # no tracebacks


def test_the_loop_waits_its_interval_when_idle_and_stops_when_asked(seed: Seed):
    worker = Worker(seed.db, DeliverySettings(), owner="idle", clock=seed.clock)
    pauses: list[float] = []

    def wait(seconds: float) -> bool:
        pauses.append(seconds)
        if len(pauses) == 2:
            schedule(seed, "t:later", 0)
        if len(pauses) == 4:
            worker.stop()
        return worker.stopping

    worker.run(interval=7, wait=wait)
    assert pauses == [7, 7, 0, 7]
    assert fired_keys(seed.db) == {"t:later": 1}


def test_stopping_mid_batch_hands_the_rest_back(seed: Seed, monkeypatch: pytest.MonkeyPatch):
    for index in range(3):
        schedule(seed, f"t:{index}", 0)
    worker = Worker(seed.db, DeliverySettings(), owner="leaving", clock=seed.clock)
    original = timers.load_handlers()[str(TimerKind.NOTIFY)]

    def fire_then_stop(session: Any, firing: timers.Firing) -> None:
        original(session, firing)
        worker.stop()  # SIGTERM arrives while the first timer fires

    monkeypatch.setitem(timers.HANDLERS, str(TimerKind.NOTIFY), fire_then_stop)
    report = worker.run_once()
    assert (report.timers.claimed, report.timers.fired) == (3, 1)
    next_one = Worker(seed.db, DeliverySettings(), owner="next", clock=seed.clock)
    assert next_one.run_once().timers.fired == 2


# --- the command -----------------------------------------------------------------------


def _env(database: Database, tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": database.url, "TICKETFLOW_INSTANCE": str(tmp_path / "instance")}


def test_worker_once_fires_what_is_due_and_reports(seed: Seed, tmp_path: Path):
    schedule(seed, "t:cron", -10 * 365 * 24 * 60)  # due by the real clock the CLI reads
    result = CliRunner().invoke(cli, ["worker", "--once", "--id", "cron"],
                                env=_env(seed.db, tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("timers: 1 fired, 0 failed, 0 skipped; messages: 0 sent")
    assert fired_keys(seed.db) == {"t:cron": 1}


def test_worker_once_on_an_unreachable_database_is_one_line_and_exit_1(tmp_path: Path):
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2"
    result = CliRunner().invoke(cli, ["worker", "--once"],
                                env={"DATABASE_URL": url,
                                     "TICKETFLOW_INSTANCE": str(tmp_path / "instance")})
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: database:")


def _start(database: Database, tmp_path: Path, name: str) -> Log:
    env = {**os.environ, **_env(database, tmp_path)}
    return Log(subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "worker", "--interval", "0.2", "--id", name],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))


def _terminate(log: Log) -> str:
    """SIGTERM, as a process manager stops a service: a clean exit, no traceback."""
    log.process.send_signal(signal.SIGTERM)
    log.process.wait(timeout=SAYS_WITHIN_S)
    text = log.to_the_end()
    assert log.process.returncode == 0, text
    assert "Traceback" not in text
    return text


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_sigterm_stops_the_worker_gracefully(seed: Seed, tmp_path: Path):
    log = _start(seed.db, tmp_path, "svc")
    log.until("worker svc started")
    assert "worker svc stopped" in _terminate(log)


def test_a_worker_started_while_the_database_is_down_waits_for_it(
        seed: Seed, outage: Outage, tmp_path: Path):
    schedule(seed, "t:waited", -10 * 365 * 24 * 60)
    log = _start(outage.db, tmp_path, "early")
    log.until("the database is unreachable")
    outage.restore()
    log.until("timers: 1 fired")
    _terminate(log)
    assert fired_keys(outage.db) == {"t:waited": 1}


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_serve_runs_a_scheduler_beside_the_server_and_stops_it(seed: Seed, tmp_path: Path):
    schedule(seed, "t:served", -10 * 365 * 24 * 60)
    env = {**os.environ, **_env(seed.db, tmp_path)}
    log = Log(subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "serve", "--port", str(free_port()),
         "--workers", "1", "--threads", "1", "--no-access-log"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    log.until("and one scheduler")
    log.until("timers: 1 fired")
    # Stopping the server stops its scheduler: the output ends with the worker's.
    assert "stopped" in _terminate(log).split("timers: 1 fired", 1)[1]
    assert fired_keys(seed.db) == {"t:served": 1}


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_scheduler_stops_when_the_server_that_started_it_is_killed(
        seed: Seed, tmp_path: Path):
    # The shell stands for `ticketflow serve`; SIGKILL leaves it no chance to clean up.
    command = (f"{shlex.quote(sys.executable)} -m runtime.cli worker --interval 0.2 "
               "--id orphan --parent $$ & wait")
    env = {**os.environ, **_env(seed.db, tmp_path)}
    log = Log(subprocess.Popen(["sh", "-c", command], cwd=ROOT, env=env,
                               stderr=subprocess.PIPE, text=True))
    log.until("worker orphan started")
    log.process.kill()
    log.process.wait(timeout=SAYS_WITHIN_S)
    log.until("is gone; stopping")
    # The output ends when its last writer, the worker, has exited.
    assert "worker orphan stopped" in log.to_the_end()


def test_a_worker_lease_covers_a_batch_of_slow_sends():
    worker = Worker(Database("sqlite://"), DeliverySettings(webhook_timeout=5, smtp_timeout=10),
                    outbox_batch=20)
    assert worker.outbox_lease >= timedelta(seconds=10 * 20)
