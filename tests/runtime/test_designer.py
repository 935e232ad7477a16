"""The browser designer, on SQLite and PostgreSQL: administrators list the ticket types and
templates, start a type, edit a definition with the engine's located problems, its
changes and a live preview of its form, save it as a draft and publish it — and nothing
typed is lost when something is refused. Everyone else finds no such pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from runtime.services import definitions, tickets
from tests.runtime.conftest import TEMPLATES, Seed
from tests.runtime.test_auth import csrf_from, redirects_to_login
from tests.runtime.web_helpers import htmx_headers, log_in, text

INTAKE = (Path(__file__).parent.parent / "data" / "designer" / "intake.yaml").read_text(
    encoding="utf-8")
REPAIR = (TEMPLATES / "repair.yaml").read_text(encoding="utf-8")


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    log_in(client, "admin")
    return client


def _post(client: FlaskClient, path: str, **form: Any) -> TestResponse:
    return client.post(path, data={"csrf_token": csrf_from(client.get("/design/")), **form})


def _act(client: FlaskClient, key: str, source: str, action: str,
         source_format: str = "yaml") -> TestResponse:
    return _post(client, f"/design/{key}", source=source, action=action, format=source_format)


def _textarea(page: TestResponse) -> str:
    found = re.search(r'<textarea id="source"[^>]*>(.*?)</textarea>', text(page), re.S)
    assert found, "the page has no editor"
    return unescape(found.group(1))


def _issues(page: TestResponse) -> list[str]:
    return re.findall(r'<li data-code="([^"]+)"', text(page))


def _published(seed: Seed, key: str) -> int | None:
    entry = {e["key"]: e for e in definitions.list_definitions(seed.db, seed.request("admin"))}
    return entry[key].get("version") if key in entry else None


# --- who ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["zhao", "wang", "li"],
                         ids=["a supervisor", "an agent", "a customer"])
@pytest.mark.parametrize("path", ["/design/", "/design/repair", "/design/definition.schema.json"])
def test_only_administrators_find_the_designer(client: FlaskClient, who: str, path: str) -> None:
    log_in(client, who)
    assert client.get(path).status_code == 404
    assert "/design/" not in text(client.get("/", follow_redirects=True))


def test_the_designer_needs_a_browser_login(client: FlaskClient,
                                            token_for: Callable[[str], str]) -> None:
    assert redirects_to_login(client.get("/design/"))
    bearer = {"Authorization": f"Bearer {token_for('admin')}"}
    assert client.get("/design/", headers=bearer).status_code == 404


def test_administrators_reach_it_from_every_page(admin: FlaskClient) -> None:
    assert 'href="/design/"' in text(admin.get("/", follow_redirects=True))


# --- the list ----------------------------------------------------------------------------


def test_the_list_shows_the_types_and_what_is_installed_of_each_template(
        admin: FlaskClient) -> None:
    page = text(admin.get("/design/"))
    assert re.search(r'<tr id="type-repair">.*?REP.*?version 1', page, re.S)
    installed = re.search(r'<tr id="template-repair">(.*?)</tr>', page, re.S)
    assert installed
    assert "version 1" in installed.group(1)
    assert 'action="/design/templates/repair/install"' not in page
    assert 'action="/design/templates/service/install"' in page  # not installed here yet


def test_installing_and_copying_a_template(admin: FlaskClient, seed: Seed) -> None:
    installed = _post(admin, "/design/templates/service/install")
    assert installed.status_code == 302
    assert _published(seed, "service") == 1
    copied = _post(admin, "/design/templates/repair/clone", key="myrepair", prefix="MR")
    assert copied.location.endswith("/design/myrepair")
    assert _published(seed, "myrepair") == 1
    again = _post(admin, "/design/templates/repair/clone", key="myrepair", prefix="MR2")
    assert again.status_code == 302
    assert again.location.endswith("/design/")
    assert "exists" in text(admin.get("/design/"))  # the refusal, flashed


def test_starting_a_type_opens_its_draft(admin: FlaskClient, seed: Seed) -> None:
    started = _post(admin, "/design/new", key="visitor", name="访客登记 Visitors", prefix="VIS")
    assert started.location.endswith("/design/visitor")
    editor = admin.get("/design/visitor")
    assert "ticket_type: visitor" in _textarea(editor)
    assert 'name: "访客登记 Visitors"' in _textarea(editor)
    assert 'id="no-problems"' in text(editor)
    assert _published(seed, "visitor") is None  # a draft until published
    assert _act(admin, "visitor", _textarea(editor), "publish").status_code == 302
    ticket = tickets.create(seed.db, seed.request("li"), "visitor", {"title": "Badge for Wu"})
    assert (ticket.number, ticket.state) == ("VIS-000001", "working")


@pytest.mark.parametrize(("form", "status", "said"), [
    ({"key": "repair", "name": "Again", "prefix": "AGN"}, 409, "exists"),
    ({"key": "Bad Key", "name": "Bad", "prefix": "BAD"}, 422, "lower case"),
    ({"key": "noname", "name": " ", "prefix": "NON"}, 422, "name is missing"),
], ids=["a key in use", "a key that cannot be one", "no name"])
def test_a_refused_start_keeps_what_was_typed(admin: FlaskClient, seed: Seed,
                                              form: dict[str, str], status: int,
                                              said: str) -> None:
    page = _post(admin, "/design/new", **form)
    assert page.status_code == status
    assert said in text(page)
    assert f'value="{form["key"]}"' in text(page)
    assert _published(seed, "repair") == 1


# --- editing -----------------------------------------------------------------------------


def test_a_published_type_opens_as_its_next_version(admin: FlaskClient) -> None:
    page = admin.get("/design/repair")
    source = _textarea(page)
    assert re.search(r"^version: 2\b", source, re.M)
    assert source.replace("version: 2", "version: 1", 1) == REPAIR
    assert "Nothing but the version number differs from version 1." in text(page)


def test_checking_lists_every_problem_where_it_is(admin: FlaskClient) -> None:
    broken = INTAKE.replace("to: open}", "to: opened}").replace("kind == 'hardware'",
                                                               "knd == 'hardware'")
    page = _act(admin, "intake", broken, "check")
    assert page.status_code == 200
    assert sorted(_issues(page)) == ["unknown-name", "unknown-state"]
    line = next(n for n, text_ in enumerate(broken.splitlines(), 1) if "to: opened" in text_)
    assert f'data-goto-line="{line}"' in text(page)
    assert _textarea(page) == broken  # the text comes back as typed


def test_checking_by_htmx_answers_with_the_check_alone(admin: FlaskClient) -> None:
    headers = htmx_headers(admin, "/design/repair")
    page = admin.post("/design/repair", headers=headers,
                      data={"source": REPAIR, "action": "check", "format": "yaml"})
    body = text(page)
    assert body.lstrip().startswith('<section class="check" id="check"')
    assert _issues(page) == ["version-not-newer"]
    assert "publishing this needs version: 2" in unescape(body)


def test_the_changes_against_the_published_version(admin: FlaskClient) -> None:
    field = "  - {id: asset_tag, type: string, label: {en: Asset tag, zh: 资产标签}}\n"
    changed = _textarea(admin.get("/design/repair")).replace("fields:\n", "fields:\n" + field, 1)
    page = text(_act(admin, "repair", changed, "check"))
    assert "Version 1 → 2:" in unescape(page)
    assert "+ field asset_tag" in unescape(page)


def test_saving_a_draft_keeps_it_for_later_and_publishes_nothing(admin: FlaskClient,
                                                                  seed: Seed) -> None:
    draft = _textarea(admin.get("/design/repair")).replace("version: 2", "version: 2  # wip")
    saved = _act(admin, "repair", draft, "save")
    assert "The draft is saved." in text(saved)
    reopened = admin.get("/design/repair")
    assert _textarea(reopened) == draft
    assert "The saved draft" in text(reopened)
    assert _published(seed, "repair") == 1


def test_publishing_makes_the_next_version_that_new_tickets_use(admin: FlaskClient,
                                                                 seed: Seed) -> None:
    source = _textarea(admin.get("/design/repair"))
    published = _act(admin, "repair", source, "publish")
    assert published.status_code == 302
    assert "Version 2 of repair is published" in text(admin.get(published.location))
    assert _published(seed, "repair") == 2
    # The page now offers version 3, the text of version 2.
    assert re.search(r"^version: 3\b", _textarea(admin.get("/design/repair")), re.M)


@pytest.mark.parametrize(("change", "code"), [
    (lambda source: source.replace("version: 2", "version: 1"), "version-not-newer"),
    (lambda source: source.replace("initial: true", "initial: false"), "no-initial-state"),
], ids=["an old version number", "a definition the engine refuses"])
def test_a_refused_publication_keeps_the_text_as_the_draft(
        admin: FlaskClient, seed: Seed, change: Callable[[str], str], code: str) -> None:
    source = change(_textarea(admin.get("/design/repair")))
    refused = _act(admin, "repair", source, "publish")
    assert refused.status_code == 422
    assert code in _issues(refused)
    assert "It is saved as the draft" in text(refused)
    assert _textarea(refused) == source
    assert _published(seed, "repair") == 1
    assert _textarea(admin.get("/design/repair")) == source  # nothing typed was lost


def test_a_prefix_another_type_uses_is_refused_with_the_text_kept(admin: FlaskClient,
                                                                   seed: Seed) -> None:
    _post(admin, "/design/new", key="other", name="Other", prefix="OTH")
    _act(admin, "other", _textarea(admin.get("/design/other")), "publish")
    source = _textarea(admin.get("/design/repair")).replace("number_prefix: REP",
                                                             "number_prefix: OTH")
    refused = _act(admin, "repair", source, "publish")
    assert refused.status_code == 409
    assert "already used by" in unescape(text(refused))
    assert _textarea(refused) == source
    assert _published(seed, "repair") == 1


def test_a_definition_in_json(admin: FlaskClient, seed: Seed) -> None:
    import json

    import yaml

    data = yaml.safe_load(INTAKE)
    page = _act(admin, "intake", json.dumps(data, ensure_ascii=False, indent=2), "publish",
                source_format="json")
    assert page.status_code == 302
    assert _published(seed, "intake") == 1


@pytest.mark.parametrize("form", [
    {"action": "check", "format": "yaml"},
    {"action": "check", "format": "toml", "source": "ticket_type: x"},
    {"action": "check", "format": "yaml", "source": "x" * (512 * 1024 + 1)},
], ids=["no text", "an unknown format", "too much text"])
def test_a_hand_made_post_is_a_bad_request(admin: FlaskClient, form: dict[str, str]) -> None:
    assert _post(admin, "/design/repair", **form).status_code == 400


def test_an_unknown_type_is_not_there(admin: FlaskClient) -> None:
    assert admin.get("/design/nothing").status_code == 404


# --- the live preview --------------------------------------------------------------------


def _preview(client: FlaskClient, source: str, **values: str) -> str:
    headers = htmx_headers(client, "/design/repair")
    form = {"designer.source": source, "designer.format": "yaml", **values}
    form.update({f"present.{name}": "1" for name in values})
    return text(client.post("/design/intake/preview", headers=headers, data=form))


def _shown(page: str, field: str) -> bool:
    found = re.search(rf'<fieldset[^>]*id="w-preview-{field}"[^>]*>', page)
    assert found, f"the preview has no field {field}"
    return "hidden" not in found.group(0)


def test_the_preview_answers_as_a_customer_meets_the_form(admin: FlaskClient) -> None:
    editor = text(_act(admin, "intake", INTAKE, "check"))
    assert 'id="preview"' in editor
    assert not _shown(editor, "serial")
    hardware = _preview(admin, INTAKE, title="Printer", kind="hardware")
    assert _shown(hardware, "serial")
    software = _preview(admin, INTAKE, title="Mail", kind="software")
    assert not _shown(software, "serial")


def test_the_preview_of_a_broken_definition_says_so(admin: FlaskClient) -> None:
    page = _preview(admin, INTAKE.replace("initial: true", "initial: false"), title="x")
    assert "The definition has problems" in page


def test_the_schema_for_editors(admin: FlaskClient) -> None:
    response = admin.get("/design/definition.schema.json")
    assert response.status_code == 200
    assert response.mimetype == "application/schema+json"
    assert response.get_json()["$schema"].startswith("https://json-schema.org/")


# --- versions ----------------------------------------------------------------------------


def test_the_published_versions_with_their_changes_and_a_way_back(admin: FlaskClient,
                                                                 seed: Seed) -> None:
    field = "  - {id: asset_tag, type: string, label: {en: Asset tag, zh: 资产标签}}\n"
    v2 = _textarea(admin.get("/design/repair")).replace("fields:\n", "fields:\n" + field, 1)
    assert _act(admin, "repair", v2, "publish").status_code == 302
    page = admin.get("/design/repair")
    history = re.search(r'<section class="card" id="history">(.*?)</section>', text(page), re.S)
    assert history
    entries = re.findall(r'<li id="version-(\d+)">', history.group(1))
    assert entries == ["2", "1"]
    assert "+ field asset_tag" in unescape(history.group(1))
    # Starting again from version 1: its text, numbered 3, and the field gone again.
    back = admin.get("/design/repair?from=1")
    source = _textarea(back)
    assert re.search(r"^version: 3\b", source, re.M)
    assert "asset_tag" not in source
    assert "- field asset_tag" in unescape(text(back))  # what publishing it would change
    assert admin.get("/design/repair?from=7").status_code == 404


# --- discarding a draft ------------------------------------------------------------------


def test_discarding_a_draft_goes_back_to_the_published_version(admin: FlaskClient,
                                                               seed: Seed) -> None:
    draft = _textarea(admin.get("/design/repair")).replace("version: 2", "version: 2  # wip")
    _act(admin, "repair", draft, "save")
    assert 'id="discard"' in text(admin.get("/design/repair"))
    discarded = _post(admin, "/design/repair/discard")
    assert discarded.location.endswith("/design/repair")
    reopened = admin.get("/design/repair")
    assert "# wip" not in _textarea(reopened)
    assert 'id="discard"' not in text(reopened)  # nothing left to discard
    assert _published(seed, "repair") == 1
    assert _post(admin, "/design/repair/discard").status_code == 404


def test_discarding_a_type_never_published_removes_it(admin: FlaskClient, seed: Seed) -> None:
    _post(admin, "/design/new", key="scratch", name="Scratch", prefix="SCR")
    assert _post(admin, "/design/scratch/discard").location.endswith("/design/")
    assert "type-scratch" not in text(admin.get("/design/"))
    assert admin.get("/design/scratch").status_code == 404
    again = _post(admin, "/design/new", key="scratch", name="Scratch", prefix="SCR")
    assert again.status_code == 302  # the key is free again


# --- adding a field without writing YAML -------------------------------------------------


def _add(client: FlaskClient, source: str, **field: str) -> TestResponse:
    return _post(client, "/design/intake", source=source, format="yaml", action="add_field",
                 **field)


def test_a_field_added_from_the_form_joins_the_text_and_the_preview(admin: FlaskClient) -> None:
    page = _add(admin, INTAKE, field_label="Building", field_label_zh="楼栋",
                field_type="choice", field_required="1", field_options="North wing\nSouth wing\n")
    assert page.status_code == 200
    source = _textarea(page)
    assert ("  - {id: building, type: choice, label: {en: Building, zh: 楼栋}, required: true, "
            "options: [{value: north_wing, label: {en: North wing}}, {value: south_wing, "
            "label: {en: South wing}}]}") in source
    added = next(line for line in source.splitlines() if "id: building" in line)
    assert source.replace(added + "\n", "") == INTAKE  # nothing else moved
    assert 'id="no-problems"' in text(page)
    assert 'id="w-preview-building"' in text(page)


@pytest.mark.parametrize(("field", "said"), [
    ({"field_label": "", "field_type": "string"}, "Give it a label."),
    ({"field_label_zh": "楼栋", "field_type": "string"}, "Give it an id"),
    ({"field_label": "Size", "field_type": "choice"}, "A choice needs its options"),
], ids=["no label", "no id to make from the label", "a choice without options"])
def test_a_field_that_cannot_be_added_leaves_the_text_as_it_was(
        admin: FlaskClient, field: dict[str, str], said: str) -> None:
    page = _add(admin, INTAKE, **field)
    assert page.status_code == 422
    assert said in unescape(text(page))
    assert _textarea(page) == INTAKE
    assert 'id="add-field" open' in text(page)


def test_a_field_the_engine_refuses_is_added_and_located(admin: FlaskClient) -> None:
    page = _add(admin, INTAKE, field_label="Title", field_type="string")  # the id is taken
    assert "id: title, type: string, label: {en: Title}}" in _textarea(page)
    assert _issues(page) == ["duplicate-id"]


def test_a_step_and_a_way_there_from_the_forms(admin: FlaskClient, seed: Seed) -> None:
    page = _post(admin, "/design/intake", source=INTAKE, format="yaml", action="add_state",
                 state_label="Waiting for parts", state_label_zh="等待配件", state_sla="pause")
    source = _textarea(page)
    assert ("  - {id: waiting_for_parts, label: {en: Waiting for parts, zh: 等待配件}, "
            "sla: pause}") in source
    assert _issues(page) == ["unreachable-state"]  # nothing leads there yet
    offered = re.search(r'<details class="add-item" id="add-transition".*?</details>',
                        text(page), re.S)
    assert offered  # the text does not compile, yet the way there can be added
    assert '<option value="waiting_for_parts"' in offered.group(0)
    page = _post(admin, "/design/intake", source=source, format="yaml",
                 action="add_transition", transition_label="Order parts",
                 transition_from="open", transition_to="waiting_for_parts",
                 transition_roles="agent")
    source = _textarea(page)
    assert ("  - {id: order_parts, label: {en: Order parts}, from: open, "
            "to: waiting_for_parts, roles: [agent]}") in source
    assert _issues(page) == ["dead-end"]  # and nothing leads on from it
    page = _post(admin, "/design/intake", source=source, format="yaml",
                 action="add_transition", transition_label="Parts arrived",
                 transition_from="waiting_for_parts", transition_to="open")
    assert 'id="no-problems"' in text(page)
    assert _act(admin, "intake", _textarea(page), "publish").status_code == 302
    assert _published(seed, "intake") == 1


@pytest.mark.parametrize(("form", "said"), [
    ({"action": "add_state", "state_label": ""}, "Give it a label."),
    ({"action": "add_transition", "transition_label": "Go", "transition_to": "done"},
     "Say which steps it leaves from"),
], ids=["a step without a label", "a way on from nowhere"])
def test_an_item_that_cannot_be_added_says_why_and_keeps_the_text(
        admin: FlaskClient, form: dict[str, str], said: str) -> None:
    page = _post(admin, "/design/intake", source=INTAKE, format="yaml", **form)
    assert page.status_code == 422
    assert said in text(page)
    assert _textarea(page) == INTAKE
