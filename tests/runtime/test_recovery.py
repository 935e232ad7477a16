"""A forgotten password, on SQLite and PostgreSQL: the one-time link by e-mail — asked
for on a page that never says whether an account matched, sent through a real SMTP
server by the worker, used once within the hour — and an administrator's reset over the
API and the command line."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from runtime.context import Request
from runtime.models import Event, EventKind, OutboxMessage, User
from runtime.services import accounts, portal, recovery
from runtime.services.errors import Forbidden, Invalid, NotFound, TooManyRequests
from runtime.services.tickets import SYSTEM
from tests.runtime.conftest import PASSWORD, Seed
from tests.runtime.servers import SmtpSink, smtp_server
from tests.runtime.test_api_support import Api, error_of
from tests.runtime.test_auth import alert_of, csrf_from, log_in, redirects_to_login
from tests.runtime.test_delivery import settings_for, worker
from tests.runtime.test_notify import set_contact
from tests.runtime.web_helpers import text

NEW_PASSWORD = "a-brand-new-secret"
LINK = re.compile(r"https?://\S+(/account/reset/\S+)")


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with smtp_server() as sink:
        yield sink


@pytest.fixture
def people(seed: Seed) -> Seed:
    """The seeded users with addresses name@example.com."""
    set_contact(seed)
    return seed


def _reset_mails(seed: Seed) -> list[OutboxMessage]:
    with seed.db.read() as session:
        return [m for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
                if m.payload.get("kind") == "password_reset"]


def _ask(seed: Seed, identifier: str, address: str = "203.0.113.9") -> None:
    recovery.request_reset(seed.db, identifier, now=seed.clock(), address=address)


def _link_in(mail: EmailMessage) -> str:
    found = LINK.search(mail.get_content())
    assert found, "the e-mail carries no reset link"
    return found.group(1)


def _sent_link(seed: Seed, smtp: SmtpSink, address: str = "li@example.com") -> str:
    worker(seed, settings_for(smtp.port)).run_once()
    return _link_in(smtp.to(address)[-1])


def _disable(seed: Seed, username: str) -> None:
    with seed.db.write() as session:
        session.execute(update(User).where(User.username == username).values(active=False))


# --- who is sent a link ------------------------------------------------------------------


@pytest.mark.parametrize(("identifier", "recipients"), [
    ("li", ["li@example.com"]),
    ("LI@Example.com", ["li@example.com"]),
    ("nobody", []),
    ("nobody@example.com", []),
    ("", []),
    ("x" * 5000, []),
], ids=["a user name", "an address in any case", "an unknown name", "an unknown address",
        "nothing", "a pasted essay"])
def test_who_is_sent_a_link(people: Seed, identifier: str, recipients: list[str]) -> None:
    assert _ask(people, identifier) is None  # the same answer, whoever it names
    assert [m.recipient for m in _reset_mails(people)] == recipients


@pytest.mark.parametrize("make_unreachable", [
    lambda seed: _disable(seed, "li"),
    lambda seed: _clear_email(seed, "li"),
], ids=["a disabled account", "an account without an address"])
def test_no_link_for_an_account_that_cannot_use_it(
        people: Seed, make_unreachable: Callable[[Seed], None]) -> None:
    make_unreachable(people)
    _ask(people, "li")
    assert _reset_mails(people) == []


def _clear_email(seed: Seed, username: str) -> None:
    with seed.db.write() as session:
        session.execute(update(User).where(User.username == username).values(email=None))


def test_a_portal_guest_never_gets_a_password(people: Seed) -> None:
    guest = portal.guest(people.db, people.clock(), None, language="en", address=None)
    with people.db.write() as session:  # as the portal records a guest's contact
        session.execute(update(User).where(User.id == guest.actor.user_id)
                        .values(email="guest@example.com"))
    _ask(people, "guest@example.com")
    assert _reset_mails(people) == []


def test_asking_is_throttled_for_known_and_unknown_names_alike(people: Seed) -> None:
    for identifier in ("li", "nobody"):
        for _ in range(accounts.MAX_FAILURES):
            _ask(people, identifier, address=f"198.51.100.{len(identifier)}")
        with pytest.raises(TooManyRequests):
            _ask(people, identifier, address="192.0.2.1")
    people.clock.advance(minutes=16)
    _ask(people, "li")  # a new window
    assert len(_reset_mails(people)) == accounts.MAX_FAILURES + 1


# --- the link ----------------------------------------------------------------------------


def test_the_link_goes_out_by_mail_and_opens_a_new_session(
        app: Flask, client: FlaskClient, people: Seed, smtp: SmtpSink) -> None:
    elsewhere = app.test_client()
    log_in(elsewhere, "li")
    asked = client.post("/account/forgot", data={"csrf_token": csrf_from(
        client.get("/account/forgot")), "identifier": "li@example.com"})
    assert "we have sent that address a link" in text(asked)
    unknown = client.post("/account/forgot", data={"csrf_token": csrf_from(
        client.get("/account/forgot")), "identifier": "who@example.com"})
    assert text(unknown) == text(asked)  # nothing tells the two apart
    path = _sent_link(people, smtp)
    [mail] = smtp.to("li@example.com")
    assert mail["Subject"] == "Choose a new ticketflow password"
    token = path.rsplit("/", 1)[1]
    assert all(token not in str(m.payload) for m in _reset_mails(people))  # never stored
    page = client.get(path)
    assert page.status_code == 200
    assert (page.headers["Cache-Control"], page.headers["Referrer-Policy"]) == (
        "no-store", "no-referrer")
    assert "(li)" in text(page)
    done = client.post(path, data={"csrf_token": csrf_from(page), "new_password": NEW_PASSWORD,
                                   "confirm_password": NEW_PASSWORD})
    assert done.status_code == 302
    assert client.get("/", follow_redirects=True).status_code == 200  # logged in here
    assert redirects_to_login(elsewhere.get("/"))  # and nowhere else
    assert log_in(app.test_client(), "li").status_code == 403
    assert log_in(app.test_client(), "li", NEW_PASSWORD).status_code == 302
    used = client.get(path)
    assert used.status_code == 404
    assert alert_of(used) == "This link has expired or was already used. Ask for a new one."


@pytest.mark.parametrize(("new", "again", "status", "alert"), [
    ("short", "short", 422, "a password needs at least 8 characters"),
    (NEW_PASSWORD, NEW_PASSWORD + "x", 422, "The two new passwords differ."),
], ids=["too short", "typed differently"])
def test_a_refused_password_keeps_the_link(client: FlaskClient, people: Seed, smtp: SmtpSink,
                                           new: str, again: str, status: int,
                                           alert: str) -> None:
    _ask(people, "li")
    path = _sent_link(people, smtp)
    refused = client.post(path, data={"csrf_token": csrf_from(client.get(path)),
                                      "new_password": new, "confirm_password": again})
    assert refused.status_code == status
    assert alert_of(refused) == alert
    assert client.get(path).status_code == 200
    assert accounts.log_in(people.db, "li", PASSWORD, now=people.clock(), address=None)


@pytest.mark.parametrize("spoil", [
    lambda seed, smtp: seed.clock.advance(minutes=61),
    lambda seed, smtp: (_ask(seed, "li"), _sent_link(seed, smtp)),
    lambda seed, smtp: _disable(seed, "li"),
], ids=["an hour later", "after a newer link", "once the account is disabled"])
def test_a_spoiled_link_changes_nothing(client: FlaskClient, people: Seed, smtp: SmtpSink,
                                        spoil: Callable[[Seed, SmtpSink], object]) -> None:
    _ask(people, "li")
    path = _sent_link(people, smtp)
    spoil(people, smtp)
    with pytest.raises(NotFound):
        recovery.reset_with_link(people.db, path.rsplit("/", 1)[1], NEW_PASSWORD,
                                 now=people.clock(), address=None)
    assert client.get(path).status_code == 404


def test_a_reset_lifts_a_failed_login_lock(people: Seed, smtp: SmtpSink) -> None:
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(Forbidden):
            accounts.log_in(people.db, "li", "wrong-guess", now=people.clock(), address=None)
    _ask(people, "li")
    token = _sent_link(people, smtp).rsplit("/", 1)[1]
    recovery.reset_with_link(people.db, token, NEW_PASSWORD, now=people.clock(), address=None)
    assert accounts.log_in(people.db, "li", NEW_PASSWORD, now=people.clock(), address=None)


def test_a_link_whose_account_was_disabled_is_not_sent(people: Seed, smtp: SmtpSink) -> None:
    _ask(people, "li")
    _disable(people, "li")
    report = worker(people, settings_for(smtp.port)).run_once()
    assert (report.sent, smtp.to("li@example.com")) == (0, [])


# --- an administrator's reset ------------------------------------------------------------


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


@pytest.mark.parametrize(("caller", "username", "password", "status", "code"), [
    ("admin", "li", NEW_PASSWORD, 204, None),
    ("zhao", "li", NEW_PASSWORD, 403, "forbidden"),
    ("admin", "nobody", NEW_PASSWORD, 404, "not-found"),
    ("admin", "li", "short", 422, "invalid"),
], ids=["an admin", "a supervisor may not", "an unknown user", "too short"])
def test_an_administrator_sets_a_password(app: Flask, api: Api, seed: Seed, caller: str,
                                          username: str, password: str, status: int,
                                          code: str | None) -> None:
    browser = app.test_client()
    log_in(browser, "li")
    response = api.put(f"/users/{username}/password", caller, json={"password": password})
    assert response.status_code == status
    if code is not None:
        assert error_of(response)["code"] == code
        assert log_in(app.test_client(), "li").status_code == 302
        return
    assert redirects_to_login(browser.get("/"))  # li's sessions ended
    assert log_in(app.test_client(), "li", NEW_PASSWORD).status_code == 302
    with seed.db.read() as session:
        event = session.scalars(select(Event).where(
            Event.kind == str(EventKind.PASSWORD_RESET))).one()
    assert event.data == {"username": "li", "via": "administrator"}


def test_an_administrators_reset_ends_the_links_out(people: Seed, smtp: SmtpSink) -> None:
    _ask(people, "li")
    token = _sent_link(people, smtp).rsplit("/", 1)[1]
    recovery.set_password(people.db, people.request("admin"), "li", NEW_PASSWORD)
    with pytest.raises(NotFound):
        recovery.link(people.db, token, people.clock())


def test_the_operator_sets_a_password(seed: Seed) -> None:
    recovery.set_password(seed.db, Request(SYSTEM, seed.clock(), None), "wang", NEW_PASSWORD)
    assert accounts.log_in(seed.db, "wang", NEW_PASSWORD, now=seed.clock(), address=None)
    with pytest.raises(Invalid):
        recovery.set_password(seed.db, Request(SYSTEM, seed.clock(), None), "wang", "short")


def test_the_page_in_chinese(client: FlaskClient, people: Seed) -> None:
    page = client.get("/account/forgot")
    client.post("/language", data={"csrf_token": csrf_from(page), "lang": "zh",
                                   "next": "/account/forgot"})
    assert "忘记密码？" in text(client.get("/account/forgot"))
    assert "忘记密码？" in text(client.get("/login"))
    invalid = client.get("/account/reset/not-a-real-link")
    assert alert_of(invalid) == "此链接已过期或已被使用，请重新申请。"
