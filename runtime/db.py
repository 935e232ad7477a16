"""Database engines and transactions.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout.
pysqlite's own transaction handling is switched off so that we issue BEGIN ourselves:
a write transaction starts with `BEGIN IMMEDIATE`, taking the write lock up front. A
deferred transaction that read first would otherwise fail at once with "database is
locked" when it tries to write while another writer holds the lock; with the lock taken
at BEGIN, concurrent writers queue on the busy timeout instead. WAL checkpoints run on a
background thread of each writing process, not inside commits (runtime/checkpoint.py).

PostgreSQL is used when the URL says so; optimistic locking (a version column) and
row locks on counters keep concurrent writers correct.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, make_url, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from runtime.checkpoint import WalCheckpointer, configure_connection
from runtime.prepared import DriverConnection, as_sqlalchemy_error

SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITE = "ticketflow_write"

Transaction = Session | Connection
"""What a service writes through: the ORM session of `Database.write()`, or on a hot
path the Core connection of `Database.write_connection()`."""


def connection_of(transaction: Transaction) -> Connection:
    """The Core connection a transaction's statements run on."""
    return transaction if isinstance(transaction, Connection) else transaction.connection()


def dumps_json(value: Any) -> str:
    """JSON columns' encoder: orjson (the standard library's took about ten times as
    long, several times per ticket created). Keys that are not strings are written as
    strings, as `json.dumps` does."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def loads_json(text: str | bytes) -> Any:
    """JSON columns' decoder. Rows written by `json.dumps` may hold `NaN` or `Infinity`,
    which orjson refuses: those are read by the standard library."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for `url` with the settings this application relies on."""
    options.setdefault("json_serializer", dumps_json)
    options.setdefault("json_deserializer", loads_json)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        if make_url(url).database not in (None, "", ":memory:"):
            # A file's pool: LIFO, the connection used last is used next. Each SQLite
            # connection has a page cache of its own that another connection's commit
            # makes stale; handing out the least recently used one (the pool's default)
            # made every request re-read. (An in-memory database has one connection.)
            options.setdefault("pool_use_lifo", True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                               "check_same_thread": False}, **options
        )
        _configure_sqlite(engine)
        return engine
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    return create_engine(url, **options)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see above)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        configure_connection(cursor)
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        # Straight to the driver: every transaction begins here, and a statement through
        # SQLAlchemy's execution machinery costs several times the BEGIN itself.
        connection.connection.driver_connection.execute(
            "BEGIN IMMEDIATE" if write else "BEGIN")


def lease_due_rows(session: Session, model: Any, columns: Sequence[Any], *, due: Any,
                   order_by: Sequence[Any], limit: int, leased: str, owner: str,
                   until: datetime) -> Sequence[Any]:
    """The workers' claim, shared by timers and the outbox: up to `limit` rows of `model`
    matching `due`, in `order_by` order, locked past other workers' locks (`SKIP
    LOCKED` on PostgreSQL; SQLite's writer lock), then put in state `leased` for `owner`
    until `until` with one more attempt counted. Returns `columns` of the rows as they
    were before the lease. Runs in the caller's write transaction."""
    without_jit(session)
    rows = session.execute(
        select(*columns).where(due).order_by(*order_by).limit(limit)
        .with_for_update(skip_locked=True)).all()
    if rows:
        session.execute(
            update(model).where(model.id.in_([row.id for row in rows]))
            .values(state=leased, lease_owner=owner, lease_expires_at=until,
                    attempts=model.attempts + 1)
            .execution_options(synchronize_session=False))
    return rows


def without_jit(session: Session) -> None:
    """Turn PostgreSQL's JIT compilation off for the rest of this transaction (a no-op
    elsewhere). For the workers' claim queries: rows done are in the past and rows waiting
    in the future, so the planner, taking state and instant as independent, expects a
    large share of the table to be due; with a million rows that estimate crosses
    `jit_above_cost` and each claim spent more compiling than running (bench/sla.py:
    0.3 s per batch)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


class Database:
    """The engine plus session factories for reading and for writing."""

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **options)
        self._local_writer = threading.RLock() if self.engine.dialect.name == "sqlite" else None
        self._checkpointer = _checkpointer_for(self)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._writing = self.engine.execution_options(**{_WRITE: True})
        self._write = sessionmaker(self._writing, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def checkpointer(self) -> WalCheckpointer | None:
        """The background WAL checkpointer of a SQLite file (None elsewhere)."""
        return self._checkpointer

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back on any error."""
        with self._writer_turn(), self._write() as session, session.begin():
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """`write()` on a Core connection, without an ORM session: for a hot path whose
        statements are all Core (creating a ticket). The session's own transaction
        bookkeeping (begin, flush check, commit, close) cost 25 µs a transaction more
        than the connection's (docs/performance.md)."""
        with self._writer_turn(), self._writing.begin() as connection:
            yield connection

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        # SQLite has one writer at a time. Threads of this process queue on a lock, which
        # wakes the next one the moment the last commits, instead of sleeping in SQLite's
        # busy handler (1, 2, 5, 10 ... ms). Only a speed-up: other processes still wait
        # on the database's own lock, and correctness never depends on this one. After a
        # commit (an error skips it), the background checkpointer is told there is work.
        if self._local_writer is None:
            yield
            return
        with self._local_writer:
            yield
        if self._checkpointer is not None:
            self._checkpointer.nudge()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work. Closing the session hands the connection back to the
        pool, which rolls back; objects already loaded stay readable afterwards."""
        with self._read() as session:
            yield session

    @contextmanager
    def driver_connection(self) -> Iterator[DriverConnection]:
        """A pooled driver connection for a one-statement read on every request (who is
        calling), run by a `Prepared` statement. A lone SELECT is atomic by itself; the
        pool rolls back on return. Without SQLAlchemy's `Connection` around it, the token
        lookup of an API call creating tickets took 87 – 90 µs instead of 105 – 106."""
        dialect = self.engine.dialect
        try:
            connection = self.engine.raw_connection()
        except dialect.loaded_dbapi.Error as error:
            raise as_sqlalchemy_error(error, dialect) from error  # an outage: a 503
        try:
            yield DriverConnection(connection, dialect)
        finally:
            connection.close()

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()


def _checkpointer_for(database: Database) -> WalCheckpointer | None:
    """A SQLite file's background checkpointer (runtime/checkpoint.py); None for
    PostgreSQL and in-memory databases."""
    url = make_url(database.url)
    if (url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:")
            or url.query.get("uri")):
        return None
    return WalCheckpointer(url.database).attach(database)
