"""The real routing and SLA checks of golden cases: `team`, `assignee` and `due`.

`engine.cases` runs a case through the definition; this module answers, for that run,
what the runtime would do on creation and afterwards, with the same engine functions
the runtime calls:

* team — the team of the first assignment rule whose condition holds for the values the
  ticket was created with (`engine.assignment.route`; the runtime routes on creation);
* assignee — the agent `decide_assignment` picks among the case's `candidates` (a case
  without candidates may not expect an assignee; `engine.cases` says so when reading);
* due — the SLA clocks at the end of the case's path (`engine.simulate.outlook`): the
  ticket is created at the case's `created_at`, each step with an `at` enters its state
  then; without step instants the clocks are those of the newly created ticket, over the
  values at the end of the path. The calendar is the one the definition names, looked
  up in `calendars` (see `case_calendars`); a name nobody has is a failure that says so.

Both CLI (`ticketflow test`) and import (`runtime.services.transfer`) use
`engine_extensions`, so a case means the same wherever it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from engine.assignment import decide_assignment, route
from engine.calendar import ALWAYS, BusinessCalendar
from engine.calendar_compile import bundled_calendars
from engine.cases import Case, CaseTrouble, Extensions, Routing
from engine.model import TicketType
from engine.simulate import Simulation, outlook

CALENDARS_FOLDER = "calendars"


def _created_values(simulation: Simulation) -> Mapping[str, object]:
    """The values the ticket was created with (routing happens on creation)."""
    first = simulation.steps[0] if simulation.steps else None
    return first.values if first is not None and first.ok else simulation.values


def route_case(ticket_type: TicketType, simulation: Simulation, case: Case) -> Routing:
    """Where the case's new ticket goes: the team, and the agent when the case has
    candidates (None when nobody is available or the team works as a claim pool)."""
    values = _created_values(simulation)
    if case.candidates is None:
        rule, _checks = route(ticket_type, values)
        return Routing(rule.team if rule else None)
    decision = decide_assignment(ticket_type, values, case.candidates.teams,
                                 case.candidates.pointers)
    return Routing(decision.team, decision.winner)


def calendar_for(ticket_type: TicketType,
                 calendars: Mapping[str, BusinessCalendar]) -> BusinessCalendar:
    """The calendar the definition's SLA policy names (no policy: round the clock)."""
    wanted = ticket_type.sla_policy.calendar if ticket_type.sla_policy else ALWAYS.id
    if wanted == ALWAYS.id:
        return calendars.get(wanted, ALWAYS)
    if wanted not in calendars:
        known = ", ".join(sorted({*calendars, ALWAYS.id}))
        raise CaseTrouble(f"the definition's calendar '{wanted}' is neither in a "
                          f"{CALENDARS_FOLDER}/ folder beside the cases nor bundled "
                          f"(known: {known})")
    return calendars[wanted]


def engine_extensions(calendars: Mapping[str, BusinessCalendar]) -> Extensions:
    """Routing and SLA deadlines for `engine.cases.run_file`, on these calendars by id."""

    def deadlines(ticket_type: TicketType, simulation: Simulation,
                  case: Case) -> dict[str, datetime | None]:
        calendar = calendar_for(ticket_type, calendars)
        result = outlook(ticket_type, simulation, calendar=calendar,
                         created_at=case.created_at)
        if result.sla is None:
            return {}
        return {str(clock.kind): clock.due_at for clock in result.sla.clocks}

    return Extensions(route=route_case, deadlines=deadlines)


def case_calendars(cases_folder: str | Path,
                   library: str | Path | None = None) -> dict[str, BusinessCalendar]:
    """The calendars cases in `cases_folder` may name: the `calendars/` folder beside them
    (an export folder has one) over the bundled ones in `library`, plus `24x7`.
    Raises `DefinitionError` with located issues when a calendar file is broken."""
    found: dict[str, BusinessCalendar] = {ALWAYS.id: ALWAYS}
    if library is not None and Path(library).is_dir():
        found.update(bundled_calendars(library))
    beside = Path(cases_folder) / CALENDARS_FOLDER
    if beside.is_dir() and (library is None or beside.resolve() != Path(library).resolve()):
        found.update(bundled_calendars(beside))
    return found
