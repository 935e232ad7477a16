"""Golden cases: expectations that travel with a definition and are checked by the engine.

A case says "a ticket with these values, created at this instant, takes this path, ends
here, lands in this team, has these due instants". Cases live in `<stem>.cases.yaml`
beside the definition (schema: `engine/schema/cases.schema.json`); `ticketflow test DIR`
runs them, and an import runs them before it writes anything.

Each `expect` key has one checker (`CHECKERS`): a function of the expected value and the
run's `Outcome` that yields mismatches. Routing and SLA instants come from other engine
modules, plugged in through `Extensions` (a router and a deadline function;
`engine.case_hooks.engine_extensions` gives the real ones); without them the `team`,
`assignee` and `due` checks report "not checked" as a note instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from engine.assignment import Candidate
from engine.duplicates import Earlier, find_repeat, preset
from engine.errors import DefinitionError, Issue, IssueCode, Problem
from engine.flow import creation_transitions
from engine.model import TicketType
from engine.schema import make_validator, schema_issues
from engine.simulate import Simulation, StepRequest, parse_candidates, run_auto, run_steps
from engine.source import Source, read_file

CASES_SCHEMA_PATH = Path(__file__).parent / "schema" / "cases.schema.json"
CASES_SUFFIX = ".cases.yaml"
# A Monday, 09:00 in Shanghai: a working moment for any business calendar.
DEFAULT_CREATED_AT = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


# --- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One golden case, as read from its file."""

    name: str
    line: int | None
    created_at: datetime
    expect: Mapping[str, Any]
    values: Mapping[str, Any] | None = None
    create: StepRequest | None = None
    steps: tuple[StepRequest, ...] = ()
    earlier: tuple[Earlier, ...] = ()
    candidates: Candidates | None = None


@dataclass(frozen=True)
class Candidates:
    """The agents routing may pick from, by team, and each team's round-robin pointer."""

    teams: Mapping[str, Sequence[Candidate]]
    pointers: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseFile:
    """A file of cases and the definition they are about."""

    file: str
    definition: str | None
    cases: tuple[Case, ...]


@cache
def _validator() -> Any:
    import json

    return make_validator(json.loads(CASES_SCHEMA_PATH.read_text(encoding="utf-8")))


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant (the schema checked the shape) as an aware datetime."""
    return datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))


def _roles(raw: Any) -> frozenset[str] | None:
    if raw is None:
        return None
    return frozenset([raw] if isinstance(raw, str) else raw)


def _step(raw: Mapping[str, Any], at: datetime | None = None) -> StepRequest:
    return StepRequest(raw.get("transition"), dict(raw.get("values") or {}),
                       _roles(raw.get("as")),
                       parse_instant(raw["at"]) if "at" in raw else at)


def _candidates(raw: Mapping[str, Any] | None) -> Candidates | None:
    if raw is None:
        return None
    teams, pointers = parse_candidates(raw)  # the schema checked the shape already
    return Candidates(teams, pointers)


def _case_issues(source: Source) -> Iterator[Issue]:
    """What the schema cannot say: `values` or `create`; `assignee` needs candidates."""
    data = source.data
    for index, raw in enumerate(data["cases"]):
        if "values" in raw and "create" in raw:
            yield source.map.issue(
                IssueCode.BAD_VALUE, "give either `values` (automatic path) or `create` "
                "(explicit steps), not both", f"/cases/{index}/create", prefer_key=True)
        if "assignee" in raw["expect"] and "candidates" not in raw \
                and "candidates" not in data:
            yield source.map.issue(
                IssueCode.BAD_VALUE, "an `assignee` expectation needs `candidates` (the "
                "agents routing picks from) in the case or at the top of the file",
                f"/cases/{index}/expect/assignee", prefer_key=True)


def parse_cases(source: Source) -> CaseFile:
    """Cases from data read by `engine.source`; raises `DefinitionError` with located
    issues when the file does not follow the cases schema."""
    issues = schema_issues(source.data, source.map, _validator())
    data = source.data
    if not issues:
        issues.extend(_case_issues(source))
    if issues:
        raise DefinitionError(issues)
    cases = []
    default_candidates = _candidates(data.get("candidates"))
    for index, raw in enumerate(data["cases"]):
        position = source.map.locate(f"/cases/{index}")
        created_at = (parse_instant(raw["created_at"]) if "created_at" in raw
                      else DEFAULT_CREATED_AT)
        cases.append(Case(
            name=raw["name"],
            line=position.line if position else None,
            created_at=created_at,
            expect=raw["expect"],
            values=raw.get("values"),
            create=_step(raw["create"], created_at) if "create" in raw else None,
            steps=tuple(_step(step) for step in raw.get("steps", ())),
            earlier=tuple(Earlier(e["number"], parse_instant(e["created_at"]), e["values"])
                          for e in raw.get("earlier", ())),
            candidates=_candidates(raw.get("candidates")) or default_candidates,
        ))
    return CaseFile(source.map.file or "<cases>", data.get("definition"), tuple(cases))


def read_cases(path: str | Path) -> CaseFile:
    """Read and check a cases file."""
    return parse_cases(read_file(path))


def definition_path(cases_path: Path, case_file: CaseFile) -> Path:
    """The definition a cases file is about: its `definition`, else the sibling file
    with the same stem (`repair.cases.yaml` → `repair.yaml`, `.yml` or `.json`)."""
    if case_file.definition:
        return cases_path.parent / case_file.definition
    stem = cases_path.name.removesuffix(CASES_SUFFIX)
    for suffix in (".yaml", ".yml", ".json"):
        candidate = cases_path.parent / f"{stem}{suffix}"
        if candidate.exists():
            return candidate
    return cases_path.parent / f"{stem}.yaml"


# --- running ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Routing:
    """Where routing puts a new ticket."""

    team: str | None
    assignee: str | None = None


# Both get the definition, the case's run and the case (its instant, its candidates).
Router = Callable[[TicketType, Simulation, Case], Routing]
Deadlines = Callable[[TicketType, Simulation, Case], Mapping[str, datetime | None]]


@dataclass(frozen=True)
class Extensions:
    """Engine parts the runner can use when they exist: routing and SLA deadlines."""

    route: Router | None = None
    deadlines: Deadlines | None = None


@dataclass(frozen=True)
class Outcome:
    """What happened to the case's ticket."""

    case: Case
    ticket_type: TicketType
    simulation: Simulation
    extensions: Extensions

    @property
    def last(self) -> Any:
        return self.simulation.steps[-1] if self.simulation.steps else None

    @property
    def stopped(self) -> bool:
        """A step failed (as opposed to simply not reaching a final state)."""
        return self.last is not None and not self.last.ok


@dataclass(frozen=True)
class Mismatch:
    """One expectation that did not hold."""

    what: str
    expected: Any
    actual: Any

    def render(self) -> list[str]:
        if isinstance(self.actual, CaseTrouble):
            return [f"{self.what}: {self.actual}"]
        expected, actual = _show(self.expected), _show(self.actual)
        if len(expected) + len(actual) < 60:
            return [f"{self.what}: expected {expected}, got {actual}"]
        pad = " " * len(self.what)
        return [f"{self.what}: expected {expected}", f"{pad}       got {actual}"]


class NotChecked(Exception):
    """An expectation this runner cannot check yet (said as a note, not a failure)."""


class CaseTrouble(Exception):
    """An expectation that cannot be checked because the case or its surroundings are
    wrong (e.g. the definition names a calendar nobody has): a failure with this message."""


@dataclass(frozen=True)
class CaseResult:
    case: Case
    mismatches: tuple[Mismatch, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.mismatches


def _show(value: Any) -> str:
    if isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
        return " → ".join(value) if value else "(nothing)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


def _check_path(expected: Any, outcome: Outcome) -> Iterator[Mismatch]:
    if tuple(expected) != outcome.simulation.path:
        yield Mismatch("path", tuple(expected), outcome.simulation.path)


def _check_state(expected: Any, outcome: Outcome) -> Iterator[Mismatch]:
    if expected != outcome.simulation.final_state:
        yield Mismatch("state", expected, outcome.simulation.final_state)


def _check_finished(expected: Any, outcome: Outcome) -> Iterator[Mismatch]:
    if expected != outcome.simulation.finished:
        yield Mismatch("finished", expected, outcome.simulation.finished)


def _check_values(expected: Any, outcome: Outcome) -> Iterator[Mismatch]:
    values = outcome.simulation.values
    for name, wanted in expected.items():
        if values.get(name) != wanted:
            yield Mismatch(f"values.{name}", wanted, values.get(name))


def _problem_pairs(problems: Sequence[Problem]) -> list[str]:
    return sorted(f"{p.field or '/'}: {p.code}" for p in problems)


def _check_problems(expected: Any, outcome: Outcome) -> Iterator[Mismatch]:
    wanted = sorted(f"{p.get('field') or '/'}: {p['code']}" for p in expected)
    actual = _problem_pairs(outcome.last.problems) if outcome.stopped else []
    if wanted != actual:
        yield Mismatch("problems", ", ".join(wanted) or "none", ", ".join(actual) or "none")


def _check_refused(expected: Any, outcome: Outcome) -> Iterator[Mismatch]:
    actual = str(outcome.last.refusal) if outcome.stopped and outcome.last.refusal else None
    if expected != actual:
        yield Mismatch("refused", expected, actual)


def _routing(outcome: Outcome) -> Routing:
    route = outcome.extensions.route
    if route is None:
        raise NotChecked("routing is not connected to the case runner")
    return route(outcome.ticket_type, outcome.simulation, outcome.case)


def _check_team(expected: Any, outcome: Outcome) -> Iterator[Mismatch]:
    actual = _routing(outcome).team
    if expected != actual:
        yield Mismatch("team", expected, actual)


def _check_assignee(expected: Any, outcome: Outcome) -> Iterator[Mismatch]:
    actual = _routing(outcome).assignee
    if expected != actual:
        yield Mismatch("assignee", expected, actual)


def _check_due(expected: Any, outcome: Outcome) -> Iterator[Mismatch]:
    deadlines = outcome.extensions.deadlines
    if deadlines is None:
        raise NotChecked("SLA deadlines are not connected to the case runner")
    actual = deadlines(outcome.ticket_type, outcome.simulation, outcome.case)
    for clock, wanted in expected.items():
        instant = None if wanted is None else parse_instant(wanted)
        if instant != actual.get(clock):
            yield Mismatch(f"due.{clock}", instant, _as_zone(actual.get(clock), instant))


def _as_zone(actual: datetime | None, expected: datetime | None) -> datetime | None:
    """The instant got, shown in the zone the case wrote its expectation in."""
    if actual is None or expected is None:
        return actual
    return actual.astimezone(expected.tzinfo)


Checker = Callable[[Any, Outcome], Iterator[Mismatch]]
CHECKERS: dict[str, Checker] = {
    "path": _check_path, "state": _check_state, "finished": _check_finished,
    "values": _check_values, "problems": _check_problems, "refused": _check_refused,
    "team": _check_team, "assignee": _check_assignee, "due": _check_due,
}


def simulate_case(ticket_type: TicketType, case: Case) -> Simulation:
    """Run the case's ticket through the definition (repeat detection included)."""
    intake = case.values if case.create is None else case.create.values
    found = None
    if ticket_type.duplicate_check is not None and case.earlier:
        found = find_repeat(ticket_type.duplicate_check, intake or {}, case.created_at,
                            case.earlier)
    values = preset(ticket_type.duplicate_check, found) if found else None
    if case.create is not None:
        return run_steps(ticket_type, case.create, case.steps, preset=values)
    if case.steps:
        # Values with explicit steps: created by the requester's first submit button.
        creators = creation_transitions(ticket_type, {"requester"})
        creation = StepRequest(creators[0].id if creators else None, case.values or {})
        return run_steps(ticket_type, creation, case.steps, preset=values)
    return run_auto(ticket_type, case.values or {}, preset=values)


def run_case(ticket_type: TicketType, case: Case,
             extensions: Extensions | None = None) -> CaseResult:
    """Run one case and compare every expectation."""
    outcome = Outcome(case, ticket_type, simulate_case(ticket_type, case),
                      extensions or Extensions())
    mismatches: list[Mismatch] = []
    notes: list[str] = []
    if outcome.stopped and not ({"problems", "refused"} & set(case.expect)):
        last = outcome.last
        reason = f"refused: {last.refusal}" if last.refusal else ", ".join(
            _problem_pairs(last.problems))
        mismatches.append(Mismatch(f"step {last.number} ({last.transition or 'create'})",
                                   "to succeed", reason))
    for key, expected in case.expect.items():
        try:
            mismatches.extend(CHECKERS[key](expected, outcome))
        except NotChecked as reason:
            notes.append(f"{key}: not checked — {reason}")
        except CaseTrouble as trouble:
            mismatches.append(Mismatch(key, expected, trouble))
    if case.earlier and ticket_type.duplicate_check is None:
        notes.append("earlier: ignored — the definition has no duplicate_check")
    return CaseResult(case, tuple(mismatches), tuple(notes))


def run_file(ticket_type: TicketType, case_file: CaseFile,
             extensions: Extensions | None = None) -> list[CaseResult]:
    """Run every case of a file."""
    return [run_case(ticket_type, case, extensions) for case in case_file.cases]


@dataclass(frozen=True)
class Report:
    """Results of one cases file, or the issues that kept it from running."""

    file: str
    results: tuple[CaseResult, ...] = ()
    issues: tuple[Issue, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.issues and all(result.passed for result in self.results)


def render_case_failure(result: CaseResult) -> str:
    """A failed case on one line (for import errors)."""
    found = "; ".join(" ".join(line.strip() for line in mismatch.render())
                      for mismatch in result.mismatches)
    return f"golden case '{result.case.name}' fails: {found}"


def render(report: Report) -> str:
    """A readable report: one line per case, the differences under a failed one."""
    lines = [f"{report.file}:"]
    lines += [f"  {issue.render()}" for issue in report.issues]
    for result in report.results:
        where = f"{report.file}:{result.case.line}" if result.case.line else report.file
        lines.append(f"  {'ok  ' if result.passed else 'FAIL'}  {result.case.name}"
                     + ("" if result.passed else f"   ({where})"))
        for mismatch in result.mismatches:
            lines += [f"        {text}" for text in mismatch.render()]
        lines += [f"        note: {note}" for note in result.notes]
    return "\n".join(lines)
