"""JSON columns (orjson through the engine's serializer): what goes in comes out, on both
databases, and rows the standard library wrote still read."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from runtime.db import Database, dumps_json, loads_json
from runtime.models import Timer

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def store(database: Database, payload: Any) -> Any:
    with database.write() as session:
        session.execute(insert(Timer).values(
            ticket_id=None, kind="notify", key="k", due_at=NOW, payload=payload,
            state="pending", attempts=0, created_at=NOW))
    with database.read() as session:
        return session.scalar(select(Timer.payload))


@pytest.mark.parametrize(("payload", "read_back"), [
    ({"text": {"zh": "打印机卡纸", "en": "paper jam"}, "n": [1, 2.5, None, True]},
     {"text": {"zh": "打印机卡纸", "en": "paper jam"}, "n": [1, 2.5, None, True]}),
    ({1: "one", "two": 2}, {"1": "one", "two": 2}),  # keys become strings, as json does
    ({}, {}),
])
def test_values_round_trip(database: Database, payload: Any, read_back: Any) -> None:
    assert store(database, payload) == read_back


@pytest.mark.parametrize("written", ['{"cost": NaN}', '{"cost": Infinity}'])
def test_rows_the_standard_library_wrote_still_read(written: str) -> None:
    value = loads_json(written)["cost"]
    assert math.isnan(value) or math.isinf(value)


def test_encoded_text_is_plain_json() -> None:
    assert loads_json(dumps_json({"a": [1, "二"]})) == {"a": [1, "二"]}


def test_legacy_text_in_a_sqlite_column_reads(tmp_path: Any) -> None:
    from runtime.migrate import upgrade

    database = Database(f"sqlite:///{tmp_path / 'legacy.db'}")
    upgrade(database)
    with database.write() as session:
        session.execute(text(
            "INSERT INTO timers (kind, key, due_at, payload, state, attempts, created_at) "
            "VALUES ('notify', 'k', '2026-03-01 09:30:00.000000', '{\"cost\": NaN}', "
            "'pending', 0, '2026-03-01 09:30:00.000000')"))
    with database.read() as session:
        assert math.isnan(session.scalar(select(Timer.payload))["cost"])
