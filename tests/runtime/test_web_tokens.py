"""The API tokens page: a person issues a token for a program, sees its secret on that
one answer only, finds it again in the list by name and first characters, and revokes it;
on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.runtime.conftest import Seed
from tests.runtime.test_auth import alert_of, csrf_from, redirects_to_login
from tests.runtime.web_helpers import log_in, text

PAGE = "/account/tokens"


def _issue(client: FlaskClient, name: str = "monitoring", days: str = "90") -> TestResponse:
    token = csrf_from(client.get(PAGE))
    return client.post(PAGE, data={"csrf_token": token, "name": name, "days": days})


def _secret(response: TestResponse) -> str:
    found = re.search(r'id="issued-token"[^>]*value="(tf_[^"]+)"', text(response))
    assert found, "the answer shows no new token"
    return found.group(1)


def _me(client: FlaskClient, secret: str) -> int:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code


def test_a_new_token_is_shown_once_and_works(app, client: FlaskClient) -> None:
    log_in(client, "wang")
    issued = _issue(client, "monitoring", "30")
    assert issued.status_code == 201
    assert issued.headers["Cache-Control"] == "no-store"
    secret = _secret(issued)
    assert "Copy it now: it is not shown again." in text(issued)
    assert "It works until" in text(issued)
    assert _me(app.test_client(), secret) == 200
    listing = text(client.get(PAGE))
    assert secret not in listing  # the list knows the token by name and first characters
    assert "monitoring" in listing
    assert f"{secret[:10]}…" in listing


@pytest.mark.parametrize(("days", "expires"), [("7", True), ("0", False)],
                         ids=["a week", "until revoked"])
def test_the_chosen_lifetime_is_kept(client: FlaskClient, days: str, expires: bool) -> None:
    log_in(client, "li")
    page = text(_issue(client, days=days))
    assert ("It works until" in page) is expires
    assert ("no expiry" in page) is not expires


def test_revoking_from_the_page_stops_the_program(app, client: FlaskClient) -> None:
    log_in(client, "wang")
    secret = _secret(_issue(client))
    token_id = re.search(r'id="token-(\d+)"', text(client.get(PAGE)))
    assert token_id
    response = client.post(f"{PAGE}/{token_id.group(1)}/revoke",
                           data={"csrf_token": csrf_from(client.get(PAGE))},
                           follow_redirects=True)
    assert "The token was revoked" in text(response)
    assert 'class="token-revoked"' in text(response)
    assert _me(app.test_client(), secret) == 401


def test_nobody_revokes_anothers_token_from_the_page(client: FlaskClient,
                                                     token_for: Callable[[str], str],
                                                     seed: Seed) -> None:
    from runtime.services import accounts

    token_for("li")
    others = accounts.list_tokens(seed.db, seed.request("li"))
    log_in(client, "wang")
    response = client.post(f"{PAGE}/{others[0].id}/revoke",
                           data={"csrf_token": csrf_from(client.get(PAGE))})
    assert response.status_code == 404
    assert accounts.list_tokens(seed.db, seed.request("li"))[0].status == "active"
    assert f'id="token-{others[0].id}"' not in text(client.get(PAGE))


@pytest.mark.parametrize(("name", "status", "alert"), [
    ("", 422, "Give the token a name of up to 100 characters."),
    ("x" * 101, 422, "Give the token a name of up to 100 characters."),
], ids=["no name", "too long"])
def test_a_token_needs_a_name(client: FlaskClient, seed: Seed, name: str, status: int,
                              alert: str) -> None:
    from runtime.services import accounts

    log_in(client, "wang")
    response = _issue(client, name)
    assert response.status_code == status
    assert alert_of(response) == alert
    assert accounts.list_tokens(seed.db, seed.request("wang")) == []


def test_a_hand_made_lifetime_is_a_bad_request(client: FlaskClient) -> None:
    log_in(client, "wang")
    assert _issue(client, days="10000").status_code == 400


def test_the_page_needs_a_browser_login(client: FlaskClient,
                                        token_for: Callable[[str], str]) -> None:
    assert redirects_to_login(client.get(PAGE))
    bearer = {"Authorization": f"Bearer {token_for('wang')}"}
    assert client.get(PAGE, headers=bearer).status_code == 403
    assert client.post(PAGE, headers=bearer, data={"name": "x", "days": "7"}).status_code == 403


def test_the_page_in_chinese(client: FlaskClient) -> None:
    log_in(client, "wang")
    client.post("/language", data={"csrf_token": csrf_from(client.get(PAGE)), "lang": "zh",
                                   "next": PAGE})
    page = text(_issue(client, "监控"))
    for words in ("API 令牌", "请立即复制", "有效"):
        assert words in page
