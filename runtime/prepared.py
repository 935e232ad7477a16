"""Statements prepared once and run on the driver's cursor: the creation hot path's way
past SQLAlchemy's per-execution machinery.

For each statement SQLAlchemy builds an execution context, looks up its compiled-cache
entry, processes parameters, fires events and wraps the cursor in a result object: about
20 µs a statement on the benchmark machine, against 9 µs for the driver alone, and over
the dozen statements of a ticket's creation (number, routing, ticket, events, timers,
notices) the largest single cost left (docs/performance.md).

A `Prepared` statement is an ordinary Core statement, compiled once per engine and set
of parameter names: its SQL text, the order of its parameters and each parameter's bind
processor — the column type's own, so values are stored exactly as SQLAlchemy stores
them (UTC datetimes, JSON) — plus a result processor per returned column. Running it
hands the processed values to the DBAPI cursor of the caller's connection, inside the
caller's transaction. Driver errors come out as SQLAlchemy's exception classes, so the
error handlers (409 on a unique violation, 503 when the database is down) see no
difference.

Only plain parameters are supported: no expanding `IN` lists (their SQL depends on the
list), which keeps the compiled form a pure function of the parameter names.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    names: tuple[str, ...]  # the parameters the SQL takes, in order
    processing: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, processor)
    fixed: dict[str, Any]  # values the statement carries itself (`next_number + 1`)
    results: tuple[Processor, ...]  # one per returned column
    row_type: Any  # a named tuple of the returned columns
    processed: bool  # whether any returned column has a processor

    def parameters(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        fixed = self.fixed
        values = [params[name] if name in params else fixed[name] for name in self.names]
        for index, process in self.processing:
            if values[index] is not None:
                values[index] = process(values[index])
        return values if self.positional else dict(zip(self.names, values, strict=True))

    def row(self, raw: Sequence[Any]) -> Any:
        if not self.processed:
            return self.row_type._make(raw)
        return self.row_type._make(
            value if process is None or value is None else process(value)
            for value, process in zip(raw, self.results, strict=True))


@dataclass(frozen=True)
class DriverConnection:
    """A pooled driver connection with its engine's dialect, for a read that needs no
    transaction of SQLAlchemy's around it (`Database.driver_connection`)."""

    connection: Any  # the pool's proxy of a DBAPI connection
    dialect: Dialect


Executor = Session | Connection | DriverConnection


def as_sqlalchemy_error(error: Exception, dialect: Dialect, statement: str | None = None,
                        parameters: Any = None) -> exc.DBAPIError:
    """A driver's error as SQLAlchemy raises it (IntegrityError, OperationalError ...):
    the 409 and 503 handlers know only those."""
    return exc.DBAPIError.instance(statement, parameters, error, dialect.loaded_dbapi.Error,
                                   dialect=dialect)


class Prepared:
    """A Core statement run on the driver's cursor (see the module's docstring)."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        # Per engine's dialect (its processors carry the engine's settings, such as its
        # JSON serializer), forgotten with the engine; by the parameters' names in the
        # order given (another order is compiled once more, to the same statement).
        self._compiled: WeakKeyDictionary[Dialect, dict[tuple[str, ...], _Compiled]] = (
            WeakKeyDictionary())
        # The dialect used last and its statements (kept alive until another is used):
        # one engine per process is the rule, and a weak dictionary's lookup makes a weak
        # reference every time.
        self._last: tuple[Dialect, dict[tuple[str, ...], _Compiled]] | None = None
        self._lock = threading.Lock()

    def _for(self, dialect: Dialect, names: tuple[str, ...]) -> _Compiled:
        last = self._last
        by_names = last[1] if last is not None and last[0] is dialect else None
        if by_names is None:
            with self._lock:
                by_names = self._compiled.setdefault(dialect, {})
            self._last = (dialect, by_names)
        found = by_names.get(names)
        if found is None:
            found = self._compile(dialect, frozenset(names))
            with self._lock:
                found = by_names.setdefault(names, found)
        return found

    def _compile(self, dialect: Dialect, names: frozenset[str]) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect, column_keys=sorted(names))
        binds = compiled.binds
        if any(bind.expanding for bind in binds.values()):
            raise ValueError("a prepared statement takes no expanding IN parameters")
        order = (tuple(compiled.positiontup or ()) if dialect.positional
                 else tuple(binds))
        # Only the parameters with a processor are visited when values are bound.
        processing = tuple((index, process) for index, process in enumerate(
            _bind_processor(binds[name].type, dialect) for name in order) if process is not None)
        fixed = {name: binds[name].effective_value for name in order
                 if name not in names and not binds[name].required}
        missing = [name for name in order if name not in names and name not in fixed]
        if missing:
            raise ValueError(f"no value for the parameters {missing}")
        columns = getattr(self.statement, "exported_columns", ())
        results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                        for column in columns)
        row_type = namedtuple("Row", list(columns.keys()) if columns else [],  # type: ignore[misc]
                              rename=True)
        return _Compiled(compiled.string, dialect.positional, order, processing, fixed,
                         results, row_type, any(process is not None for process in results))

    def _run(self, executor: Executor, rows: Sequence[Mapping[str, Any]],
             ) -> tuple[_Compiled, Any]:
        if isinstance(executor, DriverConnection):
            dialect, driver = executor.dialect, executor.connection
        else:
            # A session's statements run on its connection, in its transaction.
            connection = (executor if isinstance(executor, Connection)
                          else executor.connection())
            dialect, driver = connection.dialect, connection.connection
        compiled = self._for(dialect, tuple(rows[0]))
        cursor = driver.cursor()
        parameters: Any = None
        try:
            if len(rows) == 1:
                parameters = compiled.parameters(rows[0])
                cursor.execute(compiled.sql, parameters)
            else:
                parameters = [compiled.parameters(row) for row in rows]
                cursor.executemany(compiled.sql, parameters)
        except dialect.loaded_dbapi.Error as error:
            cursor.close()
            raise as_sqlalchemy_error(error, dialect, compiled.sql, parameters) from error
        return compiled, cursor

    def rows(self, connection: Executor, params: Mapping[str, Any]) -> list[Any]:
        """Run with one set of parameters; every row it returns, as named tuples."""
        compiled, cursor = self._run(connection, [params])
        try:
            return [compiled.row(raw) for raw in cursor.fetchall()]
        finally:
            cursor.close()

    def first(self, connection: Executor, params: Mapping[str, Any]) -> Any:
        """Run with one set of parameters; the first row it returns, or None."""
        found = self.rows(connection, params)
        return found[0] if found else None

    def scalar(self, connection: Executor, params: Mapping[str, Any]) -> Any:
        """Run with one set of parameters; the first column of the first row, or None."""
        row = self.first(connection, params)
        return row[0] if row else None

    def execute(self, connection: Executor, params: Mapping[str, Any]) -> int:
        """Run with one set of parameters for its effect; the rows it changed."""
        _compiled, cursor = self._run(connection, [params])
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def execute_many(self, connection: Executor,
                     rows: Iterable[Mapping[str, Any]]) -> None:
        """Run once per set of parameters (all with the same names), in one call."""
        batch = list(rows)
        if batch:
            self._run(connection, batch)[1].close()


def _bind_processor(type_: Any, dialect: Dialect) -> Processor:
    # The dialect's own implementation of the type (a TypeDecorator's included), as
    # SQLAlchemy applies it when it executes the statement itself.
    return type_.dialect_impl(dialect).bind_processor(dialect)
