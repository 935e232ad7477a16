"""Prepared statements (runtime.prepared): run on the driver's cursor, they must store and
read values exactly as SQLAlchemy does, inside the caller's transaction, and fail with
SQLAlchemy's exception classes — on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import bindparam, exc, insert, select, update

from runtime.db import Database
from runtime.models import Timer
from runtime.prepared import Prepared

INSTANT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)

INSERT = Prepared(insert(Timer).returning(Timer.id, Timer.due_at, Timer.payload))
READ = Prepared(select(Timer.key, Timer.due_at, Timer.payload, Timer.fired_at)
                .where(Timer.id == bindparam("timer")))
BUMP = Prepared(update(Timer).where(Timer.key == bindparam("timer_key"))
                .values(attempts=Timer.attempts + 1))


def timer_row(key: str, **changes: Any) -> dict[str, Any]:
    return {"ticket_id": None, "kind": "notify", "key": key, "due_at": INSTANT,
            "payload": {"users": ["wang"], "text": {"zh": "提醒", "en": "remind"}},
            "state": "pending", "attempts": 0, "created_at": INSTANT, **changes}


@pytest.mark.parametrize(("due_at", "payload"), [
    (INSTANT, {"users": ["wang"], "text": {"zh": "提醒", "en": "remind"}}),
    # Another offset is stored as the same instant in UTC.
    (INSTANT.astimezone(timezone(timedelta(hours=8))), {"nested": [1, 2.5, None, True]}),
    (INSTANT, {}),
])
def test_values_round_trip_as_sqlalchemy_stores_them(database: Database, due_at: datetime,
                                                     payload: dict[str, Any]) -> None:
    with database.write() as session:
        written = INSERT.first(session, timer_row("a", due_at=due_at, payload=payload))
    assert (written.due_at, written.payload) == (INSTANT, payload)
    with database.read() as session:
        # Read back by SQLAlchemy itself, and by the prepared select.
        stored = session.get(Timer, written.id)
        assert stored is not None
        assert (stored.due_at, stored.payload, stored.fired_at) == (INSTANT, payload, None)
        assert READ.first(session, {"timer": written.id}) == ("a", INSTANT, payload, None)
        assert READ.first(session, {"timer": written.id + 1}) is None


def test_rows_come_back_named_and_in_order(database: Database) -> None:
    with database.write() as session:
        ids = [INSERT.scalar(session, timer_row(key)) for key in ("a", "b")]
    with database.read() as session:
        row = READ.first(session, {"timer": ids[1]})
    assert (row.key, row.due_at, row.payload["users"]) == ("b", INSTANT, ["wang"])


def test_a_read_on_a_pooled_driver_connection_sees_what_was_committed(
        database: Database) -> None:
    with database.write() as session:
        written = INSERT.scalar(session, timer_row("a"))
    with database.driver_connection() as connection:
        row = READ.first(connection, {"timer": written})
    assert row == ("a", INSTANT, timer_row("a")["payload"], None)
    with database.write() as session:  # the connection went back to the pool idle
        BUMP.execute(session, {"timer_key": "a"})


def test_execute_many_and_values_the_statement_carries(database: Database) -> None:
    with database.write() as session:
        Prepared(insert(Timer)).execute_many(session, [timer_row(key) for key in "abc"])
        assert BUMP.execute(session, {"timer_key": "b"}) == 1  # rows changed
        assert BUMP.execute(session, {"timer_key": "z"}) == 0
    with database.read() as session:
        found = dict(session.execute(select(Timer.key, Timer.attempts)).all())
    assert found == {"a": 0, "b": 1, "c": 0}


def test_it_runs_in_the_callers_transaction(database: Database) -> None:
    def fail_after_the_insert() -> None:
        with database.write() as session:
            INSERT.first(session, timer_row("rolled-back"))
            raise RuntimeError("the change fails after the insert")

    with pytest.raises(RuntimeError):
        fail_after_the_insert()
    with database.read() as session:
        assert session.scalars(select(Timer.key)).all() == []


def test_driver_errors_come_out_as_sqlalchemys(database: Database) -> None:
    with database.write() as session:
        INSERT.first(session, timer_row("taken"))
    with pytest.raises(exc.IntegrityError), database.write() as session:
        INSERT.first(session, timer_row("taken"))  # the key is unique
    with database.read() as session:
        assert session.scalars(select(Timer.key)).all() == ["taken"]


def test_a_missing_parameter_or_an_expanding_list_is_refused(database: Database) -> None:
    by_keys = Prepared(select(Timer.id).where(Timer.key.in_(bindparam("keys", expanding=True))))
    with database.read() as session:
        with pytest.raises(ValueError, match="expanding"):
            by_keys.rows(session, {"keys": ["a"]})
        with pytest.raises(ValueError, match="no value"):
            READ.rows(session, {"other": 1})


def test_each_engine_binds_with_its_own_settings(tmp_path: Any) -> None:
    from runtime.migrate import upgrade

    seen: list[str] = []

    def serializer(name: str) -> Any:
        def dumps(value: Any) -> str:
            seen.append(name)
            return json.dumps(value)
        return dumps

    for name in ("first", "second"):
        database = Database(f"sqlite:///{tmp_path / name}.db", json_serializer=serializer(name))
        upgrade(database)
        with database.write() as session:
            INSERT.first(session, timer_row("k"))
        database.dispose()
    assert seen == ["first", "second"]
