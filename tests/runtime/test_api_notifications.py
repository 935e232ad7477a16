"""The notification endpoints: my inbox (keyset pages), reminders, and for administrators
webhooks (a secret shown once) and the outbox's dead letters. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from runtime.models import OutboxMessage
from tests.runtime.test_api_support import Api, error_of


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


def mention(api: Api, number: str, text: str, by: str = "chen") -> None:
    response = api.post(f"/tickets/{number}/comments", by, json={"body": text})
    assert response.status_code == 201, response.get_json()


# --- the inbox -------------------------------------------------------------------------


def test_my_inbox_pages_newest_first_and_counts_the_unread(api: Api):
    number = api.new_ticket()["number"]
    for index in range(3):
        mention(api, number, f"@wang look #{index}")
    first = api.get("/notifications?limit=2", "wang").get_json()
    assert [item["data"]["detail"] for item in first["items"]] == ["@wang look #2",
                                                                  "@wang look #1"]
    assert first["unread"] == 3
    second = api.get(f"/notifications?limit=2&before={first['next_before']}", "wang").get_json()
    assert [item["data"]["detail"] for item in second["items"]] == ["@wang look #0"]
    assert second["next_before"] is None
    item = first["items"][0]
    assert item["ticket"] == number
    assert item["kind"] == "mention"
    assert item["read_at"] is None


def test_marking_read_is_mine_alone_and_repeatable(api: Api):
    number = api.new_ticket()["number"]
    mention(api, number, "@wang hello")
    [item] = api.get("/notifications", "wang").get_json()["items"]
    assert api.post(f"/notifications/{item['id']}/read", "chen").status_code == 404
    read = api.post(f"/notifications/{item['id']}/read", "wang")
    assert read.status_code == 200
    read_at = read.get_json()["notification"]["read_at"]
    assert read_at is not None
    again = api.post(f"/notifications/{item['id']}/read", "wang").get_json()
    assert again["notification"]["read_at"] == read_at
    inbox = api.get("/notifications?unread=true", "wang").get_json()
    assert (inbox["items"], inbox["unread"]) == ([], 0)
    assert api.get("/notifications", "chen").get_json()["items"] == []


@pytest.mark.parametrize("query", ["unread=maybe", "before=0", "limit=500", "colour=red"])
def test_bad_inbox_queries_are_400(api: Api, query: str):
    response = api.get(f"/notifications?{query}", "wang")
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad-query"


# --- reminders -------------------------------------------------------------------------


def test_a_reminder_is_set_on_a_ticket_i_may_see(api: Api):
    number = api.new_ticket()["number"]
    response = api.post(f"/tickets/{number}/reminders", "wang",
                        json={"at": "2026-11-24T09:00:00+08:00", "note": "call back"})
    assert response.status_code == 201, response.get_json()
    reminder = response.get_json()["reminder"]
    assert (reminder["ticket"], reminder["due_at"], reminder["note"]) == (
        number, "2026-11-24T01:00:00+00:00", "call back")
    assert api.post(f"/tickets/{number}/reminders", "zhou",
                    json={"at": "2026-11-24T09:00:00+08:00"}).status_code == 404


@pytest.mark.parametrize(("body", "code"), [
    ({}, "required"), ({"at": None}, "required"), ({"at": "tomorrow"}, "bad-datetime"),
    ({"at": "2020-01-01T00:00:00Z"}, "in-the-past"),
], ids=["missing", "null", "not-a-date", "past"])
def test_a_reminder_needs_a_future_instant(api: Api, body: dict[str, Any], code: str):
    number = api.new_ticket()["number"]
    response = api.post(f"/tickets/{number}/reminders", "wang", json=body)
    assert response.status_code == 422
    assert [d["code"] for d in error_of(response)["details"]] == [code]


# --- webhooks --------------------------------------------------------------------------


def test_a_webhooks_secret_is_shown_once_and_never_listed(api: Api):
    created = api.post("/webhooks", "admin", json={
        "name": "dingtalk-ops", "format": "dingtalk", "language": "zh",
        "url": "https://oapi.dingtalk.com/robot/send?access_token=abc123",
        "secret": "SEC-xyz", "events": ["created", "closed"]})
    assert created.status_code == 201, created.get_json()
    webhook = created.get_json()["webhook"]
    assert webhook["secret"] == "SEC-xyz"
    assert webhook["url"] == "https://oapi.dingtalk.com/robot/send?access_token=***"
    generic = api.post("/webhooks", "admin", json={"name": "erp",
                                                   "url": "https://erp.example.com/in"})
    assert generic.get_json()["webhook"]["secret"].startswith("whsec_")
    listed = api.get("/webhooks", "admin")
    assert [w["name"] for w in listed.get_json()["items"]] == ["dingtalk-ops", "erp"]
    assert all("secret" not in w and w["has_secret"] for w in listed.get_json()["items"])
    text = listed.get_data(as_text=True) + api.get("/audit", "admin").get_data(as_text=True)
    assert "SEC-xyz" not in text
    assert "abc123" not in text


def test_webhooks_are_for_administrators(api: Api):
    body = {"name": "x", "url": "https://example.com/hook"}
    assert api.post("/webhooks", "zhao", json=body).status_code == 403
    assert api.get("/webhooks", "wang").status_code == 403
    assert api.delete("/webhooks/x", "zhao").status_code == 403


@pytest.mark.parametrize(("body", "fields"), [
    ({"name": "a", "url": "ftp://example.com"}, ["url"]),
    ({"name": "a", "url": "https://x.example", "events": ["exploded"]}, ["events"]),
    ({"name": "a b", "url": "https://x.example", "format": "slack"}, ["name", "format"]),
    ({"url": "https://x.example", "colour": "red"}, ["colour", "name"]),
], ids=["scheme", "event", "name-and-format", "unknown-and-missing"])
def test_a_bad_webhook_is_refused_with_every_problem(api: Api, body: dict[str, Any],
                                                     fields: list[str]):
    response = api.post("/webhooks", "admin", json=body)
    assert response.status_code == 422
    assert [d["field"] for d in error_of(response)["details"]] == fields


def test_a_webhook_name_is_unique_and_deleting_it_twice_is_404(api: Api):
    body = {"name": "erp", "url": "https://erp.example.com/in"}
    assert api.post("/webhooks", "admin", json=body).status_code == 201
    assert error_of(api.post("/webhooks", "admin", json=body))["code"] == "webhook-exists"
    assert api.delete("/webhooks/erp", "admin").status_code == 204
    assert api.delete("/webhooks/erp", "admin").status_code == 404


# --- the outbox ------------------------------------------------------------------------


def test_admins_see_dead_letters_and_send_them_again(api: Api, app: Any):
    api.post("/webhooks", "admin", json={"name": "erp", "url": "https://erp.example.com/in",
                                         "events": ["created"]})
    number = api.new_ticket()["number"]
    db = app.extensions["ticketflow"].db
    with db.write() as session:
        session.execute(update(OutboxMessage).values(state="dead", attempts=8,
                                                     last_error="HTTP 503"))
    dead = api.get("/outbox?state=dead", "admin").get_json()["items"]
    assert [(m["channel"], m["recipient"], m["ticket"], m["last_error"]) for m in dead] == [
        ("webhook", "erp", number, "HTTP 503")]
    retried = api.post(f"/outbox/{dead[0]['id']}/retry", "admin")
    assert retried.status_code == 200
    assert (retried.get_json()["message"]["state"], retried.get_json()["message"]["attempts"]) \
        == ("pending", 0)
    again = api.post(f"/outbox/{dead[0]['id']}/retry", "admin")
    assert (again.status_code, error_of(again)["code"]) == (409, "not-retryable")
    assert api.post("/outbox/999999/retry", "admin").status_code == 404
    assert api.get("/outbox?state=dead", "admin").get_json()["items"] == []
    audit = api.get("/audit?kind=delivery_retried", "admin").get_json()["items"]
    assert [entry["data"]["was"] for entry in audit] == ["dead"]


@pytest.mark.parametrize("user", ["zhao", "wang", "li"])
def test_the_outbox_is_for_administrators(api: Api, user: str):
    assert api.get("/outbox", user).status_code == 403
    assert api.post("/outbox/1/retry", user).status_code == 403
