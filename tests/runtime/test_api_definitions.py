"""Definition endpoints, on SQLite and PostgreSQL: list, read a version's source,
validate, save a draft, publish (or be refused with the engine's located issues).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import yaml
from flask.testing import FlaskClient

from runtime.services import audit
from tests.conftest import MINIMAL, TEMPLATES
from tests.runtime.conftest import Seed
from tests.runtime.test_api_support import Api, error_of

REPAIR = (TEMPLATES / "repair.yaml").read_text(encoding="utf-8")
REPAIR_V2 = REPAIR.replace("\nversion: 1\n", "\nversion: 2\n")
BROKEN_V2 = REPAIR_V2.replace("to: resolved\n", "to: resolvd\n")


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


@pytest.mark.parametrize("user", ["li", "wang", "admin"])
def test_list(api: Api, user: str) -> None:
    response = api.get("/definitions", user)
    assert response.status_code == 200
    assert response.get_json() == {"items": [{
        "key": "repair", "number_prefix": "REP", "draft": False, "version": 1,
        "name": "Repair order"}]}


QUERIES = [
    ("", 200, 1, "published"),
    ("?version=1", 200, 1, "published"),
    ("?version=2", 404, None, None),
    ("?draft=true", 404, None, None),
    ("?draft=false", 200, 1, "published"),
]


@pytest.mark.parametrize(("query", "status", "version", "kind"), QUERIES,
                         ids=["newest", "version 1", "no version 2", "no draft yet",
                              "draft=false"])
def test_read_the_source(api: Api, query: str, status: int, version: int | None,
                         kind: str | None) -> None:
    response = api.get(f"/definitions/repair{query}", "wang")
    assert response.status_code == status
    if status == 200:
        body = response.get_json()
        assert (body["definition"]["version"], body["definition"]["status"]) == (version, kind)
        assert body["definition"]["format"] == "yaml"
        assert body["source"] == REPAIR


SOURCES = [
    (REPAIR, "yaml", True),
    (json.dumps(yaml.safe_load(MINIMAL)), "json", True),
    (BROKEN_V2, "yaml", False),
    ("ticket_type: [", "yaml", False),
]


@pytest.mark.parametrize(("source", "source_format", "valid"), SOURCES,
                         ids=["repair template", "JSON", "unknown state", "unreadable"])
def test_validate(api: Api, source: str, source_format: str, valid: bool) -> None:
    response = api.post("/definitions/validate", "wang",
                        json={"source": source, "format": source_format})
    assert response.status_code == 200
    body = response.get_json()
    assert body["valid"] is valid
    assert bool(body["issues"]) is not valid
    for issue in body["issues"]:
        assert {"code", "message", "pointer", "line", "column"} <= set(issue)


def test_an_unknown_state_is_located(api: Api) -> None:
    issues = api.post("/definitions/validate", "wang",
                      json={"source": BROKEN_V2}).get_json()["issues"]
    line = BROKEN_V2.splitlines().index("    to: resolvd") + 1
    assert [(i["code"], i["line"]) for i in issues] == [("unknown-state", line)]


def test_draft_then_publish_a_new_version(api: Api) -> None:
    saved = api.put("/definitions/repair/draft", "admin", json={"source": REPAIR_V2})
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json() == {"definition": {
        **saved.get_json()["definition"], "key": "repair", "version": 2, "status": "draft",
        "format": "yaml", "published_at": None}, "issues": []}
    draft = api.get("/definitions/repair?draft=true", "admin").get_json()
    assert (draft["definition"]["status"], draft["source"]) == ("draft", REPAIR_V2)
    assert api.get("/definitions", "admin").get_json()["items"][0]["draft"] is True
    published = api.post("/definitions/repair/publish", "admin")
    assert published.status_code == 200, published.get_json()
    definition = published.get_json()["definition"]
    assert (definition["version"], definition["status"]) == (2, "published")
    assert definition["published_at"] is not None
    assert api.new_ticket()["definition_version"] == 2


def test_a_draft_with_issues_is_kept_but_not_published(api: Api) -> None:
    saved = api.put("/definitions/repair/draft", "admin", json={"source": BROKEN_V2})
    assert saved.status_code == 200
    assert [i["code"] for i in saved.get_json()["issues"]] == ["unknown-state"]
    refused = api.post("/definitions/repair/publish", "admin")
    assert refused.status_code == 422
    error = error_of(refused)
    assert [(d["code"], d["pointer"]) for d in error["details"]] == [
        ("unknown-state", "/transitions/4/to")]
    assert error["details"][0]["line"] is not None
    assert api.get("/definitions/repair", "admin").get_json()["definition"]["version"] == 1


def test_a_discarded_draft_leaves_the_published_version_and_an_audit_entry(
        api: Api, seed: Seed) -> None:
    api.put("/definitions/repair/draft", "admin", json={"source": BROKEN_V2})
    assert api.delete("/definitions/repair/draft", "wang").status_code == 403
    assert api.delete("/definitions/repair/draft", "admin").status_code == 204
    assert api.get("/definitions/repair?draft=true", "admin").status_code == 404
    assert api.get("/definitions", "admin").get_json()["items"][0]["draft"] is False
    assert api.get("/definitions/repair", "admin").get_json()["definition"]["version"] == 1
    assert error_of(api.delete("/definitions/repair/draft", "admin"))["code"] == "not-found"
    entries = audit.entries(seed.db, seed.request("admin"),
                            kind="definition_draft_discarded").items
    assert [entry.data for entry in entries] == [{"ticket_type": "repair"}]


def test_publishing_a_version_twice_is_a_conflict(api: Api) -> None:
    api.put("/definitions/repair/draft", "admin", json={"source": REPAIR})
    response = api.post("/definitions/repair/publish", "admin")
    assert response.status_code == 409
    assert "version: 2" in error_of(response)["message"]


def test_a_new_type_in_json(api: Api) -> None:
    source = json.dumps(yaml.safe_load(MINIMAL))
    saved = api.put("/definitions/demo/draft", "admin",
                    json={"source": source, "format": "json"})
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["definition"]["format"] == "json"
    assert api.post("/definitions/demo/publish", "admin").status_code == 200
    created = api.post("/tickets", "li", json={"ticket_type": "demo",
                                               "values": {"title": "hello"}})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["ticket"]["number"] == "DEM-000001"
    assert created.get_json()["ticket"]["state"] == "done"




def test_publishing_warns_of_teams_the_installation_lacks(client, token_for) -> None:
    """The repair template routes critical tickets to team `senior`, which the test
    installation lacks: publishing says so, located, and still publishes."""
    from tests.conftest import TEMPLATES

    source = (TEMPLATES / "repair.yaml").read_text(encoding="utf-8").replace(
        "version: 1", "version: 2", 1)
    headers = {"Authorization": f"Bearer {token_for('admin')}"}
    assert client.put("/api/v1/definitions/repair/draft", headers=headers,
                      json={"source": source}).status_code == 200
    published = client.post("/api/v1/definitions/repair/publish", headers=headers)
    assert published.status_code == 200
    [warning] = published.get_json()["warnings"]
    assert (warning["code"], warning["severity"], warning["pointer"]) == (
        "unknown-team", "warning", "/assignment/0/team")
    assert warning["line"] is not None
