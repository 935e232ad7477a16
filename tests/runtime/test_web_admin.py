"""Administration in the browser, on SQLite and PostgreSQL: people (find, add, change,
disable, set a password, revoke tokens), teams and the audit log — for administrators,
and a page that is not there for everyone else."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from runtime.models import Role
from runtime.services import accounts, directory, tickets
from tests.runtime.conftest import PASSWORD, Seed
from tests.runtime.test_api_support import Api, error_of
from tests.runtime.test_auth import alert_of, csrf_from, redirects_to_login
from tests.runtime.web_helpers import log_in, text

PAGES = ["/admin/users", "/admin/users/wang", "/admin/teams", "/admin/audit",
         "/admin/deliveries", "/admin/webhooks"]


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    log_in(client, "admin")
    return client


def _post(client: FlaskClient, path: str, follow_redirects: bool = False,
          **form: Any) -> TestResponse:
    return client.post(path, data={"csrf_token": csrf_from(client.get("/admin/users")), **form},
                       follow_redirects=follow_redirects)


def _listed(page: TestResponse) -> list[str]:
    return re.findall(r'<tr id="user-([^"]+)"', text(page))


@pytest.mark.parametrize("who", ["zhao", "wang", "li"],
                         ids=["a supervisor", "an agent", "a customer"])
@pytest.mark.parametrize("path", PAGES)
def test_only_administrators_find_the_pages(client: FlaskClient, who: str, path: str) -> None:
    log_in(client, who)
    assert client.get(path).status_code == 404
    assert "Administration" not in text(client.get("/", follow_redirects=True))


def test_the_pages_need_a_browser_login(client: FlaskClient,
                                        token_for: Callable[[str], str]) -> None:
    assert redirects_to_login(client.get("/admin/users"))
    bearer = {"Authorization": f"Bearer {token_for('admin')}"}
    assert client.get("/admin/users", headers=bearer).status_code == 404


# --- people ------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "listed"), [
    ("", ["admin", "chen", "li", "sun", "wang", "zhao", "zhou"]),
    ("?q=ZH", ["zhao", "zhou"]),
    ("?role=agent", ["chen", "sun", "wang"]),
    ("?q=%25", []),  # a LIKE wildcard is a character like any other
], ids=["everyone", "a name in any case", "a role", "a wildcard"])
def test_finding_people(admin: FlaskClient, query: str, listed: list[str]) -> None:
    assert _listed(admin.get(f"/admin/users{query}")) == listed


def test_the_list_pages_by_user_name(admin: FlaskClient, seed: Seed) -> None:
    for n in range(55):
        accounts.create_user(seed.db, None, username=f"user{n:02d}", role=Role.REQUESTER,
                             password=None, now=seed.clock())
    first = admin.get("/admin/users?role=requester")
    assert len(_listed(first)) == 50
    more = re.search(r'<a rel="next"[^>]*href="([^"]+)"', text(first))
    assert more
    rest = _listed(admin.get(more.group(1).replace("&amp;", "&")))
    assert rest == [f"user{n:02d}" for n in range(49, 55)] + ["zhou"]  # li came first


def test_adding_someone_who_then_logs_in(app: Flask, admin: FlaskClient, seed: Seed) -> None:
    added = _post(admin, "/admin/users", username="qian", display_name="钱 Qian",
                  email="qian@example.cn", role="agent", teams=["repair", "network"],
                  language="zh", password="a-good-password")
    assert added.status_code == 302
    assert added.location == "/admin/users/qian"
    assert "qian was added." in text(admin.get(added.location))
    page = text(admin.get(added.location))
    assert re.search(r'<option value="zh" selected[^>]*>中文</option>', page)
    assert re.search(r'<option value="agent" selected>Agent</option>', page)
    assert 'value="network" checked' in page
    person = directory.user_named(seed.db, seed.request("admin"), "qian")
    assert (person.display_name, person.email, person.role, person.teams, person.language) == (
        "钱 Qian", "qian@example.cn", "agent", ["network", "repair"], "zh")
    assert log_in(app.test_client(), "qian", "a-good-password").status_code == 302


def test_every_problem_of_a_new_person_at_once(admin: FlaskClient, seed: Seed) -> None:
    refused = _post(admin, "/admin/users", username="no spaces", email="nope", role="agent",
                    password="short")
    assert refused.status_code == 422
    assert unescape(alert_of(refused)) == (
        "A user name has 1 to 150 letters, digits, '.', '_' or '-'. This is not an e-mail "
        "address. A password needs at least 8 characters.")
    assert 'value="no spaces"' in text(refused)  # what was typed stays
    taken = _post(admin, "/admin/users", username="wang", role="agent", password=PASSWORD)
    assert taken.status_code == 409
    assert alert_of(taken) == "The user name wang is taken."
    assert "no spaces" not in _listed(admin.get("/admin/users"))


def test_changing_and_disabling_someone(app: Flask, admin: FlaskClient, seed: Seed) -> None:
    theirs = app.test_client()
    log_in(theirs, "wang")
    token = accounts.create_token(seed.db, seed.request("wang"), "script").token
    saved = _post(admin, "/admin/users/wang", display_name="Wang Lei", email="wang@example.cn",
                  language="en", role="supervisor", teams=["network"])  # `active` unticked
    assert saved.status_code == 302
    person = directory.user_named(seed.db, seed.request("admin"), "wang")
    assert (person.display_name, person.role, person.teams, person.active) == (
        "Wang Lei", "supervisor", ["network"], False)
    assert redirects_to_login(theirs.get("/"))
    assert accounts.caller_for_token(seed.db, token, seed.clock()) is None
    page = text(admin.get("/admin/users/wang"))
    assert "role_changed" in text(admin.get("/admin/audit?actor=admin"))
    assert ">disabled<" in page


def test_a_refused_change_saves_nothing(admin: FlaskClient, seed: Seed) -> None:
    before = directory.user_named(seed.db, seed.request("admin"), "wang")
    refused = _post(admin, "/admin/users/wang", display_name="", email="nope", language="en",
                    role="admin", active="1")
    assert refused.status_code == 422
    assert alert_of(refused) == "A name needs 1 to 200 characters. This is not an e-mail address."
    assert directory.user_named(seed.db, seed.request("admin"), "wang") == before


@pytest.mark.parametrize("form", [
    {"role": "admin"},  # `active` unticked
    {"role": "agent", "active": "1"},
], ids=["disabling oneself", "giving up one's own role"])
def test_an_administrator_cannot_lock_themselves_out(admin: FlaskClient, seed: Seed,
                                                     form: dict[str, str]) -> None:
    refused = _post(admin, "/admin/users/admin", display_name="admin", language="en", **form)
    assert refused.status_code == 409
    assert alert_of(refused) == ("You cannot disable yourself or give up your own "
                                 "administrator role.")
    assert admin.get("/admin/users").status_code == 200


def test_the_api_refuses_the_same_lockout(client: FlaskClient,
                                          token_for: Callable[[str], str]) -> None:
    response = Api(client, token_for).patch("/users/admin", "admin", json={"active": False})
    assert response.status_code == 409
    assert error_of(response)["code"] == "self-lockout"


def test_setting_a_forgotten_password(app: Flask, admin: FlaskClient) -> None:
    theirs = app.test_client()
    log_in(theirs, "li")
    differ = _post(admin, "/admin/users/li/password", new_password="new-password-1",
                   confirm_password="new-password-2")
    assert alert_of(differ) == "The two new passwords differ."
    done = _post(admin, "/admin/users/li/password", new_password="new-password-1",
                 confirm_password="new-password-1", follow_redirects=True)
    assert "The new password of li is set" in text(done)
    assert redirects_to_login(theirs.get("/"))
    assert log_in(app.test_client(), "li", "new-password-1").status_code == 302


def test_revoking_someones_token(admin: FlaskClient, seed: Seed) -> None:
    issued = accounts.create_token(seed.db, seed.request("li"), "home script")
    page = text(admin.get("/admin/users/li"))
    assert "home script" in page
    assert issued.token not in page
    _post(admin, f"/admin/users/li/tokens/{issued.id}/revoke")
    assert accounts.caller_for_token(seed.db, issued.token, seed.clock()) is None
    assert 'class="token-revoked"' in text(admin.get("/admin/users/li"))


def test_someone_who_is_not_there(admin: FlaskClient) -> None:
    assert admin.get("/admin/users/nobody").status_code == 404


# --- teams and the audit log -------------------------------------------------------------


def test_teams_with_their_leads_and_sizes(admin: FlaskClient, seed: Seed) -> None:
    from runtime.services import agents

    agents.set_team_lead(seed.db, seed.request("admin"), "repair", "zhao")
    page = text(admin.get("/admin/teams"))
    repair = re.search(r'<tr id="team-repair">(.*?)</tr>', page, re.S)
    assert repair
    assert "zhao" in repair.group(1)
    assert "<td>3</td>" in repair.group(1)  # zhao, wang and chen
    added = _post(admin, "/admin/teams", key="senior", name="Senior technicians",
                  follow_redirects=True)
    assert "Team senior was added." in text(added)
    assert 'id="team-senior"' in text(added)


@pytest.mark.parametrize(("key", "name", "status", "alert"), [
    ("Senior", "Senior", 422, "A team key has up to 63 lower-case letters, digits, '_' or "
                              "'-', starting with a letter."),
    ("senior", " ", 422, "A team needs a name."),
    ("repair", "Repair again", 409, "The team repair exists."),
], ids=["a bad key", "no name", "a key taken"])
def test_a_refused_team(admin: FlaskClient, key: str, name: str, status: int,
                        alert: str) -> None:
    refused = _post(admin, "/admin/teams", key=key, name=name)
    assert refused.status_code == status
    assert unescape(alert_of(refused)) == alert


def test_the_audit_log_filters_and_pages(admin: FlaskClient, seed: Seed) -> None:
    for n in range(55):
        accounts.create_team(seed.db, seed.request("admin"), f"team{n:02d}", f"Team {n}")
    page = text(admin.get("/admin/audit?kind=team_changed"))
    events = re.findall(r'<tr id="event-(\d+)">', page)
    assert len(events) == 50
    older = re.search(r'<a rel="next"[^>]*href="([^"]+)"', page)
    assert older
    rest = re.findall(r'<tr id="event-(\d+)">',
                      text(admin.get(older.group(1).replace("&amp;", "&"))))
    assert len(rest) == 5
    assert max(map(int, rest)) < min(map(int, events))
    assert re.findall(r'<tr id="event-', text(admin.get("/admin/audit?actor=nobody"))) == []


# --- what was sent, and webhooks ---------------------------------------------------------


def test_a_dead_letter_is_seen_and_sent_again(admin: FlaskClient, seed: Seed) -> None:
    from sqlalchemy import update

    from runtime.models import User
    from tests.runtime.servers import smtp_server
    from tests.runtime.test_delivery import settings_for, worker
    from tests.runtime.test_notify import new_ticket

    number = new_ticket(seed)
    with seed.db.write() as session:  # a typo in li's address: the reply cannot go out
        session.execute(update(User).where(User.username == "li").values(email="li at home"))
    tickets.comment(seed.db, seed.request("wang"), number, "We ordered the part.")
    with smtp_server() as sink:
        worker(seed, settings_for(sink.port)).run_once()
    page = text(admin.get("/admin/deliveries?state=dead"))
    dead = re.findall(r'<tr id="message-(\d+)" class="state-dead">', page)
    assert len(dead) == 1
    assert "malformed e-mail address" in page
    assert f'href="/t/{number}"' in page
    again = _post(admin, f"/admin/deliveries/{dead[0]}/retry", state="dead",
                  follow_redirects=True)
    assert f"Message {dead[0]} will be sent again." in text(again)
    assert re.findall(r'<tr id="message-(\d+)" class="state-dead">', text(again)) == []
    assert f'<tr id="message-{dead[0]}" class="state-pending">' in text(
        admin.get("/admin/deliveries?state=pending"))


def test_a_webhook_is_added_with_its_secret_shown_once_and_removed(admin: FlaskClient) -> None:
    added = _post(admin, "/admin/webhooks", name="crm", format="generic", language="en",
                  url="https://crm.example.com/hook?token=abc123", events=["created", "closed"])
    assert added.status_code == 201
    assert added.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="new-secret"[^>]*value="(whsec_[^"]+)"', text(added))
    assert secret
    listed = text(admin.get("/admin/webhooks"))
    assert secret.group(1) not in listed
    assert "abc123" not in listed  # the query's values are masked
    assert 'id="webhook-crm"' in listed
    assert "created, closed" in listed
    removed = _post(admin, "/admin/webhooks/crm/delete", follow_redirects=True)
    assert "Webhook crm was removed." in text(removed)
    assert 'id="webhook-crm"' not in text(removed)


@pytest.mark.parametrize(("form", "status", "alert"), [
    ({"name": "crm", "url": "ftp://files.example.com"}, 422,
     "The address must be an http(s) URL."),
    ({"name": "-bad name", "url": "https://crm.example.com"}, 422,
     "A webhook's name has up to 64 letters, digits, '.', '_' or '-', starting with a letter "
     "or digit."),
    ({"name": "taken", "url": "https://crm.example.com"}, 409, "A webhook named taken exists."),
], ids=["not http", "a bad name", "a name taken"])
def test_a_refused_webhook(admin: FlaskClient, seed: Seed, form: dict[str, str], status: int,
                           alert: str) -> None:
    from runtime.services import webhooks

    webhooks.create_webhook(seed.db, seed.request("admin"), name="taken",
                            url="https://other.example.com")
    refused = _post(admin, "/admin/webhooks", format="generic", language="en", **form)
    assert refused.status_code == status
    assert unescape(alert_of(refused)) == alert
