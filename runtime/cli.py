"""The `ticketflow` command line: thin wrappers that parse arguments, call the engine or
the services, and print results. No rule lives here."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from engine.compile import load
from engine.errors import DefinitionError, Issue, IssueCode
from engine.source import read_file as read_source

DEFINITION_SUFFIXES = (".yaml", ".yml", ".json")


def _definition_files(paths: Sequence[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*")
                if p.suffix.lower() in DEFINITION_SUFFIXES and p.is_file()
                and _looks_like_definition(p)
            )
        else:
            yield path


def _looks_like_definition(path: Path) -> bool:
    # Folders also hold golden cases and example data; a definition names its ticket type.
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return True
    return "ticket_type" in head


def _print_issues(issues: Sequence[Issue]) -> None:
    for issue in issues:
        click.echo(issue.render())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """ticketflow: ticket types as definitions, and the system that runs them."""


@cli.command()
@click.argument("paths", nargs=-1, required=True)
def validate(paths: tuple[str, ...]) -> None:
    """Check definition files (or folders of them); print every problem as
    file:line:col: /pointer: message [code]. Exit 0 when all are valid, 1 otherwise."""
    files = list(_definition_files(paths))
    failed = 0
    for path in files:
        try:
            load(path)
        except DefinitionError as error:
            failed += 1
            _print_issues(error.issues)
    if not files:
        click.echo("no definition files found", err=True)
        sys.exit(1)
    click.echo(f"{len(files)} definition(s) checked, {failed} with problems", err=True)
    sys.exit(1 if failed else 0)


def _load_or_exit(path: str) -> Any:
    try:
        return load(path)
    except DefinitionError as error:
        _print_issues(error.issues)
        sys.exit(1)


@cli.command()
@click.argument("path")
@click.option("--transition", help="Describe this transition's step form instead of intake.")
@click.option("--ui", is_flag=True, help="Print the UI description instead of the schema.")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "zh"]))
def schema(path: str, transition: str | None, ui: bool, lang: str) -> None:
    """Print the JSON Schema (draft 2020-12) a form of the definition compiles to."""
    from engine.formschema import json_schema, ui_description

    ticket_type = _load_or_exit(path)
    form = None
    if transition is not None:
        if transition not in ticket_type.transition_by_id:
            click.echo(f"{path}: unknown transition '{transition}'", err=True)
            sys.exit(1)
        form = ticket_type.transition_by_id[transition].form
    document = (ui_description if ui else json_schema)(ticket_type, form=form, language=lang)
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


def _read_data(path: str) -> Any:
    """Simulation data: JSON or YAML, read with the same safe reader as definitions."""
    try:
        return read_source(path).data
    except DefinitionError as error:
        # The reader's codes describe a definition; for data only the location matters.
        _print_issues([i.at(code=IssueCode.BAD_VALUE) if i.code is IssueCode.BAD_VALUE else i
                       for i in error.issues])
        sys.exit(1)


@cli.command()
@click.argument("path")
@click.option("--data", "data_path", required=True,
              help="JSON/YAML: field values (automatic path) or {create: ..., steps: [...]}.")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "zh"]))
def simulate(path: str, data_path: str, lang: str) -> None:
    """Show the path a ticket with this data takes, the visible and required fields at
    each step, and the problems it would hit. Exit 0 when it reaches a final state."""
    from engine.simulate import describe, run_auto, run_steps

    ticket_type = _load_or_exit(path)
    data = _read_data(data_path)
    if not isinstance(data, dict):
        click.echo(f"{data_path}: expected a map of field values", err=True)
        sys.exit(1)
    if "steps" in data or "create" in data:
        creation, steps = _steps_from(data, data_path)
        result = run_steps(ticket_type, creation, steps, language=lang)
    else:
        result = run_auto(ticket_type, data, language=lang)
    click.echo(describe(result, ticket_type, lang))
    sys.exit(0 if result.finished else 1)


def _steps_from(data: dict[str, Any], data_path: str) -> tuple[Any, list[Any]]:
    from engine.simulate import StepRequest

    def request(raw: Any, where: str) -> StepRequest:
        if not isinstance(raw, dict) or not set(raw) <= {"transition", "values", "roles"}:
            click.echo(f"{data_path}: {where}: expected a map with transition, values, roles",
                       err=True)
            sys.exit(1)
        roles = raw.get("roles")
        return StepRequest(raw.get("transition"), raw.get("values") or {},
                           frozenset(roles) if isinstance(roles, list) else None)

    steps = data.get("steps") or []
    if not isinstance(steps, list):
        click.echo(f"{data_path}: /steps: expected a list", err=True)
        sys.exit(1)
    creation = request(data.get("create") or {}, "/create")
    return creation, [request(step, f"/steps/{i}") for i, step in enumerate(steps)]


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="ticketflow")
    except KeyboardInterrupt:
        sys.exit(130)
