"""Account endpoints, on SQLite and PostgreSQL: who am I, users and teams by role, and
API tokens (shown once, revocable, expiring).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.runtime.test_api_support import Api, error_of

STAFF = ["admin", "chen", "sun", "wang", "zhao"]
EVERYONE = ["admin", "chen", "li", "sun", "wang", "zhao", "zhou"]


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


@pytest.mark.parametrize(("user", "role", "teams"), [
    ("li", "requester", []), ("wang", "agent", ["repair"]), ("zhao", "supervisor", ["repair"]),
    ("admin", "admin", []),
], ids=["requester", "agent", "supervisor", "admin"])
def test_me(api: Api, user: str, role: str, teams: list[str]) -> None:
    response = api.get("/me", user)
    assert response.status_code == 200
    assert response.get_json() == {"user": {
        "username": user, "display_name": user, "role": role, "email": None,
        "language": "en", "active": True, "teams": teams}}


@pytest.mark.parametrize(("user", "status", "listed"), [
    ("admin", 200, EVERYONE), ("zhao", 200, STAFF), ("wang", 200, STAFF), ("li", 403, None),
], ids=["admin sees everyone", "supervisor sees staff", "agent sees staff",
        "requester may not"])
def test_list_users(api: Api, user: str, status: int, listed: list[str] | None) -> None:
    response = api.get("/users", user)
    assert response.status_code == status
    if listed is not None:
        assert [u["username"] for u in response.get_json()["items"]] == listed
        assert all("password_hash" not in u for u in response.get_json()["items"])


def test_add_a_user(api: Api) -> None:
    response = api.post("/users", "admin", json={
        "username": "qian", "role": "agent", "password": "long-enough-pass",
        "display_name": "钱", "email": "qian@example.cn", "language": "zh",
        "teams": ["network"]})
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"user": {
        "username": "qian", "display_name": "钱", "role": "agent",
        "email": "qian@example.cn", "language": "zh", "active": True, "teams": ["network"]}}
    assert "qian" in [u["username"] for u in api.get("/users", "wang").get_json()["items"]]


def test_teams(api: Api) -> None:
    assert api.get("/teams", "wang").get_json() == {"items": [
        {"key": "network", "name": "Network"}, {"key": "repair", "name": "Repair"}]}
    created = api.post("/teams", "admin", json={"key": "senior", "name": "Senior"})
    assert created.status_code == 201
    assert created.get_json() == {"team": {"key": "senior", "name": "Senior"}}
    assert len(api.get("/teams", "zhao").get_json()["items"]) == 3


def _new_token(api: Api, user: str, **body: Any) -> dict[str, Any]:
    response = api.post("/tokens", user, json={"name": "ci", **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def _me(api: Api, token: str) -> int:
    return api.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_token_is_shown_once_and_works_until_revoked(api: Api) -> None:
    token = _new_token(api, "li")
    assert token["token"].startswith("tf_")
    assert (token["name"], token["expires_at"]) == ("ci", None)
    assert _me(api, token["token"]) == 200
    revoked = api.delete(f"/tokens/{token['id']}", "li")
    assert revoked.status_code == 204
    assert revoked.data == b""
    assert _me(api, token["token"]) == 401


@pytest.mark.parametrize(("revoker", "status"), [("zhou", 404), ("wang", 404), ("admin", 204)],
                         ids=["another requester", "an agent", "an admin"])
def test_only_the_owner_or_an_admin_revokes(api: Api, revoker: str, status: int) -> None:
    token = _new_token(api, "li")
    response = api.delete(f"/tokens/{token['id']}", revoker)
    assert response.status_code == status
    assert _me(api, token["token"]) == (401 if status == 204 else 200)
    if status == 404:
        assert error_of(response)["code"] == "not-found"


def test_a_token_expires(api: Api, seed: Any) -> None:
    token = _new_token(api, "li", expires_at="2026-11-23T10:00:00+08:00")  # START + 1 h
    assert token["expires_at"] == "2026-11-23T02:00:00+00:00"
    assert _me(api, token["token"]) == 200
    seed.clock.advance(minutes=61)
    assert _me(api, token["token"]) == 401
