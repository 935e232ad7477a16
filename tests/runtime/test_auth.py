"""Logging in and out in the browser, changing one's password, and the home page.

Every case runs on SQLite and PostgreSQL (the `database` fixture behind `app`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from werkzeug.test import TestResponse

from runtime.models import Role
from runtime.services import accounts, tickets
from tests.runtime.conftest import PASSWORD, VALID_REPAIR, Clock, Seed

BAD_CREDENTIALS = "The user name or password is wrong."
NEW_PASSWORD = "a-brand-new-secret"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ALERT = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)


def csrf_from(response: TestResponse) -> str:
    """The CSRF token a rendered form carries."""
    match = _CSRF.search(response.get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


def alert_of(response: TestResponse) -> str:
    """The text of the form's error message."""
    match = _ALERT.search(response.get_data(as_text=True))
    assert match, "the page shows no error"
    return match.group(1).strip()


def log_in(client: FlaskClient, username: str, password: str = PASSWORD,
           next_: str | None = None, **options: str) -> TestResponse:
    """Fill in and send the login form, as a browser does (token from the form)."""
    token = csrf_from(client.get("/login", **options))
    form = {"csrf_token": token, "username": username, "password": password}
    if next_ is not None:
        form["next"] = next_
    return client.post("/login", data=form, **options)


def home_token(client: FlaskClient) -> str:
    """The CSRF token of the logged-in home page (the logout form)."""
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200
    return csrf_from(page)


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def redirects_to_login(response: TestResponse) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == "/login"


# --- logging in ----------------------------------------------------------------------


def test_login_opens_the_home_page(client: FlaskClient) -> None:
    response = log_in(client, "wang")
    assert response.status_code == 302
    assert response.location == "/"
    page = client.get("/", follow_redirects=True)  # an agent starts in their queue
    assert page.status_code == 200
    assert re.search(r'<a class="who" href="/account"[^>]*>wang</a>', page.get_data(as_text=True))


def test_no_remember_me_cookie_is_ever_set(client: FlaskClient) -> None:
    response = log_in(client, "wang")
    cookies = [header.split("=", 1)[0] for header in response.headers.getlist("Set-Cookie")]
    assert cookies == ["session"]
    assert client.get_cookie("remember_token") is None


REFUSALS = [
    # (user name, password, disable the user first)
    ("nobody", PASSWORD, False),
    ("wang", "not-the-password", False),
    ("wang", PASSWORD, True),
]


@pytest.mark.parametrize(("username", "password", "disabled"), REFUSALS,
                         ids=["unknown-user", "wrong-password", "disabled-user"])
def test_login_refusals_all_say_the_same(client: FlaskClient, seed: Seed, username: str,
                                         password: str, disabled: bool) -> None:
    if disabled:
        accounts.set_active(seed.db, seed.request("admin"), username, False)
    response = log_in(client, username, password)
    assert response.status_code == 403
    assert alert_of(response) == BAD_CREDENTIALS
    assert redirects_to_login(client.get("/"))


@pytest.mark.parametrize(("username", "password"), [("", PASSWORD), ("wang", "")],
                         ids=["no-user-name", "no-password"])
def test_login_with_an_empty_field_asks_for_both(client: FlaskClient, username: str,
                                                 password: str) -> None:
    response = log_in(client, username, password)
    assert response.status_code == 400
    assert alert_of(response) == "Enter your user name and password."


def test_throttling_after_five_failures_holds_across_requests_and_clients(
        app: Flask, client: FlaskClient, clock: Clock) -> None:
    for _ in range(accounts.MAX_FAILURES):
        assert log_in(client, "wang", "not-the-password").status_code == 403
    # Even the right password is refused now, and a new browser (no cookies) is too:
    # the count lives in the database, not in the client.
    throttled = log_in(client, "wang")
    assert throttled.status_code == 429
    assert alert_of(throttled) == "Too many failed attempts; wait a few minutes and try again."
    assert log_in(app.test_client(), "wang").status_code == 429
    clock.advance(minutes=15)
    assert log_in(app.test_client(), "wang").status_code == 302


def test_a_success_clears_the_failure_count(client: FlaskClient) -> None:
    for _ in range(accounts.MAX_FAILURES - 1):
        assert log_in(client, "wang", "not-the-password").status_code == 403
    assert log_in(client, "wang").status_code == 302
    client.post("/logout", data={"csrf_token": home_token(client)})
    for _ in range(accounts.MAX_FAILURES - 1):
        assert log_in(client, "wang", "not-the-password").status_code == 403
    assert log_in(client, "wang").status_code == 302


NEXT = [
    ("/tickets/1", "/tickets/1"),
    ("/tickets/1?tab=log#top", "/tickets/1?tab=log#top"),
    ("//evil.example", "/"),
    ("https://evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("/\t/evil.example", "/"),
    ("/tickets\\..\\\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("tickets/1", "/"),
    ("", "/"),
]


@pytest.mark.parametrize(("next_", "location"), NEXT,
                         ids=["local-path", "local-with-query", "protocol-relative",
                              "absolute-url", "backslash-host", "tab-in-slashes",
                              "backslash-inside", "javascript", "relative", "empty"])
def test_login_redirects_only_to_local_paths(client: FlaskClient, next_: str,
                                             location: str) -> None:
    response = log_in(client, "wang", next_=next_)
    assert response.status_code == 302
    assert response.location == location


def test_a_protected_page_sends_to_login_and_back(client: FlaskClient) -> None:
    response = client.get("/")
    assert redirects_to_login(response)
    assert parse_qs(urlsplit(response.location).query) == {"next": ["/"]}
    login_page = client.get(response.location)
    assert 'name="next" value="/"' in login_page.get_data(as_text=True)
    assert log_in(client, "wang", next_="/account/password").location == "/account/password"


def test_the_login_page_sends_a_logged_in_user_on(client: FlaskClient) -> None:
    log_in(client, "wang")
    response = client.get("/login?next=/account/password")
    assert response.status_code == 302
    assert response.location == "/account/password"


# --- an old cookie is worthless after logout, a password change, or disabling --------


def _logout(client: FlaskClient, seed: Seed) -> None:
    response = client.post("/logout", data={"csrf_token": home_token(client)})
    assert redirects_to_login(response)
    assert "You are logged out." in client.get("/login").get_data(as_text=True)


def _change_password(client: FlaskClient, seed: Seed) -> None:
    token = csrf_from(client.get("/account/password"))
    response = client.post("/account/password", data={
        "csrf_token": token, "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.location == "/"
    # This browser goes on with its new session.
    assert client.get("/", follow_redirects=True).status_code == 200


def _disable(client: FlaskClient, seed: Seed) -> None:
    accounts.set_active(seed.db, seed.request("admin"), "wang", False)


@pytest.mark.parametrize("action", [_logout, _change_password, _disable],
                         ids=["logout", "password-change", "user-disabled"])
def test_a_replayed_old_cookie_is_refused(client: FlaskClient, seed: Seed,
                                          action: Callable[[FlaskClient, Seed], None]) -> None:
    log_in(client, "wang")
    assert client.get("/", follow_redirects=True).status_code == 200
    old = session_cookie(client)
    action(client, seed)
    client.set_cookie("session", old)
    assert redirects_to_login(client.get("/"))
    assert redirects_to_login(client.get("/account/password"))


def test_a_password_change_keeps_this_browser_and_ends_the_others(
        app: Flask, client: FlaskClient, seed: Seed) -> None:
    other = app.test_client()
    log_in(client, "wang")
    log_in(other, "wang")
    _change_password(client, seed)
    assert client.get("/", follow_redirects=True).status_code == 200
    assert redirects_to_login(other.get("/"))
    assert log_in(app.test_client(), "wang").status_code == 403
    assert log_in(app.test_client(), "wang", NEW_PASSWORD).status_code == 302


PASSWORD_REFUSALS = [
    ("not-the-password", NEW_PASSWORD, NEW_PASSWORD, 403, "The current password is wrong."),
    (PASSWORD, "short", "short", 422, "a password needs at least 8 characters"),
    (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", 422, "The two new passwords differ."),
]


@pytest.mark.parametrize(("current", "new", "confirm", "status", "message"), PASSWORD_REFUSALS,
                         ids=["wrong-current", "too-short", "confirmation-differs"])
def test_password_change_refusals(app: Flask, client: FlaskClient, current: str, new: str,
                                  confirm: str, status: int, message: str) -> None:
    log_in(client, "wang")
    token = csrf_from(client.get("/account/password"))
    response = client.post("/account/password", data={
        "csrf_token": token, "current_password": current, "new_password": new,
        "confirm_password": confirm})
    assert response.status_code == status
    assert alert_of(response) == message
    assert client.get("/", follow_redirects=True).status_code == 200
    assert log_in(app.test_client(), "wang").status_code == 302


def test_the_password_page_needs_a_browser_login(client: FlaskClient,
                                                 token_for: Callable[[str], str]) -> None:
    response = client.get("/account/password")
    assert redirects_to_login(response)
    assert parse_qs(urlsplit(response.location).query) == {"next": ["/account/password"]}
    bearer = {"Authorization": f"Bearer {token_for('wang')}"}
    assert client.get("/account/password", headers=bearer).status_code == 403


# --- the home page -------------------------------------------------------------------


def test_home_lists_the_newest_tickets_the_user_may_see(client: FlaskClient,
                                                        seed: Seed) -> None:
    mine = [tickets.create(seed.db, seed.request("li"), "repair", dict(VALID_REPAIR, device=d))
            for d in ("PRN-0001", "PRN-0002")]
    theirs = tickets.create(seed.db, seed.request("zhou"), "repair", VALID_REPAIR)
    log_in(client, "li")
    page = client.get("/").get_data(as_text=True)
    rows = re.findall(r'<td class="number"><a [^>]*>([^<]+)</a></td>', page)
    assert rows == [mine[1].number, mine[0].number]  # newest first, nobody else's
    assert theirs.number not in page
    for ticket in mine:
        assert str(escape(ticket.title)) in page
        assert str(escape(ticket.state_label)) in page
    assert "unassigned" in page


def test_home_shows_the_assignee(client: FlaskClient, seed: Seed) -> None:
    ticket = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR)
    tickets.claim(seed.db, seed.request("wang"), ticket.number)
    log_in(client, "li")
    page = client.get("/").get_data(as_text=True)
    assert '<td data-label="Assignee">wang</td>' in page


def test_home_without_tickets_says_so(client: FlaskClient) -> None:
    log_in(client, "zhou")
    assert "You have not opened any ticket yet." in client.get("/").get_data(as_text=True)


def test_home_speaks_the_users_language(client: FlaskClient, seed: Seed) -> None:
    accounts.create_user(seed.db, None, username="liu", role=Role.REQUESTER, password=PASSWORD,
                         display_name="刘洋", language="zh", now=seed.clock())
    log_in(client, "liu")
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert "退出登录" in page
    assert "我的工单" in page
    assert "刘洋" in page


def test_the_login_page_follows_the_browsers_language(client: FlaskClient) -> None:
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    text = page.get_data(as_text=True)
    assert '<html lang="zh-CN">' in text
    assert "用户名" in text


def test_user_written_text_is_escaped_and_pages_need_no_script(client: FlaskClient,
                                                               seed: Seed) -> None:
    accounts.create_user(seed.db, None, username="mallory", role=Role.REQUESTER,
                         password=PASSWORD, display_name='<script>alert("x")</script>',
                         now=seed.clock())
    log_in(client, "mallory")
    page = client.get("/").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    # Scripts come from files of this site only (the CSP forbids inline ones anyway).
    inline = re.compile(r"<script(?![^>]*\bsrc=)")
    assert not inline.search(page)
    assert not inline.search(client.get("/account/password").get_data(as_text=True))
