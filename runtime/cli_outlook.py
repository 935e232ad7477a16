"""`ticketflow simulate` options for routing and SLA: candidates, instants, a calendar.

Kept apart from `runtime.cli` so the command module only gains its options; like the
other engine commands this imports neither Flask nor SQLAlchemy.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from engine.calendar import ALWAYS, BusinessCalendar
from engine.calendar_compile import bundled_calendars, load_calendar
from engine.errors import DefinitionError
from engine.model import TicketType
from engine.simulate import (
    Simulation,
    SimulationInputError,
    describe_outlook,
    outlook,
    parse_candidates,
    parse_instant,
)
from engine.source import read_file

CALENDARS = Path(__file__).resolve().parent.parent / "templates_library" / "calendars"


def step_instant(raw: Any, where: str) -> datetime | None:
    """The `at` of a step in the simulation data (None when absent); exits on bad input."""
    if raw is None:
        return None
    try:
        return parse_instant(raw, f"{where}/at")
    except SimulationInputError as error:
        _fail(str(error))


def report_outlook(
    ticket_type: TicketType,
    simulation: Simulation,
    *,
    candidates_path: str | None,
    created_at: str | None,
    calendar_path: str | None,
) -> None:
    """Print the routing decision and SLA clocks the options ask for (nothing if none)."""
    candidates = pointers = None
    if candidates_path:
        try:
            candidates, pointers = parse_candidates(_read(candidates_path))
        except SimulationInputError as error:
            _fail(f"{candidates_path}: {error}")
    start = None
    if created_at:
        try:
            start = parse_instant(created_at, "--created-at")
        except SimulationInputError as error:
            _fail(str(error))
    wants_sla = start is not None or (simulation.steps and simulation.steps[0].at is not None)
    calendar = _calendar(ticket_type, calendar_path) if wants_sla else None
    result = outlook(ticket_type, simulation, candidates=candidates, pointers=pointers,
                     calendar=calendar, created_at=start)
    text = describe_outlook(result)
    if text:
        click.echo(text)


def _calendar(ticket_type: TicketType, path: str | None) -> BusinessCalendar:
    try:
        if path:
            return load_calendar(path)
        wanted = ticket_type.sla_policy.calendar if ticket_type.sla_policy else ALWAYS.id
        known = bundled_calendars(CALENDARS) if CALENDARS.is_dir() else {ALWAYS.id: ALWAYS}
    except DefinitionError as error:
        for issue in error.issues:
            click.echo(issue.render(), err=True)
        sys.exit(1)
    if wanted not in known:
        _fail(f"calendar '{wanted}' is not bundled ({', '.join(sorted(known))}); "
              "pass --calendar FILE")
    return known[wanted]


def _read(path: str) -> Any:
    try:
        return read_file(path).data
    except DefinitionError as error:
        _fail(error.issues[0].render())


def _fail(message: str) -> Any:
    click.echo(message, err=True)
    sys.exit(1)
