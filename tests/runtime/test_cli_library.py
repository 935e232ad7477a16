"""`ticketflow templates | export | import | diff` against a database (SQLite and
PostgreSQL): what an operator and an integrator's CI see."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runtime.cli import cli
from runtime.db import Database
from tests.runtime.conftest import Seed
from tests.runtime.test_cli_runtime import Outcome, Run


@pytest.fixture
def ticketflow(seed: Seed, tmp_path: Path) -> Run:
    """The CLI on the seeded test database."""
    env = {"DATABASE_URL": seed.db.url, "TICKETFLOW_INSTANCE": str(tmp_path / "instance")}

    def run(*args: str) -> Outcome:
        result = CliRunner().invoke(cli, list(args), env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Outcome(result.exit_code, result.stdout, result.stderr)

    return run


def test_templates_list_install_clone(ticketflow: Run) -> None:
    listed = ticketflow("templates", "list", "--lang", "zh")
    assert listed.code == 0
    assert "repair               v1  REP   installed v1  维修工单" in listed.stdout
    assert "service              v1  SRV   not installed  客户服务工单" in listed.stdout

    first = ticketflow("templates", "install", "service")
    assert (first.code, first.stdout) == (0, "installed 'service' version 1 as 'service'\n")
    assert "note: it routes to teams this installation does not have yet: billing" \
        in first.stderr
    again = ticketflow("templates", "install", "service")
    assert again.stdout == "'service' already has version 1 of the template; nothing changed\n"

    cloned = ticketflow("templates", "clone", "service", "--as", "presales", "--prefix", "PRE",
                        "--name-en", "Pre-sales", "--name-zh", "售前咨询")
    assert cloned.stdout == "cloned 'service' version 1 as 'presales' (numbers PRE-000001, ...)\n"
    assert "clone: presales (from v1)" in ticketflow("templates", "list").stdout

    refused = ticketflow("templates", "clone", "service", "--as", "presales")
    assert refused.code == 1
    assert refused.stderr == "Error: a ticket type 'presales' exists already; choose another id\n"


def test_acting_as_someone_who_is_not_an_admin_is_refused(ticketflow: Run) -> None:
    outcome = ticketflow("templates", "install", "service", "--user", "zhao")
    assert outcome.code == 1
    assert outcome.stderr == "Error: only administrators may install templates\n"


def test_export_import_dry_run_and_refused_import(ticketflow: Run, tmp_path: Path) -> None:
    folder = tmp_path / "defs"
    exported = ticketflow("export", str(folder))
    assert exported.code == 0
    assert exported.stdout == f"wrote {folder / 'repair.yaml'}\nwrote {folder / 'teams.yaml'}\n"
    assert ticketflow("export", str(folder)).stderr.startswith("0 file(s) written, 2 unchanged")

    repair = folder / "repair.yaml"
    repair.write_text(repair.read_text(encoding="utf-8").replace("\nversion: 1\n",
                                                                 "\nversion: 2\n")
                      .replace("within: 30d", "within: 14d"), encoding="utf-8")
    planned = ticketflow("import", str(folder), "--dry-run")
    assert planned.code == 0
    assert planned.stdout.splitlines() == [
        "unchanged team repair: Repair",
        "publish   definition repair: version 1 → 2",
        "            ~ definition: version: 1 → 2",
        "            ~ duplicate check: within: 30d → 14d",
    ]
    assert "dry run: would change 1 of 2 item(s)" in planned.stderr
    assert "team 'senior' is neither in this installation nor in the folder" in planned.stderr

    diffed = ticketflow("diff", "repair", str(repair))
    assert (diffed.code, diffed.stdout.count("\n")) == (1, 2)

    text = repair.read_text(encoding="utf-8")
    repair.write_text(text.replace("to: waiting_customer", "to: waiting_custmer"),
                      encoding="utf-8")
    line = text[:text.index("to: waiting_customer")].count("\n") + 1
    refused = ticketflow("import", str(folder))
    assert refused.code == 1
    assert f"{repair}:{line}:" in refused.stderr
    assert "[unknown-state]" in refused.stderr
    assert refused.stderr.rstrip().endswith(
        "Error: nothing was imported: 1 problem(s) in 1 file(s)")
    assert "installed v1 " in ticketflow("templates", "list").stdout.split("repair")[1]


def test_without_an_administrator_the_cli_says_how_to_make_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    env = {"DATABASE_URL": url, "TICKETFLOW_INSTANCE": str(tmp_path / "instance")}
    assert CliRunner().invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    result = CliRunner().invoke(cli, ["templates", "install", "repair"], env=env)
    assert result.exit_code == 1
    assert "there is no administrator; create one with" in result.stderr
    Database(url).dispose()
