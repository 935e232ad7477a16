"""Numbers on pages (`runtime.web.common.number_text`): a field's decimals are shown, a
whole number reads without a trailing .0 (pure: no database, no request)."""

from __future__ import annotations

import pytest

from engine.model import Field, FieldType, Label
from runtime.web.common import number_text


def number(decimals: int | None = None) -> Field:
    return Field(id="n", type=FieldType.NUMBER, label=Label({"en": "N"}), pointer="/fields/0",
                 decimals=decimals)


@pytest.mark.parametrize(("decimals", "value", "shown"), [
    (2, 12.5, "12.50"),
    (2, 0.1 * 3, "0.30"),  # not 0.30000000000000004
    (2, 25, "25.00"),
    (0, 7.0, "7"),
    (None, 25.0, "25"),
    (None, 12.5, "12.5"),
    (None, 3, "3"),
])
def test_numbers_read_as_their_field_says(decimals: int | None, value: float,
                                          shown: str) -> None:
    assert number_text(number(decimals), value) == shown
