"""One's own account, on SQLite and PostgreSQL: the page that changes the display name,
e-mail address and language (the way to the password and the API tokens), and the same
over the API — one's own with PATCH /me, anyone's for administrators."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from runtime.models import Event, EventKind, User
from tests.runtime.conftest import Seed
from tests.runtime.test_api_support import Api, error_of
from tests.runtime.test_auth import alert_of, csrf_from
from tests.runtime.web_helpers import log_in, text


def _user(seed: Seed, username: str) -> tuple[str, str | None, str]:
    with seed.db.read() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return user.display_name, user.email, user.language


def _save(client: FlaskClient, **form: str) -> Any:
    token = csrf_from(client.get("/account"))
    return client.post("/account", data={"csrf_token": token, **form})


def test_the_account_page_saves_name_address_and_language(client: FlaskClient,
                                                          seed: Seed) -> None:
    log_in(client, "wang")
    page = text(client.get("/account"))
    assert re.search(r'<option value="en" selected[^>]*>English</option>', page)
    assert 'href="/account/password"' in page
    assert 'href="/account/tokens"' in page
    saved = _save(client, display_name="  Wang Lei 王磊 ", email="wang@example.cn",
                  language="zh")
    assert saved.status_code == 302
    assert _user(seed, "wang") == ("Wang Lei 王磊", "wang@example.cn", "zh")
    after = text(client.get("/account"))
    assert "账号信息已保存。" in after  # the page now speaks the chosen language
    assert ">Wang Lei 王磊</a>" in after  # and the header greets the new name
    _save(client, display_name="Wang Lei 王磊", email="", language="zh")
    assert _user(seed, "wang")[1] is None  # an empty address removes it
    with seed.db.read() as session:
        changes = [e.data for e in session.scalars(select(Event).where(
            Event.kind == str(EventKind.USER_CHANGED)).order_by(Event.id))]
    assert changes == [{"username": "wang", "changed": ["display_name", "email", "language"]},
                       {"username": "wang", "changed": ["display_name", "email", "language"]}]


@pytest.mark.parametrize(("form", "alert"), [
    ({"display_name": " ", "email": "", "language": "en"},
     "Your name needs 1 to 200 characters."),
    ({"display_name": "Wang", "email": "not an address", "language": "en"},
     "This is not an e-mail address."),
    ({"display_name": "", "email": "x@", "language": "en"},
     "Your name needs 1 to 200 characters. This is not an e-mail address."),
], ids=["no name", "a bad address", "both at once"])
def test_a_refused_change_saves_nothing(client: FlaskClient, seed: Seed,
                                        form: dict[str, str], alert: str) -> None:
    log_in(client, "wang")
    before = _user(seed, "wang")
    response = _save(client, **form)
    assert response.status_code == 422
    assert alert_of(response) == alert
    assert _user(seed, "wang") == before


def test_the_account_page_needs_a_browser_login(client: FlaskClient,
                                                token_for: Callable[[str], str]) -> None:
    assert client.get("/account").status_code == 302
    bearer = {"Authorization": f"Bearer {token_for('wang')}"}
    assert client.get("/account", headers=bearer).status_code == 403


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


def test_changing_ones_own_details_over_the_api(api: Api, seed: Seed) -> None:
    response = api.patch("/me", "li", json={"display_name": "Li Na", "email": "li@example.cn",
                                             "language": "zh"})
    assert response.status_code == 200
    assert {k: response.get_json()["user"][k] for k in ("display_name", "email", "language")} == {
        "display_name": "Li Na", "email": "li@example.cn", "language": "zh"}
    assert api.patch("/me", "li", json={"email": None}).get_json()["user"]["email"] is None


@pytest.mark.parametrize(("body", "fields"), [
    ({"display_name": ""}, ["display_name"]),
    ({"email": "nope", "language": "fr"}, ["email", "language"]),
    ({"display_name": 7}, ["display_name"]),
    ({"role": "admin"}, ["role"]),
], ids=["empty name", "every problem at once", "not a string", "not one's own to change"])
def test_a_refused_change_over_the_api_lists_every_problem(api: Api, seed: Seed,
                                                           body: dict[str, Any],
                                                           fields: list[str]) -> None:
    before = _user(seed, "li")
    response = api.patch("/me", "li", json=body)
    assert response.status_code == 422
    assert sorted(d["field"] for d in error_of(response)["details"]) == fields
    assert _user(seed, "li") == before


@pytest.mark.parametrize(("caller", "status"), [("admin", 200), ("wang", 403)],
                         ids=["an admin", "an agent may not"])
def test_an_administrator_fixes_someones_address(api: Api, seed: Seed, caller: str,
                                                 status: int) -> None:
    response = api.patch("/users/li", caller, json={"email": "li.na@example.cn",
                                                    "role": "requester"})
    assert response.status_code == status
    assert _user(seed, "li")[1] == ("li.na@example.cn" if status == 200 else None)


def test_an_administrators_change_is_all_or_nothing(api: Api, seed: Seed) -> None:
    response = api.patch("/users/li", "admin", json={"active": False, "email": "nope"})
    assert response.status_code == 422
    assert api.get("/me", "li").status_code == 200  # still active: nothing was applied
