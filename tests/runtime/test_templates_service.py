"""The templates service: list, install (idempotent, upgrades offered), clone (own id and
prefix, origin recorded, untouched by upgrades), customise through versioned publishing.
On SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from runtime.models import ConfigDocument, Definition, DefinitionVersion, Event
from runtime.services import definitions, templates, tickets
from runtime.services.errors import Conflict, Forbidden, Invalid, NotFound
from runtime.services.templates import InstallState
from tests.conftest import TEMPLATES
from tests.runtime.conftest import Seed

BUNDLED = ["after-sales", "it-support", "production-process", "repair", "service"]

SOFTWARE_FAULT = {"device": "LAP-0107", "category": "laptop", "fault": "software",
                  "description": "Blue screen after the update.",
                  "contact_phone": "+86 138 0013 8000"}


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A copy of the template library that a test may 'upgrade'."""
    copy = tmp_path / "library"
    shutil.copytree(TEMPLATES, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return copy


def _bump(library: Path, name: str, version: int, edit: tuple[str, str] | None = None) -> None:
    path = library / f"{name}.yaml"
    text = path.read_text(encoding="utf-8").replace("\nversion: 1\n", f"\nversion: {version}\n")
    if edit:
        assert edit[0] in text
        text = text.replace(*edit)
    path.write_text(text, encoding="utf-8")


def _versions(seed: Seed, key: str) -> list[int]:
    with seed.db.read() as session:
        return list(session.scalars(
            select(DefinitionVersion.version).join(Definition)
            .where(Definition.key == key, DefinitionVersion.status == "published")
            .order_by(DefinitionVersion.version)))


def _events(seed: Seed, kind: str) -> list[dict]:
    with seed.db.read() as session:
        return [e.data for e in session.scalars(select(Event).where(Event.kind == kind))]


def test_lists_every_bundled_template_with_what_is_installed(seed: Seed) -> None:
    listed = {t.name: t for t in templates.list_templates(seed.db, seed.request("wang"))}
    assert sorted(listed) == BUNDLED
    # The seed published repair.yaml by hand: same source, so it counts as installed.
    assert listed["repair"].state is InstallState.CURRENT
    assert listed["service"].state is InstallState.NOT_INSTALLED
    for status in listed.values():
        assert status.has_page, status.name
        assert status.case_count >= 3, status.name
        assert set(status.title.texts) == {"en", "zh"}
    shown = listed["it-support"].to_dict("zh")
    assert (shown["title"], shown["ticket_type"], shown["version"]) == ("IT支持", "it-support", 1)


def test_requesters_may_not_list_templates(seed: Seed) -> None:
    with pytest.raises(Forbidden):
        templates.list_templates(seed.db, seed.request("li"))


@pytest.mark.parametrize("name", BUNDLED)
def test_installing_twice_does_not_duplicate(seed: Seed, name: str) -> None:
    admin = seed.request("admin")
    first = templates.install(seed.db, admin, name)
    second = templates.install(seed.db, admin, name)
    assert second.action == "unchanged"
    assert _versions(seed, first.key) == [1]
    if name != "repair":  # the seed installed repair already
        assert first.action == "installed"
        assert [e["template"] for e in _events(seed, "template_installed")] == [name]


def test_an_upgrade_is_offered_then_published_and_clones_are_untouched(
        seed: Seed, library: Path) -> None:
    admin = seed.request("admin")
    templates.install(seed.db, admin, "it-support", library=library)
    cloned = templates.clone(seed.db, admin, "it-support", "hr-it", prefix="HRIT",
                             library=library)
    _, clone_source = definitions.get_source(seed.db, admin, "hr-it")
    _bump(library, "it-support", 2, ("resolution: 2h}", "resolution: 1h}"))

    offered = templates.install(seed.db, admin, "it-support", library=library)
    assert (offered.action, offered.version) == ("upgrade-available", 1)
    assert _versions(seed, "it-support") == [1]

    upgraded = templates.install(seed.db, admin, "it-support", upgrade=True, library=library)
    assert (upgraded.action, upgraded.previous, upgraded.version) == ("upgraded", 1, 2)
    assert _versions(seed, "it-support") == [1, 2]
    assert templates.install(seed.db, admin, "it-support", library=library).action == \
        "unchanged"

    # The clone keeps its own source and version, and keeps working.
    assert cloned.key == "hr-it"
    assert _versions(seed, "hr-it") == [1]
    assert definitions.get_source(seed.db, admin, "hr-it")[1] == clone_source
    ticket = tickets.create(seed.db, seed.request("li"), "hr-it", {
        "category": "email", "location": "HR, 2F", "summary": "Mailbox full"})
    assert ticket.number == "HRIT-000001"
    assert ticket.state == "triage"
    status = {t.name: t for t in templates.list_templates(seed.db, admin, library)}
    assert status["it-support"].clones == ({"ticket_type": "hr-it", "from_version": 1},)


def test_a_template_changed_here_is_not_overwritten(seed: Seed, library: Path) -> None:
    admin = seed.request("admin")
    _, source = definitions.get_source(seed.db, admin, "repair")
    definitions.install(seed.db, admin, source.replace("\nversion: 1\n", "\nversion: 2\n")
                        .replace("within: 30d", "within: 60d"))
    _bump(library, "repair", 2)
    outcome = templates.install(seed.db, admin, "repair", upgrade=True, library=library)
    assert outcome.action == "changed"
    assert _versions(seed, "repair") == [1, 2]


def test_clone_gets_its_own_id_prefix_and_origin(seed: Seed) -> None:
    admin = seed.request("admin")
    outcome = templates.clone(seed.db, admin, "repair", "printer-repair",
                              title={"en": "Printer repair", "zh": "打印机维修"})
    assert (outcome.action, outcome.version) == ("cloned", 1)
    with seed.db.read() as session:
        row = session.scalar(select(Definition).where(Definition.key == "printer-repair"))
        assert (row.number_prefix, row.origin_template, row.origin_version) == \
            ("PRINTE", "repair", 1)
    _, source = definitions.get_source(seed.db, admin, "printer-repair")
    assert "# Cloned from the template 'repair' version 1 as 'printer-repair'." in source
    assert "# Repair order (维修工单)" in source  # the template's own comments stay
    view = tickets.create(seed.db, seed.request("li"), "printer-repair", SOFTWARE_FAULT)
    assert view.number == "PRINTE-000001"
    assert [e["ticket_type"] for e in _events(seed, "template_cloned")] == ["printer-repair"]


@pytest.mark.parametrize(("new_key", "prefix", "error", "code"), [
    ("repair", None, Conflict, "ticket-type-exists"),
    ("Repair Copy", None, Invalid, "invalid"),
    ("repair-copy", "rep", Invalid, "invalid"),
    ("repair-copy", "REP", Conflict, "conflict"),  # the prefix belongs to repair
], ids=["existing-id", "bad-id", "bad-prefix", "taken-prefix"])
def test_clone_is_refused_with_a_clear_reason(seed: Seed, new_key: str, prefix: str | None,
                                              error: type[Exception], code: str) -> None:
    with pytest.raises(error) as raised:
        templates.clone(seed.db, seed.request("admin"), "repair", new_key, prefix=prefix)
    assert raised.value.code == code
    with seed.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Definition)) == 1


def test_default_prefixes_do_not_collide(seed: Seed) -> None:
    admin = seed.request("admin")
    first = templates.clone(seed.db, admin, "service", "sales-desk")
    second = templates.clone(seed.db, admin, "service", "sales_desk")
    with seed.db.read() as session:
        prefixes = dict(session.execute(select(Definition.key, Definition.number_prefix)).all())
    assert prefixes[first.key] == "SALESD"
    assert prefixes[second.key] == "SALESD2"


def test_unknown_template_suggests_a_name(seed: Seed) -> None:
    with pytest.raises(NotFound) as raised:
        templates.install(seed.db, seed.request("admin"), "servise")
    assert "did you mean 'service'?" in raised.value.message


@pytest.mark.parametrize("act", [
    lambda seed: templates.install(seed.db, seed.request("zhao"), "service"),
    lambda seed: templates.clone(seed.db, seed.request("zhao"), "service", "copy"),
], ids=["install", "clone"])
def test_only_admins_install_or_clone(seed: Seed, act) -> None:
    with pytest.raises(Forbidden):
        act(seed)


def test_a_clone_is_customised_without_code(seed: Seed) -> None:
    """Add a field, tighten an SLA target, add a branch: a new version through the same
    validation and publishing as any definition."""
    admin = seed.request("admin")
    templates.clone(seed.db, admin, "it-support", "lab-it", prefix="LAB")
    _, source = definitions.get_source(seed.db, admin, "lab-it")
    changed = (source.replace("\nversion: 1\n", "\nversion: 2\n")
               .replace("fields:\n", "fields:\n  - {id: lab_room, type: string, "
                        "label: {en: Lab room, zh: 实验室}}\n", 1)
               .replace("resolution: 24h}", "resolution: 8h}")
               .replace("      - {state: triage}\n",
                        "      - {when: \"category == 'hardware'\", state: in_progress}\n"
                        "      - {state: triage}\n"))
    info = definitions.save_draft(seed.db, admin, changed)
    assert info.issues == ()
    assert definitions.publish(seed.db, admin, "lab-it").version == 2
    ticket = tickets.create(seed.db, seed.request("li"), "lab-it", {
        "category": "hardware", "location": "Lab 3", "lab_room": "3-101",
        "summary": "Oscilloscope PC will not boot"})
    assert (ticket.state, ticket.definition_version, ticket.values["lab_room"]) == \
        ("in_progress", 2, "3-101")

    broken = changed.replace("\nversion: 2\n", "\nversion: 3\n").replace(
        "state: in_progress}", "state: in_progres}")
    with pytest.raises(Invalid) as raised:
        definitions.install(seed.db, admin, broken)
    assert [d["code"] for d in raised.value.details] == ["unknown-state"]
    assert _versions(seed, "lab-it") == [1, 2]


def test_bundled_calendars_come_with_the_template(seed: Seed, library: Path) -> None:
    (library / "calendars").mkdir(exist_ok=True)
    (library / "calendars" / "cn-workdays.yaml").write_text(
        "calendar: cn-workdays\ntimezone: Asia/Shanghai\n", encoding="utf-8")
    outcome = templates.install(seed.db, seed.request("admin"), "service", library=library)
    assert outcome.calendars == ("cn-workdays",)
    with seed.db.read() as session:
        keys = list(session.scalars(select(ConfigDocument.key)))
    assert keys == ["cn-workdays"]
    again = templates.clone(seed.db, seed.request("admin"), "service", "vip-service",
                            library=library)
    assert again.calendars == ()
