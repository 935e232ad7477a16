"""The engine benchmark: compile, decide, and what plain JSON Schema validation costs.

For a 20-field definition with a table and 5 conditions (bench/data/bench20.yaml) it
measures, with time.perf_counter, best of several repeats of many calls:

1. compiling the definition text (`engine.compile.loads`);
2. `engine.forms.decide` for a valid submission (it must be ok) and for an invalid one
   (every problem must be listed);
3. reference A: jsonschema validating the same valid submission against the form's
   generated schema (`engine.formschema.json_schema`), and `iter_errors` on the invalid one;
4. the floor: the same schema compiled to Python by fastjsonschema;

plus one pre-parsed condition, and a business calendar (cn-workdays) finding the due
instant of a two-week SLA target and measuring it back. No timing is asserted anywhere;
docs/performance.md records the figures and the machine.

    .venv/bin/python bench/engine.py            # full run (about 30 seconds)
    .venv/bin/python bench/engine.py --quick    # smoke run (a second or two)
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastjsonschema

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder heads sys.path and the file's own name would shadow
# the `engine` package: put the project root first instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.calendar_compile import load_calendar  # noqa: E402
from engine.compile import loads  # noqa: E402
from engine.forms import decide  # noqa: E402
from engine.formschema import json_schema, make_form_validator  # noqa: E402

DEFINITION = ROOT / "bench" / "data" / "bench20.yaml"
CALENDAR = ROOT / "templates_library" / "calendars" / "cn-workdays.yaml"
ROLES = frozenset({"requester"})
GOAL_PER_SECOND = 20_000
GOAL_RATIO_TO_FLOOR = 3.0

VALID = {
    "title": "Laptop does not boot after the update",
    "category": "hardware",
    "subcategory": "laptop",
    "priority": "high",
    "description": "Black screen after last night's update; the power light is on.",
    "requester_email": "li.wei@example.com",
    "requester_phone": "+86 138 0013 8000",
    "department": "finance",
    "location": "Building 2, floor 3",
    "asset_tag": "LAP-0042",
    "affected_users": 1,
    "impact": "single",
    "due_date": "2025-03-01",
    "occurred_at": "2025-02-27T09:30:00+08:00",
    "tags": ["urgent", "onsite"],
    "vip": False,
    "screenshots": [
        {"name": "screen.png", "size": 204_800, "content_type": "image/png", "id": "f1"},
    ],
    "watcher": "zhang.san",
    "items": [
        {"sku": "SSD-512", "qty": 1, "unit_price": 59.9},
        {"sku": "CBL-USB", "qty": 2, "unit_price": 4.5},
    ],
}

# Something wrong in eight fields (nine problems); decide must report every one.
INVALID = {
    **VALID,
    "title": None,  # required
    "subcategory": "wifi",  # an option, but not under "hardware"
    "description": "broken",  # too short
    "requester_email": "li.wei@example",  # not an e-mail address
    "affected_users": 0,  # below the minimum
    "tags": ["urgent", "onsite", "vendor", "remote"],  # too many
    "screenshots": [{"name": "setup.exe", "size": 1024, "content_type": "application/x-exe"}],
    "items": [{"sku": "SSD-512", "qty": 0, "colour": "red"}],  # too small, unknown column
}
INVALID_FIELDS = {
    "title", "subcategory", "description", "requester_email", "affected_users", "tags",
    "screenshots", "items",
}


@dataclass(frozen=True)
class Result:
    name: str
    seconds_per_call: float
    note: str = ""

    @property
    def micros(self) -> float:
        return self.seconds_per_call * 1e6

    @property
    def per_second(self) -> float:
        return 1 / self.seconds_per_call


@dataclass(frozen=True)
class Case:
    name: str
    call: Callable[[], Any]
    number: int
    note: str = ""


def best_of(cases: Sequence[Case], *, repeat: int) -> list[Result]:
    """Seconds per call of each case: the best of `repeat` runs of `number` calls.

    The runs are interleaved (one run of every case, then the next round), so that a
    disturbance on a shared machine does not fall on one case only and skew the ratios.
    The garbage collector stays on, as in a server; each round starts from a collection.
    """
    best = [float("inf")] * len(cases)
    for _ in range(repeat):
        gc.collect()
        for index, case in enumerate(cases):
            call = case.call
            start = time.perf_counter()
            for _ in range(case.number):
                call()
            best[index] = min(best[index], (time.perf_counter() - start) / case.number)
    return [Result(c.name, seconds, c.note) for c, seconds in zip(cases, best, strict=True)]


def run(quick: bool = False) -> dict[str, Any]:
    """Measure everything once; returns the figures and the checks the smoke test reads."""
    scale = 0.02 if quick else 1.0
    repeat = 2 if quick else 9

    def case(name: str, call: Callable[[], Any], number: int, note: str = "") -> Case:
        return Case(name, call, max(1, int(number * scale)), note)

    text = DEFINITION.read_text(encoding="utf-8")
    ticket_type = loads(text, str(DEFINITION))
    schema = json_schema(ticket_type)
    validator = make_form_validator(schema)
    floor = fastjsonschema.compile(schema)

    def decide_valid() -> Any:
        return decide(ticket_type, VALID, roles=ROLES, creating=True, transition="submit")

    def decide_invalid() -> Any:
        return decide(ticket_type, INVALID, roles=ROLES, creating=True, transition="submit")

    valid, invalid = decide_valid(), decide_invalid()
    if not valid.ok:
        raise AssertionError(f"the valid submission was refused: {valid.problems}")
    missed = INVALID_FIELDS - {p.field for p in invalid.problems}
    if invalid.ok or missed:
        raise AssertionError(f"decide did not report every problem; missing: {missed}")
    if not validator.is_valid(VALID):
        raise AssertionError("jsonschema refused the valid submission")
    floor(VALID)  # raises when the schema and the engine disagree on it
    schema_errors = list(validator.iter_errors(INVALID))

    condition = ticket_type.field_by_id["asset_tag"].visible_when
    assert condition is not None
    values = dict(valid.values)

    # Compiling leaves much garbage behind: it is timed on its own, before the rest.
    results = best_of([case("compile (loads)", lambda: loads(text, str(DEFINITION)), 20)],
                      repeat=repeat)
    results += best_of([
        case("decide, valid", decide_valid, 2000, "ok"),
        case("decide, invalid", decide_invalid, 2000, f"{len(invalid.problems)} problems"),
        case("jsonschema is_valid, valid", lambda: validator.is_valid(VALID), 500),
        case("jsonschema iter_errors, invalid", lambda: list(validator.iter_errors(INVALID)),
             500, f"{len(schema_errors)} errors"),
        case("fastjsonschema, valid (floor)", lambda: floor(VALID), 5000),
        case("condition, pre-parsed", lambda: condition.holds(values), 50_000,
             condition.source),
    ], repeat=repeat)
    calendar = load_calendar(CALENDAR)
    start = datetime(2025, 9, 26, 8, 30, tzinfo=UTC)  # the National Day week lies ahead
    two_weeks = 10 * calendar.day_minutes
    due, _ = calendar.add_business_time(start, two_weeks)
    if calendar.business_minutes_between(start, due) != two_weeks:
        raise AssertionError("the calendar does not measure back what it added")
    results += best_of([
        case("add_business_time, 2-week target", lambda: calendar.add_business_time(
            start, two_weeks), 2000, f"{CALENDAR.stem}, over a holiday week"),
        case("business_minutes_between, 2 weeks", lambda: calendar.business_minutes_between(
            start, due), 2000),
    ], repeat=repeat)
    by_name = {result.name: result for result in results}
    return {
        "results": results,
        "decide_ok": valid.ok,
        "invalid_problems": len(invalid.problems),
        "schema_errors": len(schema_errors),
        "ratio_to_floor": by_name["decide, valid"].seconds_per_call
        / by_name["fastjsonschema, valid (floor)"].seconds_per_call,
        "ratio_to_jsonschema": by_name["decide, valid"].seconds_per_call
        / by_name["jsonschema is_valid, valid"].seconds_per_call,
        "decide_per_second": by_name["decide, valid"].per_second,
    }


def report(figures: dict[str, Any], quick: bool) -> str:
    """The figures as a plain-text table."""
    fields = len(loads(DEFINITION.read_text(encoding="utf-8")).fields)
    lines = [
        f"ticketflow engine benchmark{' (--quick: figures are rough)' if quick else ''}",
        f"definition: {DEFINITION.relative_to(ROOT)} ({fields} fields, a table, "
        "5 conditions)",
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.machine()}, nproc {os.cpu_count()}, one core used",
        "",
        f"{'':34} {'µs/call':>10} {'calls/s':>11}",
    ]
    for result in figures["results"]:
        note = f"  {result.note}" if result.note else ""
        lines.append(f"{result.name:34} {result.micros:10.1f} {result.per_second:11,.0f}{note}")
    per_second = figures["decide_per_second"]
    ratio = figures["ratio_to_floor"]
    met = per_second >= GOAL_PER_SECOND and ratio <= GOAL_RATIO_TO_FLOOR
    lines += [
        "",
        f"decide(valid) / fastjsonschema: {ratio:.2f}x    "
        f"decide(valid) / jsonschema: {figures['ratio_to_jsonschema']:.2f}x",
        f"goal (>= {GOAL_PER_SECOND:,}/s and <= {GOAL_RATIO_TO_FLOOR:g}x the floor): "
        f"{'met' if met else 'not met'}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print its table; returns the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    options = parser.parse_args(argv)
    load_before = _load_average()
    figures = run(quick=options.quick)
    print(report(figures, options.quick))
    # Figures from a busy machine mean little: say how busy it was.
    print(f"load average: {load_before} at the start, {_load_average()} at the end")
    return figures


def _load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:  # not available on this platform
        return "unknown"


if __name__ == "__main__":
    main()
