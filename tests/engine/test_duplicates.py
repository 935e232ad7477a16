"""Repeat detection: which earlier ticket a new one repeats, and what a definition may
declare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.compile import loads
from engine.duplicates import DuplicateCheck, Earlier, find_repeat, preset, window_of
from engine.durations import parse_duration
from engine.errors import DefinitionError
from tests.conftest import with_fields

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
CHECK = DuplicateCheck(("device",), timedelta(days=30), "30d", "repeat", "previous")


def _earlier(number: str, days_ago: float, device: str = "LAP-1") -> Earlier:
    return Earlier(number, NOW - timedelta(days=days_ago), {"device": device})


@pytest.mark.parametrize(("text", "expected"), [
    ("30m", timedelta(minutes=30)), ("4h", timedelta(hours=4)), ("2d", timedelta(days=2)),
    ("1w", timedelta(weeks=1)), ("1h30m", timedelta(minutes=90)),
])
def test_the_window_is_wall_clock_time(text: str, expected: timedelta) -> None:
    assert window_of(parse_duration(text)) == expected


@pytest.mark.parametrize(("values", "earlier", "expected"), [
    ({"device": "LAP-1"}, [_earlier("A", 10)], "A"),
    ({"device": "LAP-1"}, [_earlier("A", 10), _earlier("B", 2)], "B"),
    ({"device": "LAP-1"}, [_earlier("A", 30)], "A"),
    ({"device": "LAP-1"}, [_earlier("A", 30.01)], None),
    ({"device": "LAP-1"}, [_earlier("A", -1)], None),
    ({"device": "LAP-1"}, [_earlier("A", 1, "LAP-2")], None),
    ({"device": "lap-1"}, [_earlier("A", 1)], None),
    ({"device": ""}, [Earlier("A", NOW, {"device": ""})], None),
    ({}, [_earlier("A", 1)], None),
], ids=["inside", "most-recent", "edge-of-window", "outside", "future", "other-device",
        "case-differs", "empty-key", "no-key"])
def test_which_earlier_ticket_is_repeated(values: dict, earlier: list[Earlier],
                                          expected: str | None) -> None:
    found = find_repeat(CHECK, values, NOW, earlier)
    assert (found.number if found else None) == expected
    assert preset(CHECK, found) == ({"repeat": True, "previous": expected} if expected else {})


FIELDS = """\
  - {id: title, type: string, required: true}
  - {id: device, type: string}
  - {id: qty, type: number}
  - {id: repeat, type: boolean}
  - {id: previous, type: string}
"""
LATER = "  - {id: review, edit: {supervisor: [repeat, previous]}}\n"


def _definition(check: str, later_state: bool = True) -> str:
    text = with_fields(FIELDS, f"duplicate_check: {check}\n")
    if later_state:
        text = text.replace("  - {id: done, final: true}\n",
                            "  - {id: done, final: true}\n" + LATER)
        text = text.replace("  - {id: finish, from: new, to: done}\n",
                            "  - {id: finish, from: new, to: review}\n"
                            "  - {id: close, from: review, to: done}\n")
    return text


def test_a_valid_check_compiles() -> None:
    ticket_type = loads(_definition("{fields: [device], within: 30d, flag: repeat, "
                                    "link: previous}"))
    assert ticket_type.duplicate_check == DuplicateCheck(
        ("device",), timedelta(days=30), "30d", "repeat", "previous")


@pytest.mark.parametrize(("check", "later_state", "code", "pointer"), [
    ("{fields: [devise], within: 30d, flag: repeat}", True, "unknown-field",
     "/duplicate_check/fields/0"),
    ("{fields: [qty], within: 30d, flag: repeat}", True, "bad-value",
     "/duplicate_check/fields/0"),
    ("{fields: [device], within: 30d, flag: title}", True, "bad-value", "/duplicate_check/flag"),
    ("{fields: [device], within: 30d, flag: repeat}", False, "bad-value",
     "/duplicate_check/flag"),
    ("{fields: [device], within: a month, flag: repeat}", True, "bad-value",
     "/duplicate_check/within"),
    ("{fields: [device], flag: repeat}", True, "missing-key", "/duplicate_check"),
    ("{fields: [device], within: 0d, flag: repeat}", True, "bad-duration",
     "/duplicate_check/within"),
    ("{fields: [device], within: 5000w, flag: repeat}", True, "bad-duration",
     "/duplicate_check/within"),
], ids=["unknown-field", "number-key", "flag-not-boolean", "flag-in-intake", "bad-window",
        "no-window", "zero-window", "window-past-ten-years"])
def test_a_bad_check_is_located(check: str, later_state: bool, code: str,
                                pointer: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        loads(_definition(check, later_state), "d.yaml")
    assert (code, pointer) in [(str(i.code), i.pointer) for i in raised.value.issues]


def test_fingerprints_depend_on_type_fields_and_values_only() -> None:
    from engine.duplicates import key_digest

    digest = key_digest("repair", CHECK, ("LAP-1",))
    assert len(digest) == 64
    assert digest == key_digest("repair", CHECK, ("LAP-1",))
    assert len({digest, key_digest("repair", CHECK, ("LAP-2",)),
                key_digest("other", CHECK, ("LAP-1",)),
                key_digest("repair", DuplicateCheck(("serial",), CHECK.within, "30d", "r"),
                           ("LAP-1",))}) == 4
