"""Durations as admins write them (`30m`, `4h`, `2d`, `1w`, `1h30m`).

A duration keeps its parts instead of a number of minutes because what a day means
depends on the clock it is measured on: on the round-the-clock calendar a day is 24
hours, on a business calendar it is one working day (`BusinessCalendar.minutes_of`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PART = re.compile(r"([0-9]+)([wdhm])")
_WHOLE = re.compile(r"^(?:[0-9]+[wdhm])+$")
# Large enough for any sensible target (ten years), small enough that no arithmetic
# on it can overflow a datetime.
MAX_MINUTES = 10 * 366 * 24 * 60


class DurationError(ValueError):
    """A duration text that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Duration:
    """`weeks`, `days`, `hours` and `minutes` as written; `text` is the original."""

    text: str
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0

    @property
    def clock_minutes(self) -> int:
        """The hour and minute parts only, in minutes (the same on every calendar)."""
        return self.hours * 60 + self.minutes

    @property
    def plain_minutes(self) -> int:
        """Minutes on a round-the-clock clock (a day is 24 hours, a week 7 days)."""
        return ((self.weeks * 7 + self.days) * 24 + self.hours) * 60 + self.minutes

    def __str__(self) -> str:
        return self.text


def parse_duration(text: str) -> Duration:
    """`1h30m` → Duration(hours=1, minutes=30); raises `DurationError` (zero, too long, bad)."""
    if not isinstance(text, str) or not _WHOLE.match(text):
        raise DurationError(f"{text!r} is not a duration; write e.g. 30m, 4h, 2d, 1w or 1h30m")
    totals = {"w": 0, "d": 0, "h": 0, "m": 0}
    for number, unit in _PART.findall(text):
        totals[unit] += int(number)
    duration = Duration(text, totals["w"], totals["d"], totals["h"], totals["m"])
    if duration.plain_minutes == 0:
        raise DurationError(f"{text!r} is zero; a duration must be at least 1m")
    if duration.plain_minutes > MAX_MINUTES:
        raise DurationError(f"{text!r} is longer than ten years")
    return duration
