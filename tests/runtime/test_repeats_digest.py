"""The repeat fingerprint computed at creation is the engine's, character for character:
it is stored on every ticket and looked up later, so a different text would miss them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.duplicates import DuplicateCheck, key_digest
from runtime.services.repeats import _digest

CASES = [
    ("repair", ("device",), ("PRN-0042",)),
    ("repair", ("device", "serial"), ("PRN-0042", "SN 1")),
    ("after_sales", ("order",), ('quote " and \\ backslash',)),
    ("维修", ("设备",), ("打印机-三楼",)),
    ("t", ("a",), ("tab\tnew\nline\x00nul\x1f",)),
    ("t", ("a",), ("emoji 🖨️ and \u2028 separator",)),
    ("t", ("a",), ("lone surrogate \ud800",)),
    ("t", ("a", "b", "c"), (" ", "x", "  y  ")),
]


@pytest.mark.parametrize(("ticket_type", "fields", "key"), CASES,
                         ids=[str(i) for i in range(len(CASES))])
def test_the_fast_digest_is_the_engines(ticket_type: str, fields: tuple[str, ...],
                                        key: tuple[str, ...]) -> None:
    spec = DuplicateCheck(fields, timedelta(days=30), "30d", "repeat", "previous")
    assert _digest(ticket_type, spec, key) == key_digest(ticket_type, spec, key)
