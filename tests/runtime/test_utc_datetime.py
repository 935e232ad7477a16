"""UtcDateTime on SQLite: one step each way, with the very text SQLAlchemy's own DateTime
stores (so rows written before and after compare and sort alike)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from runtime.models import UtcDateTime

DIALECT = sqlite.dialect()
SQLALCHEMYS = DateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
TO_TEXT = UtcDateTime().bind_processor(DIALECT)
FROM_TEXT = UtcDateTime().result_processor(DIALECT, None)
SHANGHAI = timezone(timedelta(hours=8))


@pytest.mark.parametrize("instant", [
    datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # no microseconds: still six digits
    datetime(999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI),  # stored as the same instant in UTC
])
def test_instants_are_stored_as_sqlalchemy_stores_them(instant: datetime) -> None:
    text = TO_TEXT(instant)
    assert text == SQLALCHEMYS(instant.astimezone(UTC).replace(tzinfo=None))
    assert FROM_TEXT(text) == instant
    assert FROM_TEXT(text).tzinfo is UTC


@pytest.mark.parametrize(("text", "instant"), [
    ("2026-01-02 03:04:05.000006", datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)),
    ("2026-01-02 03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2026-01-02", datetime(2026, 1, 2, tzinfo=UTC)),
    (None, None),
])
def test_stored_text_reads_back_as_aware_utc(text: str | None, instant: datetime | None) -> None:
    assert FROM_TEXT(text) == instant


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        TO_TEXT(datetime(2026, 1, 2, 3, 4, 5))


def test_an_instant_bound_again_and_again_keeps_its_own_text() -> None:
    # The binder remembers the instant it bound last: alternating instants, and equal
    # instants in other zones, must each still get their own (UTC) text.
    now = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    later = now + timedelta(microseconds=1)
    same_in_shanghai = now.astimezone(SHANGHAI)
    other_column = UtcDateTime().bind_processor(DIALECT)
    texts = [TO_TEXT(now), TO_TEXT(now), other_column(now), TO_TEXT(later), TO_TEXT(now),
             TO_TEXT(same_in_shanghai)]
    assert texts == ["2026-01-02 03:04:05.000006"] * 3 + ["2026-01-02 03:04:05.000007"] + \
        ["2026-01-02 03:04:05.000006"] * 2
    with pytest.raises(ValueError, match="naive"):
        TO_TEXT(now.replace(tzinfo=None))
