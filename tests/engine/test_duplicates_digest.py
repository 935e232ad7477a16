"""The repeat fingerprint is the digest of one fixed text, character for character: it is
stored on every ticket and looked up later, so a different text would miss them all."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

from engine.duplicates import DuplicateCheck, key_digest

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
def test_the_digest_is_of_the_json_text_it_always_was(ticket_type: str, fields: tuple[str, ...],
                                                      key: tuple[str, ...]) -> None:
    spec = DuplicateCheck(fields, timedelta(days=30), "30d", "repeat", "previous")
    text = json.dumps([ticket_type, list(fields), list(key)], ensure_ascii=False)
    stored = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    assert key_digest(ticket_type, spec, key) == stored
