"""Definitions in git: export → import → export is byte-identical (on both databases),
imports are all or nothing with every problem located, dry runs plan without writing,
golden cases guard an import, secrets never leave."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from runtime.context import Request
from runtime.db import Database
from runtime.models import ConfigKind, Definition, Role, Team
from runtime.services import accounts, definitions, templates, transfer
from runtime.services.configuration import put_document
from runtime.services.errors import Forbidden, Invalid
from tests.conftest import TEMPLATES
from tests.runtime.conftest import PASSWORD, PG_ADMIN_URL, Seed

CALENDAR = """\
# Mainland China working days.
calendar: cn-workdays
timezone: Asia/Shanghai
hours:
  mon: ["09:00-12:00", "13:00-18:00"]
  tue: ["09:00-12:00", "13:00-18:00"]
  wed: ["09:00-12:00", "13:00-18:00"]
  thu: ["09:00-12:00", "13:00-18:00"]
  fri: ["09:00-12:00", "13:00-18:00"]
webhook_secret: do-not-export
holidays: [{date: "2026-10-01", name: National Day}, {date: "2026-10-02", name: National Day}]
"""


@pytest.fixture
def other(request: pytest.FixtureRequest, database: Database, tmp_path: Path
          ) -> Iterator[Database]:
    """A second, empty installation on the same kind of database, with one admin."""
    if database.dialect == "sqlite":
        path = tmp_path / "other.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        second = Database(f"sqlite:///{path}")
        name = None
    else:
        template = request.getfixturevalue("pg_template")
        name = f"tf_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        admin.dispose()
        second = Database(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    accounts.create_user(second, None, username="root", role=Role.ADMIN, password=PASSWORD,
                         now=request.getfixturevalue("clock")())
    yield second
    second.dispose()
    if name is not None:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _root(db: Database, seed: Seed) -> Request:
    with db.read() as session:
        user = accounts.find_user(session, "root")
        return Request(accounts.actor_for(user), seed.clock(), None)


@pytest.fixture
def configured(seed: Seed) -> Seed:
    """An installation with every template, a clone customised to version 2, teams and a
    calendar."""
    admin = seed.request("admin")
    for name in ("service", "it-support", "after-sales", "production-process"):
        templates.install(seed.db, admin, name)
    templates.clone(seed.db, admin, "it-support", "lab-it", prefix="LAB")
    _, source = definitions.get_source(seed.db, admin, "lab-it")
    definitions.install(seed.db, admin, source.replace("\nversion: 1\n", "\nversion: 2\n")
                        .replace("resolution: 24h}", "resolution: 8h}"))
    for key, name in (("network-l1", "Network first line"), ("it-helpdesk", "IT help desk"),
                      ("senior", "Senior technicians")):
        accounts.create_team(seed.db, None, key, name, now=seed.clock())
    with seed.db.write() as session:
        put_document(session, admin, ConfigKind.CALENDAR, "cn-workdays", CALENDAR)
    return seed


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_export_import_export_is_byte_identical(configured: Seed, other: Database,
                                                tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    transfer.export(configured.db, configured.request("admin"), first)
    plan = transfer.import_folder(other, _root(other, configured), first)
    assert plan.written
    transfer.export(other, _root(other, configured), second)
    assert _files(first) == _files(second)
    assert sorted(_files(first)) == [
        "after-sales.yaml", "calendars/cn-workdays.yaml", "it-support.yaml", "lab-it.yaml",
        "production-process.yaml", "repair.yaml", "service.yaml", "teams.yaml"]
    # Versions travel: lab-it is at version 2 over there too.
    _, source = definitions.get_source(other, _root(other, configured), "lab-it")
    assert "\nversion: 2\n" in source


def test_export_is_canonical_and_keeps_no_secrets(configured: Seed, tmp_path: Path) -> None:
    report = transfer.export(configured.db, configured.request("admin"), tmp_path / "out")
    files = _files(tmp_path / "out")
    for name, data in files.items():
        assert data.endswith(b"\n"), name
        assert b"\r" not in data, name
        assert b"\t" not in data, name
    calendar = files["calendars/cn-workdays.yaml"].decode()
    assert "webhook_secret" not in calendar
    assert calendar.startswith("# Mainland China working days.\ncalendar: cn-workdays\n")
    assert files["teams.yaml"].decode() == (
        "teams:\n  - {key: it-helpdesk, name: IT help desk}\n"
        "  - {key: network-l1, name: Network first line}\n"
        "  - {key: repair, name: Repair}\n  - {key: senior, name: Senior technicians}\n")
    repair = files["repair.yaml"].decode()
    assert repair.index("ticket_type:") < repair.index("version:") < repair.index("fields:")
    again = transfer.export(configured.db, configured.request("admin"), tmp_path / "out")
    assert (again.written, len(again.unchanged)) == ((), len(report.written))


def test_importing_an_unchanged_export_changes_nothing(configured: Seed,
                                                       tmp_path: Path) -> None:
    admin = configured.request("admin")
    transfer.export(configured.db, admin, tmp_path / "out")
    plan = transfer.import_folder(configured.db, admin, tmp_path / "out")
    assert plan.changes == []


def _break(path: Path, old: str, new: str) -> int:
    """Replace text once; the 1-based line where it was."""
    content = path.read_text(encoding="utf-8")
    assert content.count(old) >= 1, old
    line = content[:content.index(old)].count("\n") + 1
    path.write_text(content.replace(old, new, 1), encoding="utf-8")
    return line


def test_a_broken_folder_imports_nothing_and_lists_every_error(
        configured: Seed, other: Database, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    transfer.export(configured.db, configured.request("admin"), folder)
    state_line = _break(folder / "repair.yaml", "to: waiting_customer", "to: waiting_custmer")
    field_line = _break(folder / "service.yaml", "requires: [first_reply]",
                        "requires: [first_replied]")
    _break(folder / "it-support.yaml", "fields:\n", "fields:\n  - [\n")
    team_line = _break(folder / "teams.yaml", "{key: senior", "{key: Senior")
    with pytest.raises(Invalid) as raised:
        transfer.import_folder(other, _root(other, configured), folder)
    found = {(Path(d["file"]).name, d["line"], d["code"]) for d in raised.value.details}
    assert (("repair.yaml", state_line, "unknown-state") in found)
    assert (("service.yaml", field_line, "unknown-field") in found)
    assert any(f == "it-support.yaml" and code == "yaml-syntax" for f, _, code in found)
    assert (("teams.yaml", team_line, "bad-value") in found)
    assert raised.value.message.startswith("nothing was imported: ")
    with other.read() as session:
        assert session.scalar(select(func.count()).select_from(Definition)) == 0
        assert session.scalar(select(func.count()).select_from(Team)) == 0


def test_dry_run_plans_a_new_version_with_its_changes(configured: Seed,
                                                      tmp_path: Path) -> None:
    admin = configured.request("admin")
    folder = tmp_path / "out"
    transfer.export(configured.db, admin, folder)
    _break(folder / "repair.yaml", "\nversion: 1\n", "\nversion: 2\n")
    _break(folder / "repair.yaml", "resolution: 4h}", "resolution: 2h}")
    _break(folder / "teams.yaml", "name: Senior technicians", "name: Senior repair")
    plan = transfer.import_folder(configured.db, admin, folder, dry_run=True)
    changed = {(item.kind, item.key): item for item in plan.changes}
    assert set(changed) == {("definition", "repair"), ("team", "senior")}
    repair = changed[("definition", "repair")]
    assert (repair.action, repair.detail) == ("publish", "version 1 → 2")
    assert repair.changes == ("~ definition: version: 1 → 2",
                              "~ sla target when \"priority != 'normal'\": resolution: 4h → 2h")
    assert definitions.get_source(configured.db, admin, "repair")[0].version == 1
    plan = transfer.import_folder(configured.db, admin, folder)
    assert plan.written
    assert definitions.get_source(configured.db, admin, "repair")[0].version == 2


def test_changed_content_under_a_published_version_is_refused_at_its_line(
        configured: Seed, tmp_path: Path) -> None:
    admin = configured.request("admin")
    folder = tmp_path / "out"
    transfer.export(configured.db, admin, folder)
    _break(folder / "repair.yaml", "within: 30d", "within: 60d")
    line = (folder / "repair.yaml").read_text().split("\n").index("version: 1") + 1
    with pytest.raises(Invalid) as raised:
        transfer.import_folder(configured.db, admin, folder)
    [issue] = raised.value.details
    assert (issue["line"], issue["pointer"], issue["code"]) == (line, "/version", "bad-value")
    assert "set version: 2" in issue["message"]


def test_golden_cases_guard_an_import(configured: Seed, tmp_path: Path) -> None:
    admin = configured.request("admin")
    folder = tmp_path / "out"
    transfer.export(configured.db, admin, folder)
    shutil.copy(TEMPLATES / "repair.cases.yaml", folder)
    # A change that breaks a promise: software faults now get the hardware check too.
    _break(folder / "repair.yaml", "\nversion: 1\n", "\nversion: 2\n")
    _break(folder / "repair.yaml", "when: fault == 'software', state: repairing",
           "when: fault == 'network', state: repairing")
    with pytest.raises(Invalid) as raised:
        transfer.import_folder(configured.db, admin, folder)
    failures = [d for d in raised.value.details if d["code"] == "case-failed"]
    assert failures
    assert failures[0]["file"].endswith("repair.cases.yaml")
    assert "golden case 'a software fault skips the hardware check' fails: path:" in \
        failures[0]["message"]


def test_golden_cases_count_on_the_folders_calendar(configured: Seed, tmp_path: Path) -> None:
    """The folder's calendars/cn-workdays.yaml wins over the bundled one: with Mondays
    starting at 10:00 a software repair created Monday 09:00 is answered by 15:00."""
    admin = configured.request("admin")
    folder = tmp_path / "out"
    transfer.export(configured.db, admin, folder)
    shutil.copy(TEMPLATES / "repair.cases.yaml", folder)
    transfer.import_folder(configured.db, admin, folder, dry_run=True)  # the cases hold
    _break(folder / "calendars" / "cn-workdays.yaml", "09:00-12:00", "10:00-12:00")
    with pytest.raises(Invalid) as raised:
        transfer.import_folder(configured.db, admin, folder, dry_run=True)
    failures = [d["message"] for d in raised.value.details if d["code"] == "case-failed"]
    assert failures[0] == (
        "golden case 'a software fault skips the hardware check' fails: "
        "due.first_response: expected 2026-11-23T14:00:00+08:00, got 2026-11-23T15:00:00+08:00; "
        "due.resolution: expected 2026-11-24T18:00:00+08:00, got 2026-11-25T10:00:00+08:00")


# (how the exported calendar is broken, the expected pointer and code)
BROKEN_CALENDARS = [
    (("09:00-12:00", "09:00-12:60"), "/hours/mon/0", "bad-value"),
    (("timezone: Asia/Shanghai", "timezone: Asia/Atlantis"), "/timezone", "unknown-time-zone"),
    (("calendar: cn-workdays", "calendar: cn-weekdays"), "/calendar", "bad-id"),
]


@pytest.mark.parametrize(("change", "pointer", "code"), BROKEN_CALENDARS,
                         ids=["bad-hours", "unknown-zone", "id-is-not-the-file-name"])
def test_a_broken_calendar_is_located(configured: Seed, tmp_path: Path,
                                      change: tuple[str, str], pointer: str,
                                      code: str) -> None:
    folder = tmp_path / "out"
    transfer.export(configured.db, configured.request("admin"), folder)
    line = _break(folder / "calendars" / "cn-workdays.yaml", *change)
    with pytest.raises(Invalid) as raised:
        transfer.import_folder(configured.db, configured.request("admin"), folder,
                               dry_run=True)
    assert [(Path(d["file"]).name, d["line"], d["pointer"], d["code"])
            for d in raised.value.details] == [("cn-workdays.yaml", line, pointer, code)]


def test_clashing_prefixes_and_ids_are_reported(configured: Seed, tmp_path: Path) -> None:
    admin = configured.request("admin")
    folder = tmp_path / "out"
    transfer.export(configured.db, admin, folder)
    copy = folder / "repair-copy.yaml"
    shutil.copy(folder / "service.yaml", copy)
    _break(copy, "ticket_type: service", "ticket_type: service-copy")
    with pytest.raises(Invalid) as raised:
        transfer.import_folder(configured.db, admin, folder)
    assert [(Path(d["file"]).name, d["pointer"]) for d in raised.value.details] == [
        ("service.yaml", "/number_prefix")]


def test_only_admins_export_or_import(configured: Seed, tmp_path: Path) -> None:
    with pytest.raises(Forbidden):
        transfer.export(configured.db, configured.request("zhao"), tmp_path)
    with pytest.raises(Forbidden):
        transfer.import_folder(configured.db, configured.request("zhao"), tmp_path)
