"""Business calendars and agent schedules: when the clock counts.

A calendar is working hours per weekday in a time zone, minus public holidays (from
the maintained `holidays` library) and days an admin adds, plus make-up working days
(调休: the library's, for countries that have them, and the admin's). SLA clocks count
business time on a calendar; an agent's schedule is the same machinery applied to one
person's shifts, plus leave.

Everything works on real instants: a local range such as 09:00-18:00 is turned into
the UTC instants it covers on each day, so a day with a daylight-saving change counts
the hours that really pass. Walking is day by day and interval by interval (never
minute by minute), and each day's intervals are remembered, so a target weeks long
costs a few dozen steps. Due instants ask more often than anything else (every ticket
created asks four or so), so the intervals of the weeks after a day are also kept as
one run with the business time counted to each interval's end: a due instant within it
is two bisections.

Times passed in must carry a time zone; results are in UTC.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from engine.durations import Duration
from engine.model import Label

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY = 24 * 60
# A calendar with no working minute in this many consecutive days is broken data;
# walking further would only hang the caller.
MAX_IDLE_DAYS = 3 * 366
_CACHE_LIMIT = 20_000
# A run covers the day before a start's local date and this many days on: two working
# weeks and a Golden Week or a Spring Festival between them. Runs are kept per start
# date; tickets are created on few dates but recomputed from many, hence the bound.
_RUN_DAYS = 21
_RUN_LIMIT = 2_000
_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
ALWAYS_ID = "24x7"


class CalendarError(ValueError):
    """A question the calendar cannot answer (no working time ahead, a naive datetime)."""


class DayOffSource(StrEnum):
    PUBLIC = "public"  # the holidays library, for the calendar's country
    ADMIN = "admin"  # listed in the calendar's `holidays`


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Minutes after local midnight; `end` past 1440 runs into the next day."""

    start: int
    end: int

    @property
    def minutes(self) -> int:
        return self.end - self.start

    def __str__(self) -> str:
        def clock(minutes: int) -> str:
            return f"{minutes // 60 % 24 if minutes != DAY else 24:02d}:{minutes % 60:02d}"

        return f"{clock(self.start)}-{clock(self.end)}"


@dataclass(frozen=True, slots=True)
class DayOff:
    """A day that would have been worked but was not, and why (for SLA `why` records)."""

    date: date
    name: str
    source: DayOffSource

    def to_dict(self) -> dict[str, str]:
        return {"date": self.date.isoformat(), "name": self.name, "source": str(self.source)}


@dataclass(frozen=True, slots=True)
class BusinessSpan:
    """The answer of `add_business_time`: where it started and ended, how much business
    time that is and the holidays it stepped over."""

    start: datetime
    end: datetime
    minutes: float
    days_off: tuple[DayOff, ...]


@dataclass(frozen=True, slots=True)
class _Run:
    """The working intervals from the day before one local date onwards (`_RUN_DAYS`),
    without overlaps, as `intervals_from` yields them, and the business time from the
    first interval's start to each interval's end."""

    los: tuple[datetime, ...]
    his: tuple[datetime, ...]
    ends: tuple[timedelta, ...]
    next_day: date  # the first day it does not cover
    idle: int  # days without working time at its end (`MAX_IDLE_DAYS` counts on)

    def counted_to(self, index: int, instant: datetime) -> timedelta:
        """Business time from the run's start to `instant`, which lies before the end of
        interval `index`."""
        return self.ends[index] - (self.his[index] - max(self.los[index], instant))


@dataclass(frozen=True)
class BusinessCalendar:
    """An immutable business calendar; share it freely. Build it with `compile_calendar`
    (or `always_open`), not by hand."""

    id: str
    timezone: str
    week: tuple[tuple[TimeRange, ...], ...]  # Monday first, 7 entries
    workday_hours: tuple[TimeRange, ...] = ()
    country: str | None = None
    subdivision: str | None = None
    public_workdays: bool = True
    holidays: Mapping[date, str] = field(default_factory=dict)
    workdays: Mapping[date, tuple[str, tuple[TimeRange, ...] | None]] = field(
        default_factory=dict)
    day_length: int | None = None  # minutes; None: the usual working day
    name: Label | None = None

    zone: ZoneInfo = field(init=False, repr=False, compare=False)
    day_minutes: int = field(init=False, repr=False, compare=False)
    week_minutes: int = field(init=False, repr=False, compare=False)
    _days: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict)
    # Derived from the fields above only (the calendar never changes), so shared by every
    # thread; a lost race builds an entry twice, never a wrong one.
    _runs: dict[date, _Run] = field(init=False, repr=False, compare=False,
                                    default_factory=dict)
    _days_off: dict[tuple[date, date], tuple[DayOff, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", ZoneInfo(self.timezone))
        lengths = [sum(r.minutes for r in ranges) for ranges in self.week]
        worked = [length for length in lengths if length]
        usual = max(Counter(worked).most_common(), key=lambda c: (c[1], c[0]))[0] if worked else 0
        day = self.day_length or usual or DAY
        object.__setattr__(self, "day_minutes", day)
        object.__setattr__(self, "week_minutes", day * (len(worked) or 7))
        if not self.workday_hours:
            first = next((ranges for ranges in self.week if ranges), ())
            object.__setattr__(self, "workday_hours", self.week[0] or first)

    # --- durations ---------------------------------------------------------------------

    def minutes_of(self, duration: Duration) -> int:
        """Business minutes a duration stands for here: `h`/`m` as written, `d` one working
        day (`day_minutes`), `w` one working week (`week_minutes`)."""
        return (duration.weeks * self.week_minutes + duration.days * self.day_minutes
                + duration.clock_minutes)

    # --- which days are worked ---------------------------------------------------------

    def hours_on(self, day: date) -> tuple[tuple[TimeRange, ...], DayOff | None]:
        """The local ranges worked on `day`, and the holiday that emptied it (if one did).

        Precedence: the admin's make-up days, the admin's holidays, the library's make-up
        days, the library's holidays, then the weekly hours."""
        if day in self.workdays:
            hours = self.workdays[day][1]
            return (self.workday_hours if hours is None else hours), None
        base, off = self._public_hours(day)
        if day in self.holidays:
            named = DayOff(day, self.holidays[day], DayOffSource.ADMIN)
            return (), named if base or off else None
        return base, off

    def _public_hours(self, day: date) -> tuple[tuple[TimeRange, ...], DayOff | None]:
        weekly = self.week[day.weekday()]
        if self.country:
            names, makeup = public_holidays(self.country, self.subdivision, day.year)
            if self.public_workdays and day in makeup:
                return self.workday_hours, None
            if day in names and weekly:
                return (), DayOff(day, names[day], DayOffSource.PUBLIC)
        return weekly, None

    def intervals_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The UTC instants worked because of `day`'s ranges (an overnight range ends on
        the next day)."""
        found = self._days.get(day)
        if found is None:
            ranges, _ = self.hours_on(day)
            midnight = datetime(day.year, day.month, day.day)
            spans = ((self._utc(midnight + timedelta(minutes=r.start)),
                      self._utc(midnight + timedelta(minutes=r.end))) for r in ranges)
            # A range inside a daylight-saving gap covers no real time at all.
            found = tuple((lo, hi) for lo, hi in spans if lo < hi)
            if len(self._days) > _CACHE_LIMIT:
                self._days.clear()
            self._days[day] = found
        return found

    def _utc(self, local: datetime) -> datetime:
        # fold=0: an ambiguous wall time (the repeated hour in autumn) is its first
        # occurrence; a wall time in the spring gap maps past the gap.
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def local_date(self, instant: datetime) -> date:
        """The calendar's local date at `instant`."""
        return aware(instant).astimezone(self.zone).date()

    def intervals_from(self, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals in time order, without overlaps, from the one holding
        `instant` (clipped to start there) onwards. Raises `CalendarError` when no
        working time comes for years."""
        start = _utc(instant)
        # From yesterday: its overnight range may still be running.
        yield from self._walk(start.astimezone(self.zone).date() - _ONE_DAY, start, 0)

    def _walk(self, day: date, covered: datetime, idle: int
              ) -> Iterator[tuple[datetime, datetime]]:
        """`intervals_from`'s walk: the intervals of `day` and the days after it, clipped
        to start at `covered` or later, `idle` empty days already behind."""
        last: datetime | None = covered
        while True:
            spans = self.intervals_on(day)
            idle = 0 if spans else idle + 1
            if idle > MAX_IDLE_DAYS:
                raise CalendarError(f"calendar {self.id!r} has no working time for "
                                    f"{MAX_IDLE_DAYS} days after {day - timedelta(idle)}")
            kept, last = _clipped(spans, last)
            yield from kept
            day += _ONE_DAY

    def _run(self, start: datetime) -> _Run:
        """The run for `start`'s local date (UTC `start`)."""
        first = start.astimezone(self.zone).date() - _ONE_DAY
        found = self._runs.get(first)
        if found is None:
            los: list[datetime] = []
            his: list[datetime] = []
            ends: list[timedelta] = []
            covered: datetime | None = None
            total = _ZERO
            idle = 0
            day = first
            for _ in range(_RUN_DAYS + 1):
                spans = self.intervals_on(day)
                idle = 0 if spans else idle + 1
                kept, covered = _clipped(spans, covered)  # as `_walk` clips them
                for lo, hi in kept:
                    total += hi - lo
                    los.append(lo)
                    his.append(hi)
                    ends.append(total)
                day += _ONE_DAY
            found = _Run(tuple(los), tuple(his), tuple(ends), day, idle)
            if len(self._runs) > _RUN_LIMIT:
                self._runs.clear()
            self._runs[first] = found
        return found

    # --- the questions SLA clocks and schedules ask ------------------------------------

    def is_working(self, instant: datetime) -> bool:
        """Whether `instant` falls inside working time."""
        moment = aware(instant).astimezone(UTC)
        today = self.local_date(moment)
        return any(lo <= moment < hi
                   for day in (today - timedelta(days=1), today)
                   for lo, hi in self.intervals_on(day))

    def add_business_time(
        self, start: datetime, minutes: float | timedelta
    ) -> tuple[datetime, BusinessSpan]:
        """The instant `minutes` of business time after `start`, and the why: the span and
        the holidays it skipped. Ending exactly at the close of a working range gives
        that close (Friday 18:00), not the next opening."""
        begin = aware(start).astimezone(UTC)
        amount = minutes if isinstance(minutes, timedelta) else timedelta(minutes=minutes)
        end = self.due_after(begin, amount)
        return end, BusinessSpan(begin, end, amount / timedelta(minutes=1),
                                 self.days_off_between(begin, end))

    def due_after(self, start: datetime, amount: timedelta) -> datetime:
        """The instant `amount` of business time after `start` (UTC): `add_business_time`
        without the why, for callers that only need the instant (SLA timers, computed
        for every ticket created)."""
        end = _utc(start)
        if amount <= _ZERO:
            return end
        run = self._run(end)
        his, ends = run.his, run.ends
        index = bisect_right(his, end)  # the first interval still open at `end`
        if index < len(his):
            target = run.counted_to(index, end) + amount
            found = bisect_left(ends, target, index)  # the first to reach it (a close too)
            if found < len(ends):
                return his[found] - (ends[found] - target)
            remaining, covered = target - ends[-1], his[-1]
        else:
            remaining, covered = amount, end
        # Longer than the run: walk on from where it stops, as `intervals_from` would.
        for lo, hi in self._walk(run.next_day, covered, run.idle):
            if hi - lo >= remaining:
                return lo + remaining
            remaining -= hi - lo
        raise AssertionError("unreachable: the walk raises first")  # pragma: no cover

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time from `a` to `b` (zero when `b` is not after `a`)."""
        begin, end = _utc(a), _utc(b)
        total = timedelta(0)
        if end <= begin:
            return total
        run = self._run(begin)
        his = run.his
        last = bisect_left(his, end)  # the interval `end` falls in or before
        if last < len(his):
            first = bisect_right(his, begin)
            return run.counted_to(last, end) - run.counted_to(first, begin)
        for lo, hi in self.intervals_from(begin):
            if lo >= end:
                break
            total += min(hi, end) - lo
        return total

    def business_minutes_between(self, a: datetime, b: datetime) -> float:
        """Business minutes from `a` to `b` (0 when `b` is not after `a`)."""
        return self.business_time_between(a, b) / timedelta(minutes=1)

    def days_off_between(self, a: datetime, b: datetime) -> tuple[DayOff, ...]:
        """Holidays from `a`'s local date to `b`'s that would otherwise have been worked."""
        day, last = self.local_date(a), self.local_date(b)
        key = (day, last)
        found = self._days_off.get(key)
        if found is None:
            offs = []
            while day <= last:
                off = self.hours_on(day)[1]
                if off is not None:
                    offs.append(off)
                day += _ONE_DAY
            found = tuple(offs)
            if len(self._days_off) > _CACHE_LIMIT:
                self._days_off.clear()
            self._days_off[key] = found
        return found


@dataclass(frozen=True, slots=True)
class Leave:
    """An agent is away from `start` (included) to `end` (excluded)."""

    start: datetime
    end: datetime
    reason: str = ""


@dataclass(frozen=True)
class AgentSchedule:
    """When one agent works: shifts (a calendar of their own) and leave."""

    calendar: BusinessCalendar
    leave: tuple[Leave, ...] = ()

    def on_shift(self, instant: datetime) -> bool:
        """Inside one of the agent's shifts (holidays of the schedule respected)."""
        return self.calendar.is_working(instant)

    def on_leave(self, instant: datetime) -> bool:
        """Inside a leave period."""
        moment = aware(instant)
        return any(period.start <= moment < period.end for period in self.leave)

    def available(self, instant: datetime) -> bool:
        """On shift and not on leave."""
        return self.on_shift(instant) and not self.on_leave(instant)


def always_open(calendar_id: str = ALWAYS_ID) -> BusinessCalendar:
    """The built-in round-the-clock calendar: every minute counts, a day is 24 hours."""
    whole = (TimeRange(0, DAY),)
    return BusinessCalendar(calendar_id, "UTC", (whole,) * 7,
                            name=Label(MappingProxyType({"en": "Around the clock",
                                                         "zh": "全天候"})))


ALWAYS = always_open()


@cache
def public_holidays(
    country: str, subdivision: str | None, year: int
) -> tuple[Mapping[date, str], frozenset[date]]:
    """The library's public holidays of one year (date → name) and its make-up working
    days (for China: 调休 weekend days that are worked)."""
    import holidays  # imported on first use: it is large and most calendars never need it

    table = holidays.country_holidays(country, subdiv=subdivision, years=year)
    makeup = frozenset(d for d in getattr(table, "weekend_workdays", ()) if d.year == year)
    return MappingProxyType({day: str(name) for day, name in table.items()}), makeup


def supported_countries() -> Mapping[str, list[str]]:
    """Country codes the holidays library knows, with their subdivision codes."""
    import holidays

    return holidays.list_supported_countries()


def _clipped(spans: tuple[tuple[datetime, datetime], ...], covered: datetime | None
             ) -> tuple[list[tuple[datetime, datetime]], datetime | None]:
    """A day's ranges without what `covered` (the walk's start, or the end of an earlier
    range: an overnight one, a daylight-saving change) already counted, and the new end
    of what is covered."""
    kept = []
    for lo, hi in spans:
        if covered is not None and lo < covered:
            lo = covered
        if lo < hi:
            kept.append((lo, hi))
            covered = hi
    return kept, covered


def is_utc(instant: datetime) -> bool:
    """Whether `instant` is a plain datetime in UTC already (astimezone would return it
    unchanged): the engine's own instants are, and skip the conversion."""
    return instant.__class__ is datetime and instant.tzinfo is UTC


def _utc(instant: datetime) -> datetime:
    # `aware(instant).astimezone(UTC)`, without the calls for what is UTC already.
    if is_utc(instant):
        return instant
    return aware(instant).astimezone(UTC)


def aware(instant: datetime) -> datetime:
    """`instant` itself; raises `CalendarError` when it has no time zone."""
    if not isinstance(instant, datetime) or instant.tzinfo is None \
            or instant.utcoffset() is None:
        raise CalendarError(f"{instant!r} has no time zone; pass an aware datetime")
    return instant


def as_data(calendar: BusinessCalendar) -> dict[str, Any]:
    """A calendar back as document data (what `compile_calendar` reads)."""
    data: dict[str, Any] = {
        "calendar": calendar.id,
        "timezone": calendar.timezone,
        "hours": {WEEKDAYS[i]: [str(r) for r in ranges]
                  for i, ranges in enumerate(calendar.week) if ranges},
    }
    if calendar.name is not None:
        data["name"] = calendar.name.to_data()
    if calendar.workday_hours != (calendar.week[0] or next((r for r in calendar.week if r), ())):
        data["workday_hours"] = [str(r) for r in calendar.workday_hours]
    if calendar.day_length is not None:
        data["day_length"] = f"{calendar.day_length}m"
    if calendar.country:
        data["public_holidays"] = {"country": calendar.country, "workdays":
                                   calendar.public_workdays}
        if calendar.subdivision:
            data["public_holidays"]["subdivision"] = calendar.subdivision
    if calendar.holidays:
        data["holidays"] = [{"date": d.isoformat(), "name": n}
                            for d, n in sorted(calendar.holidays.items())]
    if calendar.workdays:
        data["workdays"] = [{"date": d.isoformat(), "name": n}
                            | ({"hours": [str(r) for r in h]} if h is not None else {})
                            for d, (n, h) in sorted(calendar.workdays.items())]
    return data
