"""Delivering the outbox to real servers on 127.0.0.1: an SMTP server (aiosmtpd) and HTTP
receivers that check signatures, fail, or hang. Retries follow a fake clock; nothing
sleeps (a hanging receiver waits for the test to release it). SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from runtime.config import DeliverySettings
from runtime.delivery import formats
from runtime.delivery.result import Result
from runtime.models import OutboxMessage, User
from runtime.services import outbox, tickets, webhooks
from runtime.worker import Worker
from tests.runtime.conftest import Seed
from tests.runtime.servers import HttpReceiver, SmtpSink, http_receiver, smtp_server
from tests.runtime.test_auth import csrf_from, log_in
from tests.runtime.test_notify import ID_CARD, close, new_ticket, set_contact

BASE_URL = "https://desk.example.com"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with smtp_server() as sink:
        yield sink


def settings_for(smtp_port: int | None = None, **options: Any) -> DeliverySettings:
    return DeliverySettings(smtp_host="127.0.0.1" if smtp_port else None,
                            smtp_port=smtp_port or 25, smtp_from="desk@ticketflow.test",
                            base_url=BASE_URL, **{"webhook_timeout": 5.0, "max_attempts": 3,
                                                  **options})


def worker(seed: Seed, settings: DeliverySettings, owner: str = "w1") -> Worker:
    return Worker(seed.db, settings, owner=owner, clock=seed.clock)


def messages(seed: Seed, channel: str) -> list[OutboxMessage]:
    with seed.db.read() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == channel)
                                    .order_by(OutboxMessage.id)))


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- e-mail --------------------------------------------------------------------------


def test_emails_go_out_in_each_recipients_language(seed: Seed, smtp: SmtpSink):
    set_contact(seed, wang="zh")
    number = new_ticket(seed)
    tickets.comment(seed.db, seed.request("li"), number, "@wang 打印机又卡纸了")
    tickets.comment(seed.db, seed.request("wang"), number, "@chen can you help?")
    report = worker(seed, settings_for(smtp.port)).run_once()
    assert report.sent == 3
    [chinese] = smtp.to("wang@example.com")
    [english] = smtp.to("chen@example.com")
    [reply] = smtp.to("li@example.com")  # the requester hears of wang's public comment
    assert reply["Subject"] == f"New reply on your ticket {number}: PRN-0042"
    assert chinese["Subject"] == f"li 在工单 {number}「PRN-0042」中提到了你"
    assert english["Subject"] == f"wang mentioned you on {number}: PRN-0042"
    body = chinese.get_content()
    assert "> @wang 打印机又卡纸了" in body
    assert "状态: 维修中" in body
    assert f"查看工单: {BASE_URL}/t/{number}" in body
    assert "Open the ticket" in english.get_content()
    assert chinese["Auto-Submitted"] == "auto-generated"
    assert chinese["From"] == "desk@ticketflow.test"
    assert {m.state for m in messages(seed, "email")} == {"sent"}


def test_the_requesters_mail_has_no_hidden_field_and_links_that_open_pages(
        seed: Seed, smtp: SmtpSink, client: FlaskClient):
    set_contact(seed)
    number = new_ticket(seed, by="wang", requester="li", id_card=ID_CARD)
    tickets.comment(seed.db, seed.request("wang"), number, "@chen check the ID card")
    close(seed, number)
    worker(seed, settings_for(smtp.port)).run_once()
    [staff] = smtp.to("chen@example.com")
    assert ID_CARD in staff.get_content()
    reply, customer = smtp.to("li@example.com")
    assert customer["Subject"] == f"Your ticket {number} is closed: PRN-0042"
    for mail in (reply, customer):
        assert ID_CARD not in mail.as_string()
        assert ID_CARD not in mail.get_content()
    # Each link is a page of the web app: the ticket's (after logging in) and the
    # survey's, which needs no account.
    links = [line.split(": ", 1)[1].strip() for line in customer.get_content().splitlines()
             if BASE_URL in line]
    assert [urlsplit(link).path.rsplit("/", 1)[0] for link in links] == [
        "/t", "/portal/survey"]
    ticket_page, survey_page = (urlsplit(link).path for link in links)
    assert ticket_page == f"/t/{number}"
    assert urlsplit(client.get(ticket_page).location).path == "/login"
    log_in(client, "li")
    assert client.get(ticket_page).status_code == 200
    page = client.get(survey_page)
    assert page.status_code == 200
    answered = client.post(survey_page, data={"csrf_token": csrf_from(page), "csat": "5"})
    assert answered.status_code == 200
    assert "Thank you for your feedback!" in answered.get_data(as_text=True)


def test_a_malformed_address_or_a_refusal_is_recorded_and_the_rest_goes_out(
        seed: Seed, smtp: SmtpSink):
    set_contact(seed)
    with seed.db.write() as session:
        for name, address in (("wang", "wang at example"), ("chen", "chen@refuse.example"),
                              ("zhao", "zhao@busy.example")):
            session.execute(update(User).where(User.username == name).values(email=address))
    number = new_ticket(seed)
    # (sun, of team network, may not see this repair ticket: nobody tells him of it)
    tickets.comment(seed.db, seed.request("li"), number, "@wang @chen @zhao @admin @sun help")
    report = worker(seed, settings_for(smtp.port)).run_once()
    assert (report.sent, report.dead, report.retrying) == (1, 2, 1)
    outcome = {m.recipient: (m.state, m.last_error) for m in messages(seed, "email")}
    assert outcome == {
        "wang at example": ("dead", "malformed e-mail address: 'wang at example'"),
        "chen@refuse.example": ("dead", "SMTP 550: 5.1.1 no such mailbox"),
        "zhao@busy.example": ("failed", "SMTP 451: 4.3.0 try again later"),
        "admin@example.com": ("sent", None),
    }
    assert [m["To"] for m in smtp.messages] == ["admin@example.com"]


def test_an_unreachable_smtp_server_means_try_again_later(seed: Seed):
    set_contact(seed)
    number = new_ticket(seed)
    tickets.comment(seed.db, seed.request("li"), number, "@wang hello")
    report = worker(seed, settings_for(unused_port())).run_once()
    assert report.retrying == 1
    [mail] = messages(seed, "email")
    assert mail.state == "failed"
    assert mail.last_error.startswith("cannot reach the SMTP server")


def test_without_an_smtp_server_emails_wait_in_the_outbox(seed: Seed):
    set_contact(seed)
    number = new_ticket(seed)
    tickets.comment(seed.db, seed.request("li"), number, "@wang hello")
    assert worker(seed, settings_for(None)).run_once().claimed == 0
    assert [m.state for m in messages(seed, "email")] == ["pending"]


# --- webhooks ------------------------------------------------------------------------


def hook(seed: Seed, receiver: HttpReceiver, name: str = "ops", **options: Any) -> str | None:
    # One message per new ticket: its creation (routing's `assigned` event is not wanted).
    options.setdefault("events", ["created"])
    _, secret = webhooks.create_webhook(seed.db, seed.request("admin"), name=name,
                                        url=receiver.url, **options)
    return secret


def test_a_webhook_delivery_is_signed_over_timestamp_and_body(seed: Seed):
    with http_receiver() as receiver:
        secret = hook(seed, receiver)
        number = new_ticket(seed)
        assert worker(seed, settings_for()).run_once().sent == 1
    [call] = receiver.received
    headers = {key.lower(): value for key, value in call.headers.items()}
    assert secret is not None
    assert secret.startswith("whsec_")
    assert formats.verify(secret, headers["x-ticketflow-timestamp"], call.body,
                          headers["x-ticketflow-signature"])
    assert not formats.verify(secret, headers["x-ticketflow-timestamp"], call.body + b" ",
                              headers["x-ticketflow-signature"])
    assert headers["x-ticketflow-timestamp"] == str(int(seed.clock().timestamp()))
    assert headers["x-ticketflow-event"] == "created"
    [message] = messages(seed, "webhook")
    assert headers["x-ticketflow-delivery"] == str(message.id)
    assert call.json()["ticket"]["number"] == number
    assert message.state == "sent"


def test_a_failing_receiver_is_retried_with_backoff_then_the_message_is_dead(seed: Seed):
    settings = settings_for(max_attempts=3)
    with http_receiver(default=503) as receiver:
        hook(seed, receiver)
        new_ticket(seed)
        runner = worker(seed, settings)
        for attempt in (1, 2):
            assert runner.run_once().retrying == 1
            [message] = messages(seed, "webhook")
            pause = outbox.backoff(message.id, attempt)
            assert message.next_attempt_at == seed.clock() + pause
            assert timedelta(seconds=15) * 2 ** (attempt - 1) <= pause <= timedelta(
                seconds=30) * 2 ** (attempt - 1)
            seed.clock.advance(seconds=pause.total_seconds() - 1)
            assert runner.run_once().claimed == 0  # not yet
            seed.clock.advance(seconds=1)
        assert runner.run_once().dead == 1
        seed.clock.advance(days=1)
        assert runner.run_once().claimed == 0
    [message] = messages(seed, "webhook")
    assert (message.state, message.attempts, message.last_error) == ("dead", 3, "HTTP 503")
    assert len(receiver.received) == 3


def test_a_dead_letter_retried_by_an_admin_goes_out_once_the_receiver_is_back(seed: Seed):
    with http_receiver(404, default=200) as receiver:
        hook(seed, receiver)
        new_ticket(seed)
        runner = worker(seed, settings_for())
        assert runner.run_once().dead == 1  # a 404 will not heal by itself: dead at once
        [message] = messages(seed, "webhook")
        retried = outbox.retry(seed.db, seed.request("admin"), message.id)
        assert (retried.state, retried.attempts, retried.last_error) == (
            "pending", 0, "HTTP 404")
        assert runner.run_once().sent == 1
    assert len(receiver.received) == 2


def test_a_slow_receiver_times_out_and_never_blocks_ticket_handling(seed: Seed):
    with http_receiver("hang") as receiver:
        hook(seed, receiver, events=["created", "commented", "claimed"])
        number = new_ticket(seed)
        runner = worker(seed, settings_for(webhook_timeout=30.0))
        outcome: list[Any] = []
        sending = threading.Thread(target=lambda: outcome.append(runner.run_once()))
        sending.start()
        assert receiver.arrived.wait(30)
        # The worker is stuck in the receiver's hands; tickets go on being handled.
        tickets.comment(seed.db, seed.request("li"), number, "still there?")
        tickets.claim(seed.db, seed.request("wang"), number)
        receiver.release()
        sending.join()
        assert outcome[0].sent == 1  # slow, but it answered
        # A short timeout turns the next hang into a recorded failure.
        receiver.hang_next()
        report = worker(seed, settings_for(webhook_timeout=0.2)).run_once()
    assert (report.retrying, report.sent) == (1, 1)
    [failed] = [m for m in messages(seed, "webhook") if m.state == "failed"]
    assert failed.last_error == "no answer within 0.2 s"


def test_queued_messages_of_a_deleted_webhook_are_dead_letters(seed: Seed):
    with http_receiver() as receiver:
        hook(seed, receiver)
        new_ticket(seed)
        webhooks.delete_webhook(seed.db, seed.request("admin"), "ops")
        assert worker(seed, settings_for()).run_once().claimed == 0
    [message] = messages(seed, "webhook")
    assert (message.state, message.last_error) == ("dead", "the webhook was deleted")
    assert receiver.received == []


@pytest.mark.parametrize(("fmt", "answer", "state"), [
    ("dingtalk", {"errcode": 0, "errmsg": "ok"}, "sent"),
    ("dingtalk", {"errcode": 310000, "errmsg": "keywords not in content"}, "failed"),
    ("wecom", {"errcode": 0, "errmsg": "ok"}, "sent"),
    ("feishu", {"code": 0, "msg": "success", "data": {}}, "sent"),
    ("feishu", {"code": 19021, "msg": "sign match fail"}, "failed"),
], ids=["dingtalk", "dingtalk-refuses", "wecom", "feishu", "feishu-refuses"])
def test_robots_answer_200_and_their_error_code_decides(seed: Seed, fmt: str,
                                                        answer: dict[str, Any], state: str):
    with http_receiver(answer) as receiver:
        hook(seed, receiver, fmt=fmt, secret="SEC-robot-secret", language="zh")
        new_ticket(seed)
        worker(seed, settings_for()).run_once()
    [message] = messages(seed, "webhook")
    assert message.state == state
    [call] = receiver.received
    body = call.json()
    if fmt == "dingtalk":
        query = dict(part.split("=", 1) for part in call.path.split("?", 1)[1].split("&"))
        assert unquote_plus(query["sign"]) == formats.dingtalk_sign(
            "SEC-robot-secret", int(query["timestamp"]))
        assert body["msgtype"] == "markdown"
    elif fmt == "feishu":
        assert body["sign"] == formats.feishu_sign("SEC-robot-secret", int(body["timestamp"]))
        assert body["msg_type"] == "post"
    else:
        assert body["msgtype"] == "markdown"


# --- two workers, one message ----------------------------------------------------------


def test_two_workers_never_hold_one_message_and_an_expired_lease_passes_it_on(seed: Seed):
    with http_receiver() as receiver:
        hook(seed, receiver)
        new_ticket(seed)
        first = outbox.claim(seed.db, now=seed.clock(), owner="w1",
                             lease=timedelta(minutes=5))
        assert len(first) == 1
        assert outbox.claim(seed.db, now=seed.clock(), owner="w2") == []
        seed.clock.advance(minutes=5)  # w1 died holding it
        assert worker(seed, settings_for(), owner="w2").run_once().sent == 1
        late = outbox.settle(seed.db, first[0].id, owner="w1",
                             result=Result.sent(), now=seed.clock(), max_attempts=3)
    assert late is None  # w1's record loses: the message was w2's
    assert len(receiver.received) == 1
