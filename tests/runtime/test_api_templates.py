"""Templates over the REST API: list, install (idempotent), clone (201 + Location, refused
onto an existing id), admins only, and the semantic diff between published versions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.runtime.test_api_support import Api, error_of, snapshot


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


def test_staff_list_the_templates_in_their_language(api: Api) -> None:
    response = api.get("/templates", "wang")
    assert response.status_code == 200
    items = {item["name"]: item for item in response.get_json()["items"]}
    assert sorted(items) == ["after-sales", "it-support", "production-process", "repair",
                             "service"]
    assert items["repair"]["state"] == "current"
    assert items["service"]["golden_cases"] >= 3
    assert api.get("/templates", "li").status_code == 403


def test_install_is_idempotent(api: Api) -> None:
    first = api.post("/templates/service/install", "admin")
    assert first.status_code == 200
    assert first.get_json()["result"]["action"] == "installed"
    assert "service-desk" in first.get_json()["result"]["missing_teams"]
    again = api.post("/templates/service/install", "admin", json={"upgrade": True})
    assert again.get_json()["result"]["action"] == "unchanged"
    listed = api.get("/definitions", "admin").get_json()["items"]
    assert [(d["key"], d["version"]) for d in listed if d["key"] == "service"] == \
        [("service", 1)]


def test_clone_answers_201_with_where_the_copy_is(api: Api) -> None:
    response = api.post("/templates/repair/clone", "admin", json={
        "as": "printer-repair", "prefix": "PRT", "name": {"en": "Printer repair",
                                                         "zh": "打印机维修"}})
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/v1/definitions/printer-repair"
    source = api.get("/definitions/printer-repair", "admin").get_json()["source"]
    assert "number_prefix: PRT" in source
    assert "打印机维修" in source


@pytest.mark.parametrize(("user", "path", "body", "status", "code"), [
    ("zhao", "/templates/service/install", None, 403, "forbidden"),
    ("admin", "/templates/servise/install", None, 404, "unknown-template"),
    ("admin", "/templates/repair/clone", {"as": "repair"}, 409, "ticket-type-exists"),
    ("admin", "/templates/repair/clone", {"as": "Repair!"}, 422, "invalid"),
    ("admin", "/templates/repair/clone", {"as": "x", "name": {"fr": "x"}}, 422, "invalid"),
    ("admin", "/templates/repair/install", {"upgrade": "yes"}, 422, "invalid"),
], ids=["not-admin", "unknown", "existing-id", "bad-id", "bad-name", "bad-flag"])
def test_refusals_change_nothing(api: Api, user: str, path: str, body: dict | None,
                                 status: int, code: str) -> None:
    api.token(user)  # issuing the token is a change of its own
    before = snapshot(api.client.application.extensions["ticketflow"].db)
    response = api.post(path, user, json=body) if body is not None else api.post(path, user)
    assert response.status_code == status
    assert error_of(response)["code"] == code
    assert snapshot(api.client.application.extensions["ticketflow"].db) == before


def test_diff_between_published_versions(api: Api) -> None:
    source = api.get("/definitions/repair", "admin").get_json()["source"]
    changed = (source.replace("\nversion: 1\n", "\nversion: 2\n")
               .replace("within: 30d", "within: 14d")
               .replace("  - id: contact_email\n", "  - {id: vip, type: boolean}\n"
                        "  - id: contact_email\n"))
    assert api.put("/definitions/repair/draft", "admin",
                   json={"source": changed}).status_code == 200
    assert api.post("/definitions/repair/publish", "admin").status_code == 200
    response = api.get("/definitions/repair/diff", "wang")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["from"], body["to"]) == (1, 2)
    assert body["text"] == ["~ definition: version: 1 → 2", "+ field vip",
                            "~ duplicate check: within: 30d → 14d"]
    assert api.get("/definitions/repair/diff?from=1&to=7", "wang").status_code == 404
    assert api.get("/definitions/repair/diff", "li").status_code == 404
