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


def _listed(api: Api, caller: str, query: str = "") -> list[dict[str, Any]]:
    response = api.get(f"/tokens{query}", caller)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_the_token_list_shows_every_token_of_the_caller_never_a_secret(api: Api,
                                                                       seed: Any) -> None:
    kept = _new_token(api, "li", name="monitoring")
    revoked = _new_token(api, "li", name="old script")
    expiring = _new_token(api, "li", name="trial", expires_at="2026-11-23T10:00:00+08:00")
    api.delete(f"/tokens/{revoked['id']}", "li")
    _new_token(api, "zhou", name="not li's")
    seed.clock.advance(minutes=61)  # the trial token has expired
    listed = _listed(api, "li")
    # Newest first; the token the test client itself uses is li's too.
    assert [(t["name"], t["status"]) for t in listed] == [
        ("trial", "expired"), ("old script", "revoked"), ("monitoring", "active"),
        ("test", "active")]
    by_name = {t["name"]: t for t in listed}
    assert by_name["monitoring"]["prefix"] == kept["token"][:10]
    assert by_name["trial"]["expires_at"] == expiring["expires_at"]
    assert by_name["old script"]["revoked_at"] == "2026-11-23T01:00:00+00:00"
    assert all(t["user"] == "li" for t in listed)
    secrets = {kept["token"], revoked["token"], expiring["token"], api.token("li")}
    assert not any(secret in repr(listed) for secret in secrets)


@pytest.mark.parametrize(("caller", "query", "status", "owners"), [
    ("admin", "?user=li", 200, {"li"}),
    ("admin", "", 200, {"admin"}),
    ("wang", "?user=li", 404, None),
    ("li", "?user=li", 200, {"li"}),
    ("admin", "?user=nobody", 404, None),
], ids=["an admin reads anyone's", "an admin's own by default", "an agent may not",
        "one's own by name", "an unknown user"])
def test_whose_tokens_may_be_listed(api: Api, caller: str, query: str, status: int,
                                    owners: set[str] | None) -> None:
    _new_token(api, "li")
    response = api.get(f"/tokens{query}", caller)
    assert response.status_code == status
    if owners is None:
        assert error_of(response)["code"] == "not-found"
    else:
        assert {t["user"] for t in response.get_json()["items"]} == owners


def test_a_token_notes_its_last_use_to_within_the_hour(api: Api, seed: Any) -> None:
    token = _new_token(api, "li", name="poller")

    def last_used() -> str | None:
        return next(t["last_used_at"] for t in _listed(api, "admin", "?user=li")
                    if t["id"] == token["id"])

    assert last_used() is None
    assert _me(api, token["token"]) == 200
    first = last_used()
    assert first == "2026-11-23T01:00:00+00:00"
    seed.clock.advance(minutes=59)
    assert _me(api, token["token"]) == 200
    assert last_used() == first  # not rewritten on every call
    seed.clock.advance(minutes=2)
    assert _me(api, token["token"]) == 200
    assert last_used() == "2026-11-23T02:01:00+00:00"


def test_revoking_twice_records_one_event(api: Api) -> None:
    token = _new_token(api, "li")
    assert api.delete(f"/tokens/{token['id']}", "li").status_code == 204
    assert api.delete(f"/tokens/{token['id']}", "li").status_code == 204
    events = api.get("/audit?kind=token_revoked", "admin").get_json()["items"]
    assert [e["data"] for e in events] == [{"token": token["id"]}]
