"""Business calendars: working hours in a time zone, holidays, make-up days, DST.

Instants in the tables are local wall times of the calendar under test, written as
`YYYY-MM-DD HH:MM`; the calendar's zone is attached by `at()`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendar import ALWAYS, BusinessCalendar, CalendarError, DayOffSource, as_data
from engine.calendar_compile import (
    bundled_calendars,
    compile_calendar_data,
    compile_schedule,
    load_calendar,
    loads_calendar,
)
from engine.durations import parse_duration
from engine.errors import DefinitionError
from tests.conftest import TEMPLATES

OFFICE = """\
calendar: office
timezone: Asia/Shanghai
hours:
  mon: ["09:00-12:00", "13:00-18:00"]
  tue: ["09:00-12:00", "13:00-18:00"]
  wed: ["09:00-12:00", "13:00-18:00"]
  thu: ["09:00-12:00", "13:00-18:00"]
  fri: ["09:00-12:00", "13:00-18:00"]
holidays:
  - {date: "2024-05-15", name: Founders day}
  - {from: "2024-05-20", to: "2024-05-21", name: Move}
workdays:
  - {date: "2024-05-18", name: Make-up Saturday}
  - {date: "2024-05-19", hours: ["10:00-11:00"]}
"""

BERLIN = """\
calendar: berlin
timezone: Europe/Berlin
hours:
  mon: ["09:00-18:00"]
  tue: ["09:00-18:00"]
  wed: ["09:00-18:00"]
  thu: ["09:00-18:00"]
  fri: ["09:00-18:00"]
  sat: ["22:00-06:00"]
  sun: ["00:00-24:00"]
"""


@pytest.fixture(scope="module")
def office() -> BusinessCalendar:
    return loads_calendar(OFFICE, "office.yaml")


@pytest.fixture(scope="module")
def berlin() -> BusinessCalendar:
    return loads_calendar(BERLIN, "berlin.yaml")


@pytest.fixture(scope="module")
def cn() -> BusinessCalendar:
    return load_calendar(TEMPLATES / "calendars" / "cn-workdays.yaml")


def at(calendar: BusinessCalendar, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=calendar.zone)


def local(calendar: BusinessCalendar, instant: datetime) -> str:
    return instant.astimezone(calendar.zone).strftime("%Y-%m-%d %H:%M")


# (id, start, business minutes, expected end) on the office calendar (2024-05-13 is a Monday)
OFFICE_CASES = [
    ("inside-a-range", "2024-05-13 09:30", 60, "2024-05-13 10:30"),
    ("over-lunch", "2024-05-13 11:30", 60, "2024-05-13 13:30"),
    ("over-the-night", "2024-05-13 17:30", 60, "2024-05-14 09:30"),
    ("start-before-opening", "2024-05-13 06:00", 30, "2024-05-13 09:30"),
    ("start-at-lunch", "2024-05-13 12:10", 30, "2024-05-13 13:30"),
    ("ends-exactly-at-close", "2024-05-14 17:00", 60, "2024-05-14 18:00"),
    ("skips-an-admin-holiday", "2024-05-14 17:00", 120, "2024-05-16 10:00"),
    ("make-up-saturday-uses-monday-hours", "2024-05-17 17:00", 120, "2024-05-18 10:00"),
    ("make-up-sunday-with-its-own-hours", "2024-05-18 17:30", 60, "2024-05-19 10:30"),
    ("skips-a-holiday-range", "2024-05-19 10:30", 60, "2024-05-22 09:30"),
    ("zero-minutes-stays-put", "2024-05-13 20:00", 0, "2024-05-13 20:00"),
    ("a-working-week", "2024-05-06 09:00", 5 * 480, "2024-05-10 18:00"),
]


@pytest.mark.parametrize(("start", "minutes", "end"), [c[1:] for c in OFFICE_CASES],
                         ids=[c[0] for c in OFFICE_CASES])
def test_add_business_time(office: BusinessCalendar, start: str, minutes: int, end: str):
    due, why = office.add_business_time(at(office, start), minutes)
    assert local(office, due) == end
    assert due.tzinfo is UTC
    assert why.minutes == minutes
    assert office.business_minutes_between(at(office, start), due) == minutes


def test_why_lists_the_holidays_skipped(office: BusinessCalendar):
    _, why = office.add_business_time(at(office, "2024-05-14 17:00"), 10 * 480)
    assert [(d.date.isoformat(), d.name, d.source) for d in why.days_off] == [
        ("2024-05-15", "Founders day", DayOffSource.ADMIN),
        ("2024-05-20", "Move", DayOffSource.ADMIN),
        ("2024-05-21", "Move", DayOffSource.ADMIN),
    ]


# China: public holidays and make-up working days (调休) from the holidays library.
CN_CASES = [
    ("national-day-week", "2025-09-30 17:00", 120, "2025-10-09 10:00",
     ["2025-10-01", "2025-10-02", "2025-10-03", "2025-10-06", "2025-10-07", "2025-10-08"]),
    ("make-up-sunday-is-worked", "2025-09-26 17:00", 120, "2025-09-28 10:00", []),
    ("across-the-new-year", "2025-12-31 17:00", 120, "2026-01-04 10:00",
     ["2026-01-01", "2026-01-02"]),
    ("spring-festival-make-up-saturday", "2026-02-13 17:00", 120, "2026-02-14 10:00", []),
]


@pytest.mark.parametrize(("start", "minutes", "end", "skipped"), [c[1:] for c in CN_CASES],
                         ids=[c[0] for c in CN_CASES])
def test_china_public_holidays_and_make_up_days(
    cn: BusinessCalendar, start: str, minutes: int, end: str, skipped: list[str]
):
    due, why = cn.add_business_time(at(cn, start), minutes)
    assert local(cn, due) == end
    assert [d.date.isoformat() for d in why.days_off] == skipped
    assert all(d.source is DayOffSource.PUBLIC for d in why.days_off)


# Europe/Berlin springs forward on 2025-03-30 and falls back on 2025-10-26.
DST_CASES = [
    ("spring-forward-inside-a-night-shift", "2025-03-29 23:00", 300, "2025-03-30 05:00"),
    ("night-shift-in-the-short-night", "2025-03-29 21:00", 7 * 60, "2025-03-30 06:00"),
    ("whole-sunday-in-spring-has-23-hours", "2025-03-30 00:00", 23 * 60, "2025-03-31 00:00"),
    ("whole-sunday-in-autumn-has-25-hours", "2025-10-26 00:00", 25 * 60, "2025-10-27 00:00"),
]


@pytest.mark.parametrize(("start", "minutes", "end"), [c[1:] for c in DST_CASES],
                         ids=[c[0] for c in DST_CASES])
def test_daylight_saving_changes_count_real_time(
    berlin: BusinessCalendar, start: str, minutes: int, end: str
):
    due, _ = berlin.add_business_time(at(berlin, start), minutes)
    assert local(berlin, due) == end


def test_office_hours_over_a_clock_change_keep_their_local_times():
    us = load_calendar(TEMPLATES / "calendars" / "us-business.yaml")  # DST from 2025-03-09
    due, _ = us.add_business_time(at(us, "2025-03-07 16:00"), 120)
    assert local(us, due) == "2025-03-10 10:00"
    assert due == datetime(2025, 3, 10, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(("day", "hours"), [
    ("2025-03-29", 7), ("2025-03-30", 23 + 0), ("2025-10-25", 9), ("2025-10-26", 25),
], ids=["short-night", "short-sunday", "long-night", "long-sunday"])
def test_real_hours_of_a_day_with_a_clock_change(berlin: BusinessCalendar, day: str, hours: int):
    first = date.fromisoformat(day)
    spans = berlin.intervals_on(first)
    assert sum((hi - lo for lo, hi in spans), timedelta(0)) == timedelta(hours=hours)


@pytest.mark.parametrize(("instant", "working"), [
    ("2025-03-29 23:00", True),   # Saturday night shift
    ("2025-03-30 05:30", True),   # ... runs past midnight, into the Sunday (also worked)
    ("2025-04-05 21:59", False),
    ("2025-04-05 22:00", True),
    ("2025-04-07 08:59", False),  # Monday before opening
    ("2025-04-07 09:00", True),
    ("2025-04-07 18:00", False),  # the close is not inside
], ids=lambda v: str(v))
def test_is_working(berlin: BusinessCalendar, instant: str, working: bool):
    assert berlin.is_working(at(berlin, instant)) is working


def test_the_round_the_clock_calendar_is_plain_time():
    start = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)
    due, why = ALWAYS.add_business_time(start, 3 * 24 * 60 + 7)
    assert due == start + timedelta(days=3, minutes=7)
    assert why.days_off == ()
    assert ALWAYS.minutes_of(parse_duration("2d")) == 2 * 24 * 60


@pytest.mark.parametrize(("text", "minutes"), [
    ("30m", 30), ("4h", 240), ("1h30m", 90), ("2d", 960), ("1w", 2400), ("1d4h", 720),
], ids=lambda v: str(v))
def test_durations_count_working_days_on_a_business_calendar(
    cn: BusinessCalendar, text: str, minutes: int
):
    assert cn.minutes_of(parse_duration(text)) == minutes


def test_day_length_can_be_set(office: BusinessCalendar):
    custom = loads_calendar(OFFICE + "day_length: 7h30m\n", "office.yaml")
    assert custom.day_minutes == 450
    assert office.day_minutes == 480


def test_naive_datetimes_are_refused(office: BusinessCalendar):
    with pytest.raises(CalendarError, match="no time zone"):
        office.add_business_time(datetime(2024, 5, 13, 9), 10)


def test_no_working_time_ahead_is_a_clear_error():
    years = "".join(f"  - {{from: '{y}-01-01', to: '{y}-12-31'}}\n" for y in range(2024, 2028))
    closed = loads_calendar("calendar: closed\ntimezone: UTC\nhours: {mon: ['09:00-17:00']}\n"
                            "holidays:\n" + years, "closed.yaml")
    with pytest.raises(CalendarError, match="no working time"):
        closed.add_business_time(at(closed, "2024-01-02 10:00"), 60)


# (id, old text, new text, expected code, expected pointer)
BROKEN = [
    ("unknown-time-zone", "Asia/Shanghai", "Asia/Shangai", "unknown-time-zone", "/timezone"),
    ("hour-past-24", '"09:00-12:00", "13:00-18:00"]\n  tue', '"09:00-12:00", "13:00-25:00"]\n'
     "  tue", "bad-value", "/hours/mon/1"),
    ("24-only-ends", '"09:00-12:00", "13:00-18:00"]\n  tue', '"24:00-12:00", "13:00-18:00"]\n'
     "  tue", "bad-range", "/hours/mon/0"),
    ("empty-range", '"09:00-12:00", "13:00-18:00"]\n  tue', '"09:00-09:00", "13:00-18:00"]\n'
     "  tue", "bad-range", "/hours/mon/0"),
    ("overlapping", '"09:00-12:00", "13:00-18:00"]\n  tue', '"09:00-14:00", "13:00-18:00"]\n'
     "  tue", "bad-range", "/hours/mon/1"),
    ("bad-weekday", "  fri:", "  fry:", "not-allowed-value", "/hours/fry"),
    ("no-such-date", '{date: "2024-05-15"', '{date: "2024-02-30"', "bad-date",
     "/holidays/0/date"),
    ("backwards-range", 'to: "2024-05-21"', 'to: "2024-05-19"', "bad-range", "/holidays/1/to"),
    ("holiday-and-workday", '{date: "2024-05-18", name', '{date: "2024-05-15", name', "bad-date",
     "/workdays"),
    ("unknown-key", "holidays:\n", "holiday_list: []\nholidays:\n", "unknown-key",
     "/holiday_list"),
    ("unknown-country", "holidays:\n", "public_holidays: {country: XX}\nholidays:\n",
     "unknown-country", "/public_holidays/country"),
    ("unknown-subdivision", "holidays:\n",
     "public_holidays: {country: US, subdivision: ZZ}\nholidays:\n",
     "unknown-country", "/public_holidays/subdivision"),
    ("holiday-key-typo", "name: Founders day}", "nme: Founders day}", "unknown-key",
     "/holidays/0/nme"),
    ("holiday-half-a-range", 'to: "2024-05-21", name: Move', "name: Move", "missing-key",
     "/holidays/1"),
    ("zero-day-length", "holidays:\n", "day_length: 0h\nholidays:\n", "bad-duration",
     "/day_length"),
]


@pytest.mark.parametrize(("old", "new", "code", "pointer"), [c[1:] for c in BROKEN],
                         ids=[c[0] for c in BROKEN])
def test_broken_calendars_are_refused_with_located_issues(old: str, new: str, code: str,
                                                         pointer: str):
    assert OFFICE.count(old) == 1
    with pytest.raises(DefinitionError) as raised:
        loads_calendar(OFFICE.replace(old, new), "office.yaml")
    found = {(i.code, i.pointer): i for i in raised.value.issues}
    assert (code, pointer) in found, raised.value.codes
    issue = found[(code, pointer)]
    assert issue.file == "office.yaml"
    assert issue.line is not None


def test_a_calendar_without_working_hours_is_refused():
    with pytest.raises(DefinitionError) as raised:
        loads_calendar("calendar: never\ntimezone: UTC\nhours: {}\n", "never.yaml")
    assert raised.value.codes == ["no-working-time"]


def test_time_zone_typo_gets_a_suggestion():
    with pytest.raises(DefinitionError) as raised:
        loads_calendar(OFFICE.replace("Asia/Shanghai", "Asia/Shangai"), "office.yaml")
    assert "did you mean 'Asia/Shanghai'?" in raised.value.issues[0].message


def test_bundled_calendars_compile():
    calendars = bundled_calendars(TEMPLATES / "calendars")
    assert {"24x7", "cn-workdays", "us-business"} <= set(calendars)
    us = calendars["us-business"]
    assert not us.is_working(at(us, "2025-07-04 10:00"))  # Independence Day
    assert us.is_working(at(us, "2025-07-03 10:00"))


@pytest.mark.parametrize("text", [OFFICE, BERLIN, OFFICE + "day_length: 7h30m\n"
                                  "workday_hours: ['10:00-16:00']\n"
                                  "public_holidays: {country: US, subdivision: CA}\n"],
                         ids=["office", "berlin", "everything"])
def test_a_calendar_survives_the_round_trip_through_data(text: str):
    calendar = loads_calendar(text)
    assert compile_calendar_data(as_data(calendar)) == calendar


# --- agent schedules ---------------------------------------------------------------------

SCHEDULE = {
    "timezone": "Europe/Berlin",
    "shifts": {"mon": ["22:00-06:00"], "tue": ["08:00-16:00"]},
    "leave": [
        {"from": "2025-04-15", "to": "2025-04-16", "reason": "holiday"},
        {"from": "2025-04-21T08:00:00+02:00", "to": "2025-04-21T12:00:00+02:00"},
    ],
}


@pytest.mark.parametrize(("instant", "on_shift", "on_leave"), [
    ("2025-04-07 23:00", True, False),    # Monday night shift
    ("2025-04-08 05:59", True, False),    # ... into Tuesday morning
    ("2025-04-08 07:00", False, False),   # between the two shifts
    ("2025-04-08 15:00", True, False),
    ("2025-04-15 10:00", True, True),     # on shift by the plan, but on leave (whole days)
    ("2025-04-16 23:59", False, True),    # the end date is included
    ("2025-04-17 00:00", False, False),
    ("2025-04-21 09:00", False, True),    # leave given as instants
], ids=lambda v: str(v))
def test_agent_schedule(instant: str, on_shift: bool, on_leave: bool):
    schedule = compile_schedule(SCHEDULE)
    moment = at(schedule.calendar, instant)
    assert schedule.on_shift(moment) is on_shift
    assert schedule.on_leave(moment) is on_leave
    assert schedule.available(moment) is (on_shift and not on_leave)


def test_broken_schedule_reports_pointers():
    broken = {**SCHEDULE, "timezone": "Mars/Base",
              "leave": [{"from": "2025-04-16", "to": "2025-04-15"}]}
    with pytest.raises(DefinitionError) as raised:
        compile_schedule(broken)
    assert [(i.code, i.pointer) for i in raised.value.issues] == [
        ("unknown-time-zone", "/timezone")]
    backwards = {**SCHEDULE, "leave": [{"from": "2025-04-16", "to": "2025-04-14"}]}
    with pytest.raises(DefinitionError) as raised:
        compile_schedule(backwards)
    assert [(i.code, i.pointer) for i in raised.value.issues] == [("bad-range", "/leave/0/to")]


# --- properties --------------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31),
                        timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(start=instants, minutes=st.integers(min_value=0, max_value=4 * 2400))
def test_adding_then_measuring_gives_the_minutes_back(cn: BusinessCalendar, start: datetime,
                                                      minutes: int):
    due, _ = cn.add_business_time(start, minutes)
    assert cn.business_minutes_between(start, due) == minutes


@settings(max_examples=100, deadline=None)
@given(start=instants, minutes=st.integers(min_value=0, max_value=3 * 7 * 24 * 60))
def test_measuring_back_holds_across_clock_changes(berlin: BusinessCalendar, start: datetime,
                                                   minutes: int):
    due, _ = berlin.add_business_time(start, minutes)
    assert berlin.business_minutes_between(start, due) == minutes
    assert minutes == 0 or berlin.is_working(due - timedelta(microseconds=1))


@settings(max_examples=100, deadline=None)
@given(start=instants, first=st.integers(0, 3000), second=st.integers(0, 3000))
def test_adding_in_two_steps_is_adding_once(berlin: BusinessCalendar, start: datetime,
                                            first: int, second: int):
    middle, _ = berlin.add_business_time(start, first)
    twice, _ = berlin.add_business_time(middle, second)
    once, _ = berlin.add_business_time(start, first + second)
    assert twice == once


# Due instants and business time are answered from a remembered run of intervals (two
# bisections); they must be what walking `intervals_from` gives, on every kind of
# calendar: lunch breaks and holidays, overnight ranges and DST (berlin), hours so
# sparse that a target outruns the run (wednesday mornings in Lord Howe's half-hour DST).
SPARSE = """\
calendar: sparse
timezone: Australia/Lord_Howe
hours: {wed: ["09:00-10:00"]}
day_length: 8h
"""


def walked_due(calendar: BusinessCalendar, start: datetime, amount: timedelta) -> datetime:
    remaining, end = amount, start.astimezone(UTC)
    if remaining > timedelta(0):
        for lo, hi in calendar.intervals_from(end):
            if hi - lo >= remaining:
                return lo + remaining
            remaining -= hi - lo
    return end


def walked_between(calendar: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    total = timedelta(0)
    if b > a:
        for lo, hi in calendar.intervals_from(a):
            if lo >= b:
                break
            total += min(hi, b) - lo
    return total


@settings(max_examples=60, deadline=None)
@given(start=st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 2, 1),
                          timezones=st.sampled_from([UTC, ZoneInfo("Asia/Shanghai"),
                                                     ZoneInfo("Europe/Berlin")])),
       minutes=st.integers(min_value=-10, max_value=60 * 24 * 30),
       name=st.sampled_from(["office", "berlin", "cn", "sparse"]))
def test_due_instants_and_business_time_are_the_walks(
        office: BusinessCalendar, berlin: BusinessCalendar, cn: BusinessCalendar,
        start: datetime, minutes: int, name: str):
    calendar = {"office": office, "berlin": berlin, "cn": cn,
                "sparse": loads_calendar(SPARSE, "sparse.yaml")}[name]
    amount = timedelta(minutes=minutes)
    due = calendar.due_after(start, amount)
    assert due == walked_due(calendar, start, amount)
    assert due.tzinfo is UTC
    end = start + 2 * amount
    assert calendar.business_time_between(start, end) == walked_between(calendar, start, end)
    fresh = compile_calendar_data(as_data(calendar))  # nothing remembered yet
    assert fresh.due_after(start, amount) == due


def test_local_dates_of_equal_instants_in_two_zones_agree(cn: BusinessCalendar):
    instant = datetime(2026, 2, 16, 17, 30, tzinfo=UTC)  # 01:30 on the 17th in Shanghai
    assert cn.local_date(instant) == date(2026, 2, 17)
    assert cn.local_date(instant.astimezone(ZoneInfo("America/New_York"))) == date(2026, 2, 17)
    with pytest.raises(CalendarError):
        cn.local_date(datetime(2026, 2, 16, 17, 30))
