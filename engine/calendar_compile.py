"""Calendar documents and agent schedules → `BusinessCalendar` / `AgentSchedule`.

The same three stages as definitions: text read by `engine.source` (line map), shape
checked against `engine/schema/calendar.schema.json`, then meaning (time zones, ranges,
dates, countries), every issue collected and located. Schedules usually come from the
database or an API body rather than a file; their issues carry JSON pointers only.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engine import source as source_module
from engine.calendar import (
    ALWAYS,
    DAY,
    WEEKDAYS,
    AgentSchedule,
    BusinessCalendar,
    Leave,
    TimeRange,
    supported_countries,
)
from engine.durations import DurationError, parse_duration
from engine.errors import DefinitionError, Issue, IssueCode, did_you_mean
from engine.model import Label
from engine.schema import calendar_schema_issues
from engine.source import Source, SourceMap

_RANGE = re.compile(r"^([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})$")
MAX_DAYS_IN_RANGE = 366
CALENDAR_SUFFIXES = (".yaml", ".yml", ".json")


# A top-level key of a YAML map or a (pretty-printed) JSON object.
_TOP_KEY = re.compile(r'^"?([a-z_]+)"?\s*:', re.MULTILINE)


def load_calendar(path: str | Path) -> BusinessCalendar:
    """Read, check and compile a calendar file; raises `DefinitionError`."""
    return compile_calendar(source_module.read_file(path))


def loads_calendar(text: str, file: str | None = None) -> BusinessCalendar:
    """Read, check and compile calendar text (YAML or JSON)."""
    return compile_calendar(source_module.parse_text(text, file))


def compile_calendar(source: Source) -> BusinessCalendar:
    """Check and compile calendar data read by `engine.source`; raises `DefinitionError`."""
    issues = calendar_schema_issues(source.data, source.map)
    if issues:
        raise DefinitionError(issues)
    compiler = _Compiler(source.map)
    calendar = compiler.calendar(source.data)
    if compiler.issues or calendar is None:
        raise DefinitionError(compiler.issues)
    return calendar


def compile_calendar_data(data: Any) -> BusinessCalendar:
    """A calendar from plain data (the database, an API body); issues carry pointers."""
    return compile_calendar(Source(data, SourceMap(None)))


def compile_schedule(data: Any, *, name: str = "schedule") -> AgentSchedule:
    """An agent's schedule from plain data:
    `{timezone, shifts: {mon: ["09:00-18:00"]}, leave: [{from, to}], public_holidays?,
    holidays?, workdays?}`. Raises `DefinitionError` with pointer-located issues."""
    source_map = SourceMap(None)
    issues = calendar_schema_issues(data, source_map, "agent_schedule")
    if issues:
        raise DefinitionError(issues)
    compiler = _Compiler(source_map)
    calendar_data = {key: value for key, value in data.items() if key not in ("shifts", "leave")}
    calendar = compiler.calendar({**calendar_data, "calendar": name, "shifts": data["shifts"]},
                                 hours_key="shifts", need_work=False)
    leave = tuple(compiler.leave(item, f"/leave/{i}", calendar)
                  for i, item in enumerate(data.get("leave", ())))
    if compiler.issues or calendar is None:
        raise DefinitionError(compiler.issues)
    return AgentSchedule(calendar, tuple(period for period in leave if period is not None))


def is_calendar_file(path: str | Path) -> bool:
    """Whether a file is meant as a calendar: it sits in a `calendars/` folder, or its
    top level says `calendar:` with `timezone:` or `hours:` (a definition's `sla` block
    names a calendar too, but indented)."""
    path = Path(path)
    if path.parent.name == "calendars":
        return True
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    keys = set(_TOP_KEY.findall(head))
    return "calendar" in keys and bool(keys & {"timezone", "hours"})


def bundled_calendars(folder: str | Path) -> dict[str, BusinessCalendar]:
    """Every calendar file in `folder` by id, plus the built-in `24x7`.
    Raises `DefinitionError` with the issues of every broken file."""
    found: dict[str, BusinessCalendar] = {ALWAYS.id: ALWAYS}
    issues: list[Issue] = []
    for path in sorted(Path(folder).iterdir()):
        if path.suffix.lower() not in CALENDAR_SUFFIXES or not path.is_file():
            continue
        try:
            calendar = load_calendar(path)
        except DefinitionError as error:
            issues.extend(error.issues)
            continue
        if calendar.id in found:
            issues.append(Issue(IssueCode.DUPLICATE_ID, f"calendar id {calendar.id!r} is "
                                "already taken", "/calendar", str(path)))
        found[calendar.id] = calendar
    if issues:
        raise DefinitionError(issues)
    return found


class _Compiler:
    def __init__(self, source_map: SourceMap) -> None:
        self.map = source_map
        self.issues: list[Issue] = []

    def report(self, code: IssueCode, message: str, pointer: str) -> None:
        self.issues.append(self.map.issue(code, message, pointer))

    def calendar(self, data: Mapping[str, Any], *, hours_key: str = "hours",
                 need_work: bool = True) -> BusinessCalendar | None:
        zone = self.timezone(data["timezone"], "/timezone")
        week = tuple(self.ranges(data[hours_key].get(day, ()), f"/{hours_key}/{day}")
                     for day in WEEKDAYS)
        workday_hours = self.ranges(data.get("workday_hours", ()), "/workday_hours")
        public = data.get("public_holidays")
        country, subdivision = self.country(public) if public else (None, None)
        holidays = self.days_off(data.get("holidays", ()))
        workdays = self.workdays(data.get("workdays", ()))
        for day in sorted(set(holidays) & set(workdays)):
            self.report(IssueCode.BAD_DATE, f"{day} is listed both as a holiday and as a "
                        "make-up working day", "/workdays")
        day_length = self.day_length(data.get("day_length"))
        if need_work and not any(week) and not workdays:
            self.report(IssueCode.NO_WORKING_TIME, "no working hours on any weekday; an SLA "
                        "clock on this calendar would never run", f"/{hours_key}")
        if zone is None:
            return None
        return BusinessCalendar(
            id=data["calendar"], timezone=zone, week=week, workday_hours=workday_hours,
            country=country, subdivision=subdivision,
            public_workdays=bool(public.get("workdays", True)) if public else True,
            holidays=MappingProxyType(holidays), workdays=MappingProxyType(workdays),
            day_length=day_length,
            name=Label.of(data["name"], data["calendar"]) if "name" in data else None,
        )

    def timezone(self, key: str, pointer: str) -> str | None:
        try:
            zoneinfo.ZoneInfo(key)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            hint = did_you_mean(key, sorted(zoneinfo.available_timezones()))
            self.report(IssueCode.UNKNOWN_TIME_ZONE, f"unknown time zone {key!r}{hint}; use an "
                        "IANA name such as Asia/Shanghai or Europe/Berlin", pointer)
            return None
        return key

    def ranges(self, raw: list[str], pointer: str) -> tuple[TimeRange, ...]:
        ranges = []
        for index, text in enumerate(raw):
            found = self.time_range(text, f"{pointer}/{index}")
            if found is not None:
                ranges.append((found, index))
        ranges.sort(key=lambda item: item[0].start)
        for (before, _), (after, index) in zip(ranges, ranges[1:], strict=False):
            if after.start < before.end:
                self.report(IssueCode.BAD_RANGE, f"{after} overlaps {before}",
                            f"{pointer}/{index}")
        return tuple(found for found, _ in ranges)

    def time_range(self, text: str, pointer: str) -> TimeRange | None:
        hours_a, minutes_a, hours_b, minutes_b = (int(g) for g in _RANGE.match(text).groups())  # type: ignore[union-attr]
        start, end = hours_a * 60 + minutes_a, hours_b * 60 + minutes_b
        if start >= DAY or end > DAY:
            self.report(IssueCode.BAD_RANGE, f"{text!r}: a time runs from 00:00 to 24:00, and "
                        "24:00 can only end a range", pointer)
            return None
        if start == end:
            self.report(IssueCode.BAD_RANGE, f"{text!r} is empty; write 00:00-24:00 for a "
                        "whole day", pointer)
            return None
        # An end before the start runs past midnight into the next day.
        return TimeRange(start, end if end > start else end + DAY)

    def country(self, public: Mapping[str, Any]) -> tuple[str | None, str | None]:
        countries = supported_countries()
        code, subdivision = public["country"], public.get("subdivision")
        if code not in countries:
            self.report(IssueCode.UNKNOWN_COUNTRY, f"the holidays library has no country "
                        f"{code!r}{did_you_mean(code, sorted(countries))}",
                        "/public_holidays/country")
            return None, None
        if subdivision is not None and subdivision not in countries[code]:
            known = ", ".join(countries[code]) or "none"
            self.report(IssueCode.UNKNOWN_COUNTRY, f"{code} has no subdivision {subdivision!r} "
                        f"(known: {known})", "/public_holidays/subdivision")
            return None, None
        return code, subdivision

    def date(self, text: str, pointer: str) -> date | None:
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.report(IssueCode.BAD_DATE, f"{text!r} is not a date", pointer)
            return None

    def days_off(self, raw: list[Any]) -> dict[date, str]:
        found: dict[date, str] = {}
        for index, item in enumerate(raw):
            pointer = f"/holidays/{index}"
            entry = {"date": item} if isinstance(item, str) else item
            name = entry.get("name", "holiday")
            if ("date" in entry) == ("from" in entry or "to" in entry) \
                    or ("from" in entry) != ("to" in entry):
                self.report(IssueCode.MISSING_KEY, "a holiday is either {date} or {from, to}",
                            pointer)
                continue
            if "date" in entry:
                day = self.date(entry["date"], f"{pointer}/date" if entry is item else pointer)
                if day is not None:
                    found[day] = name
                continue
            first = self.date(entry["from"], f"{pointer}/from")
            last = self.date(entry["to"], f"{pointer}/to")
            if first is None or last is None:
                continue
            if not first <= last <= first + timedelta(days=MAX_DAYS_IN_RANGE - 1):
                self.report(IssueCode.BAD_RANGE, f"from {first} to {last}: the end must come "
                            f"after the start, at most {MAX_DAYS_IN_RANGE} days later",
                            f"{pointer}/to")
                continue
            while first <= last:
                found[first] = name
                first += timedelta(days=1)
        return found

    def workdays(
        self, raw: list[Any]
    ) -> dict[date, tuple[str, tuple[TimeRange, ...] | None]]:
        found: dict[date, tuple[str, tuple[TimeRange, ...] | None]] = {}
        for index, item in enumerate(raw):
            pointer = f"/workdays/{index}"
            entry = {"date": item} if isinstance(item, str) else item
            day = self.date(entry["date"], f"{pointer}/date" if entry is item else pointer)
            hours = (self.ranges(entry["hours"], f"{pointer}/hours") if "hours" in entry
                     else None)
            if day is not None:
                found[day] = (entry.get("name", "make-up working day"), hours)
        return found

    def day_length(self, text: str | None) -> int | None:
        if text is None:
            return None
        try:
            duration = parse_duration(text)
        except DurationError as error:
            self.report(IssueCode.BAD_DURATION, str(error), "/day_length")
            return None
        if duration.weeks or duration.days or duration.clock_minutes > DAY:
            self.report(IssueCode.BAD_DURATION, "a working day is given in hours and minutes, "
                        "at most 24h", "/day_length")
            return None
        return duration.clock_minutes

    def leave(self, item: Mapping[str, Any], pointer: str,
              calendar: BusinessCalendar | None) -> Leave | None:
        if calendar is None:
            return None
        start = self.instant(item["from"], f"{pointer}/from", calendar, end=False)
        end = self.instant(item["to"], f"{pointer}/to", calendar, end=True)
        if start is None or end is None:
            return None
        if end <= start:
            self.report(IssueCode.BAD_RANGE, "the leave ends before it starts", f"{pointer}/to")
            return None
        return Leave(start, end, item.get("reason", ""))

    def instant(self, text: str, pointer: str, calendar: BusinessCalendar,
                *, end: bool) -> datetime | None:
        if len(text) == 10:  # a whole local day; the end date is included
            day = self.date(text, pointer)
            if day is None:
                return None
            day += timedelta(days=1) if end else timedelta(0)
            local = datetime(day.year, day.month, day.day, tzinfo=calendar.zone)
            return local.astimezone(UTC)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.report(IssueCode.BAD_DATE, f"{text!r} is not a date-time", pointer)
            return None
        return moment.astimezone(UTC)
