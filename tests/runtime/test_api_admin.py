"""Administrators change users over the API, and every admin action is in the audit log."""

from __future__ import annotations

import pytest

from tests.runtime.conftest import PASSWORD
from tests.runtime.test_api_support import Api


@pytest.fixture
def api(client, token_for) -> Api:
    return Api(client, token_for)


def test_disabling_a_user_ends_their_tokens_at_once(api: Api):
    api.token("wang")
    assert api.get("/me", "wang").status_code == 200
    changed = api.patch("/users/wang", "admin", json={"active": False})
    assert changed.status_code == 200
    assert changed.get_json()["user"]["active"] is False
    assert api.get("/me", "wang").status_code == 401
    assert api.patch("/users/wang", "admin", json={"active": True}).status_code == 200
    assert api.get("/me", "wang").status_code == 200


def test_role_and_team_changes_are_recorded(api: Api):
    changed = api.patch("/users/sun", "admin", json={"role": "supervisor", "teams": ["repair"]})
    assert changed.status_code == 200
    assert (changed.get_json()["user"]["role"], changed.get_json()["user"]["teams"]) == (
        "supervisor", ["repair"])
    log = api.get("/audit?kind=role_changed", "admin").get_json()["items"]
    assert log[0]["data"] == {"username": "sun", "from": "agent", "to": "supervisor",
                              "teams": ["repair"]}
    assert log[0]["actor"] == "admin"


@pytest.mark.parametrize(("user", "path", "body", "status"), [
    ("wang", "/users/chen", {"active": False}, 403),
    ("admin", "/users/nobody", {"active": False}, 404),
    ("admin", "/users/chen", {"role": "boss"}, 422),
    ("admin", "/users/chen", {"colour": "red"}, 422),
    ("admin", "/users/chen", {"teams": ["nope"]}, 422),
], ids=["not-admin", "unknown-user", "bad-role", "unknown-member", "unknown-team"])
def test_refused_changes(api: Api, user: str, path: str, body: dict, status: int):
    assert api.patch(path, user, json=body).status_code == status
    assert api.get("/me", "chen").get_json()["user"]["role"] == "agent"


def test_audit_log_pages_through_every_event_for_admins_only(api: Api, client):
    api.new_ticket()
    client.post("/login", data={"username": "wang", "password": PASSWORD})
    assert api.get("/audit", "wang").status_code == 403
    first = api.get("/audit?limit=2", "admin").get_json()
    assert len(first["items"]) == 2
    rest = api.get(f"/audit?before={first['next_before']}&limit=200", "admin").get_json()
    kinds = [e["kind"] for e in first["items"] + rest["items"]]
    assert {"created", "definition_published", "token_created"} <= set(kinds)
    ids = [e["id"] for e in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)
    assert api.get("/audit?before=0", "admin").status_code == 400


def test_a_change_that_fails_in_part_changes_nothing(api: Api):
    refused = api.patch("/users/chen", "admin",
                        json={"active": False, "role": "supervisor", "teams": ["nope"]})
    assert refused.status_code == 422
    assert api.get("/me", "chen").get_json()["user"]["active"] is True
    assert api.get("/me", "chen").get_json()["user"]["role"] == "agent"
