"""WSGI entry points for production servers.

- `create()`: the app built from the environment, for any WSGI server, e.g.
  `granian --interface wsgi --factory runtime.wsgi:create` or `gunicorn
  'runtime.wsgi:create()'` (it honours `DATABASE_URL`, `TICKETFLOW_INSTANCE`).
- `serve()`: what `ticketflow serve` runs — granian, configured in code so no config file
  is needed.

Why granian: its HTTP parsing, keep-alive connections and socket I/O are Rust, outside
the GIL, so a worker's Python thread spends its time in the app. Behind gunicorn's
`gthread` worker (a Python parser and a Python event loop sharing the GIL with the app) a
ticket created over HTTP took about 0.4 ms longer with one client, and with four clients
at once the process created about 40 % fewer tickets per second (docs/performance.md).

Default concurrency, chosen for a 2-core machine: 2 worker processes x 2 threads. Two
processes give both cores Python to run (form validation, templates and password
hashing are CPU work the GIL would otherwise serialise); a second thread per process
keeps one slow request (a large download to a slow client, a wait on the database) from
holding the whole process. More threads cost throughput under load — they contend for
the GIL — so raise `--workers` with the cores rather than `--threads`. SQLite copes with
several writer processes (WAL, `BEGIN IMMEDIATE` and a busy timeout, see `runtime.db`);
PostgreSQL connections are pooled per process.

The app is built in each worker process (granian loads the factory there): a database
engine and its pooled connections must never be shared across processes.
"""

from __future__ import annotations

import signal

from flask import Flask

from runtime.app import create_app
from runtime.config import Settings

DEFAULT_WORKERS = 2
DEFAULT_THREADS = 2
# Ctrl-C / SIGTERM: requests in flight finish, but a stuck one does not hang a shutdown.
SHUTDOWN_SECONDS = 10
ACCESS_LOG_FORMAT = ('%(addr)s - [%(time)s] "%(method)s %(path)s %(protocol)s" %(status)d '
                     '%(dt_ms).1fms')


def create() -> Flask:
    """The application configured from the environment (a WSGI app factory)."""
    return create_app(Settings.from_env())


def create_served() -> Flask:
    """`create()` for a worker process of `serve()`, deaf to the terminal's Ctrl-C.

    Ctrl-C signals the whole process group. A worker that took the SIGINT itself as well
    as the stop its main process then sent refused to stop gracefully, and was killed
    SHUTDOWN_SECONDS later (granian 2.8, with any app). Blocked here, on the worker's
    main thread before granian starts its threads (they inherit the mask), SIGINT never
    reaches the worker; its main process still stops it, with SIGTERM."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    return create()


def serve(host: str = "127.0.0.1", port: int = 8000, *, workers: int = DEFAULT_WORKERS,
          threads: int = DEFAULT_THREADS, access_log: bool = True) -> None:
    """Serve `create_served()` with granian until interrupted (SIGINT or SIGTERM). Each worker
    process builds the app from the environment, as `create` does."""
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "runtime.wsgi:create_served",
        factory=True,
        interface=Interfaces.WSGI,
        address=host,
        port=port,
        workers=workers,
        blocking_threads=threads,
        log_access=access_log,
        log_access_format=ACCESS_LOG_FORMAT,
        websockets=False,  # WSGI has none; granian would say so at every start
        # A worker that dies is started again, as a process manager would.
        respawn_failed_workers=True,
        workers_kill_timeout=SHUTDOWN_SECONDS,
    ).serve()
