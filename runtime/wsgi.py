"""WSGI entry points for production servers.

- `create()`: the app built from the environment, for any WSGI server, e.g.
  `gunicorn 'runtime.wsgi:create()'` (it honours `DATABASE_URL`, `TICKETFLOW_INSTANCE`).
- `Server`: the gunicorn application `ticketflow serve` runs, configured in code so no
  config file is needed.

Default concurrency, chosen for a 2-core machine: 2 worker processes x 4 threads
(gunicorn's `gthread` worker). Two processes give both cores Python to run (form
validation, templates and password hashing are CPU work the GIL would otherwise
serialise); a few threads per process overlap the waits on the database and on slow
clients without the memory of more processes. SQLite copes with several writer
processes (WAL, `BEGIN IMMEDIATE` and a busy timeout, see `runtime.db`); PostgreSQL
connections are pooled per process. Raise `--workers` with the cores.

The app is built in each worker after the fork (no `preload_app`): a database engine
and its pooled connections must never be shared across processes.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from runtime.app import create_app
from runtime.config import Settings

DEFAULT_WORKERS = 2
DEFAULT_THREADS = 4


def create() -> Flask:
    """The application configured from the environment (a WSGI app factory)."""
    return create_app(Settings.from_env())


def bind_address(host: str, port: int) -> str:
    """gunicorn's bind syntax; an IPv6 literal needs brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def server_options(host: str = "127.0.0.1", port: int = 8000, *,
                   workers: int = DEFAULT_WORKERS, threads: int = DEFAULT_THREADS,
                   access_log: bool = True) -> dict[str, Any]:
    """gunicorn settings for `ticketflow serve`."""
    return {
        "bind": [bind_address(host, port)],
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "proc_name": "ticketflow",
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        # Requests are short; a worker stuck this long is restarted by the arbiter.
        "timeout": 60,
        # Ctrl-C / SIGTERM: finish requests in flight, but do not hang a shutdown.
        "graceful_timeout": 10,
        # gunicorn >= 24 opens a control socket at one fixed path per user; two servers on
        # one machine (a demo, the benchmark, tests) would fight over it, and we manage
        # the server with signals only. Older releases ignore the unknown key.
        "control_socket_disable": True,
    }


class Server(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn running ticketflow with settings given in code."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        # Called in each worker after the fork: each builds its own database engine.
        return create_app(self.settings)
