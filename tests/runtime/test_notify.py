"""What ticket events queue, for whom, in which language, and what it may contain: the
notifications are written in the change's own transaction, and the policy filters them
per recipient (on SQLite and PostgreSQL). Sending them is tests/runtime/test_delivery.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from runtime.models import Notification, OutboxMessage, TimerKind, Todo, User
from runtime.services import inbox as inbox_service
from runtime.services import tickets, timers, webhooks
from runtime.services.errors import Invalid
from tests.runtime.conftest import VALID_REPAIR, Seed

ID_CARD = "11010519491231002X"


def set_contact(seed: Seed, **languages: str) -> None:
    """Every seeded user gets an address name@example.com; some another language."""
    with seed.db.write() as session:
        for user in session.scalars(select(User)):
            user.email = f"{user.username}@example.com"
            user.language = languages.get(user.username, "en")


@pytest.fixture
def contacts(seed: Seed) -> Seed:
    set_contact(seed, wang="zh")
    return seed


def outbox(seed: Seed, channel: str | None = None) -> list[OutboxMessage]:
    with seed.db.read() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if channel is not None:
            query = query.where(OutboxMessage.channel == channel)
        return list(session.scalars(query))


def inbox(seed: Seed, username: str) -> list[Notification]:
    with seed.db.read() as session:
        return list(session.scalars(
            select(Notification).join(User, User.id == Notification.user_id)
            .where(User.username == username).order_by(Notification.id)))


def new_ticket(seed: Seed, by: str = "li", requester: str | None = None,
               **values: Any) -> str:
    return tickets.create(seed.db, seed.request(by), "repair", {**VALID_REPAIR, **values},
                          requester=requester).number


def close(seed: Seed, number: str) -> None:
    tickets.fire(seed.db, seed.request("wang"), number, "resolve", {"resolution": "Cleaned."})
    tickets.fire(seed.db, seed.request("li"), number, "confirm", {"confirmed": True})


def test_a_mention_gives_a_todo_an_inbox_entry_and_an_email_in_the_users_language(
        contacts: Seed):
    number = new_ticket(contacts)
    tickets.comment(contacts.db, contacts.request("chen"), number, "@wang please look")
    [entry] = inbox(contacts, "wang")
    assert entry.kind == "mention"
    assert entry.title == f"chen 在工单 {number}「PRN-0042」中提到了你"
    assert entry.data == {"by": "chen", "number": number, "state": "维修中",
                          "ticket_title": "PRN-0042", "detail": "@wang please look"}
    [mail] = [m for m in outbox(contacts, "email") if m.recipient == "wang@example.com"]
    assert (mail.language, mail.state) == ("zh", "pending")
    assert mail.subject == entry.title
    assert mail.payload["kind"] == "mention"
    assert mail.caused_by == entry.event_id
    [record] = [m for m in outbox(contacts, "inbox") if m.recipient == "wang"]
    assert (record.recipient, record.state, record.payload) == (
        "wang", "sent", {"notification": entry.id})
    with contacts.db.read() as session:
        assert session.scalar(select(Todo.kind)) == "mention"


@pytest.mark.parametrize(("by", "text", "internal", "told"), [
    ("wang", "We ordered the part.", False, ["reply"]),
    ("wang", "@li which floor?", False, ["mention"]),  # one notice, not two
    ("wang", "check the warranty", True, []),  # internal: not for the customer
    ("li", "any news?", False, []),  # the requester's own comment
], ids=["staff-reply", "mentioning-the-requester", "internal", "own-comment"])
def test_the_requester_hears_of_public_replies(contacts: Seed, by: str, text: str,
                                               internal: bool, told: list[str]):
    number = new_ticket(contacts)
    tickets.comment(contacts.db, contacts.request(by), number, text, internal=internal)
    assert [n.kind for n in inbox(contacts, "li")] == told
    if told == ["reply"]:
        assert inbox(contacts, "li")[0].title == f"New reply on your ticket {number}: PRN-0042"


def test_a_user_without_an_address_gets_the_inbox_entry_only(seed: Seed):
    number = new_ticket(seed)
    tickets.comment(seed.db, seed.request("chen"), number, "@wang see this")
    assert len(inbox(seed, "wang")) == 1
    assert outbox(seed, "email") == []


def test_a_refused_change_queues_nothing(contacts: Seed):
    number = new_ticket(contacts)
    with pytest.raises(Invalid):
        tickets.fire(contacts.db, contacts.request("wang"), number, "resolve", {})
    tickets.comment(contacts.db, contacts.request("li"), number, "thanks")  # no mention
    assert outbox(contacts) == []


@pytest.mark.parametrize(("target", "told"), [
    ({"to_user": "chen"}, {"chen": "assigned"}),
    ({"to_team": "repair"}, {"zhao": "team_assigned", "chen": "team_assigned"}),
    ({"to_team": "repair", "to_user": "chen"}, {"chen": "assigned"}),
], ids=["to-a-user", "to-a-team", "to-a-user-in-a-team"])
def test_a_transfer_tells_the_new_assignee_or_the_team(contacts: Seed, target: dict[str, str],
                                                       told: dict[str, str]):
    number = new_ticket(contacts)
    tickets.claim(contacts.db, contacts.request("wang"), number)
    tickets.transfer(contacts.db, contacts.request("wang"), number, reason="VIP customer",
                     **target)
    got = {name: [n.kind for n in inbox(contacts, name)] for name in
           ("admin", "zhao", "wang", "chen", "sun", "li")}
    assert got == {name: [told[name]] if name in told else [] for name in got}
    mails = {m.recipient for m in outbox(contacts, "email")}
    assert mails == {f"{name}@example.com" for name in told}


def test_closing_tells_the_requester_with_a_survey_link_to_come(contacts: Seed):
    number = new_ticket(contacts)
    close(contacts, number)
    [entry] = inbox(contacts, "li")
    assert entry.title == f"Your ticket {number} is closed: PRN-0042"
    [mail] = [m for m in outbox(contacts, "email") if m.recipient == "li@example.com"]
    assert mail.payload["survey_for"] == number


def test_a_hidden_field_never_reaches_the_requester_but_reaches_staff(contacts: Seed):
    number = new_ticket(contacts, by="wang", requester="li", id_card=ID_CARD)
    tickets.comment(contacts.db, contacts.request("wang"), number, "@chen check the ID")
    close(contacts, number)
    by_recipient = {m.recipient: m for m in outbox(contacts, "email")}
    staff = by_recipient["chen@example.com"].payload["params"]["ticket"]["fields"]
    customer = by_recipient["li@example.com"].payload["params"]["ticket"]["fields"]
    assert ["ID card number", ID_CARD] in staff
    assert ID_CARD not in repr(customer)
    assert all(ID_CARD not in repr(n.data) + n.title for n in inbox(contacts, "li"))


def test_the_title_is_not_shown_to_someone_it_would_leak_to(contacts: Seed):
    # A ticket type whose title comes from a restricted field: its notice shows the number.
    from runtime.services import definitions
    source = """
ticket_type: secret
version: 1
name: {en: Secret, zh: 机密}
number_prefix: SEC
fields:
  - {id: codename, type: string, required: true, visible_to: [agent]}
  - {id: note, type: text}
states:
  - {id: new, initial: true}
  - {id: done, final: true}
transitions:
  - {id: finish, from: new, to: done}
"""
    definitions.install(contacts.db, contacts.request("admin"), source)
    number = tickets.create(contacts.db, contacts.request("wang"), "secret",
                            {"codename": "Bluebird"}, transition=None, requester="li").number
    tickets.fire(contacts.db, contacts.request("wang"), number, "finish")
    [entry] = inbox(contacts, "li")
    assert entry.title == f"Your ticket {number} is closed: {number}"


# --- webhooks ------------------------------------------------------------------------


def subscribe(seed: Seed, name: str = "ops", **options: Any) -> str | None:
    _, secret = webhooks.create_webhook(seed.db, seed.request("admin"), name=name,
                                        url="https://hooks.example.com/in", **options)
    return secret


def test_webhooks_get_the_events_they_subscribe_to(seed: Seed):
    subscribe(seed, "all")
    subscribe(seed, "comments", events=["commented"])
    number = new_ticket(seed)
    tickets.comment(seed.db, seed.request("li"), number, "any news?")
    got = [(m.recipient, m.payload["event"]) for m in outbox(seed, "webhook")]
    assert got == [("all", "created"), ("all", "assigned"), ("all", "commented"),
                   ("comments", "commented")]


def test_a_webhook_added_between_two_changes_hears_only_the_second(seed: Seed):
    # The active webhooks are read once per transaction, never kept beyond it.
    new_ticket(seed)
    subscribe(seed, "late")
    number = new_ticket(seed)
    got = [(m.payload["event"], m.payload["ticket"]["number"]) for m in outbox(seed, "webhook")]
    assert got == [("created", number), ("assigned", number)]


def test_a_file_attached_to_a_ticket_reaches_the_webhooks_that_follow_attachments(
        seed: Seed, tmp_path: Any):
    from runtime.services import attachments
    from tests.runtime.test_attachments_service import LIMIT, PDF

    subscribe(seed, "files", events=["attached"])
    number = new_ticket(seed)
    attachments.attach(seed.db, seed.request("li"), tmp_path, number, PDF, "invoice.pdf",
                       max_size=LIMIT)
    [message] = outbox(seed, "webhook")
    assert message.payload["event"] == "attached"
    assert message.payload["data"]["file"]["name"] == "invoice.pdf"


def test_a_webhook_carries_only_what_needs_no_role(seed: Seed):
    subscribe(seed)
    number = new_ticket(seed, by="wang", requester="li", id_card=ID_CARD)
    tickets.comment(seed.db, seed.request("wang"), number, "internal note", internal=True)
    tickets.claim(seed.db, seed.request("wang"), number)
    tickets.transfer(seed.db, seed.request("wang"), number, to_user="chen",
                     reason="the customer shouted")
    messages = outbox(seed, "webhook")
    assert [m.payload["event"] for m in messages] == ["created", "assigned", "claimed",
                                                      "transferred"]
    # Routing's why (who was away, on leave, how loaded) is staff business.
    assert set(messages[1].payload["data"]) == {"outcome", "team", "winner"}
    created = messages[0].payload
    assert created["ticket"]["values"]["device"] == "PRN-0042"
    assert "id_card" not in created["ticket"]["values"]
    assert "id_card" not in created["data"]["values"]
    assert "reason" not in messages[3].payload["data"]
    assert ID_CARD not in repr([m.payload for m in messages])


def test_an_inactive_or_deleted_webhook_gets_nothing_new(seed: Seed):
    subscribe(seed, "gone")
    webhooks.delete_webhook(seed.db, seed.request("admin"), "gone")
    new_ticket(seed)
    assert outbox(seed, "webhook") == []
    subscribe(seed, "paused")
    with seed.db.write() as session:
        from runtime.models import Webhook
        session.execute(update(Webhook).values(active=False))
    new_ticket(seed)
    assert outbox(seed, "webhook") == []


def _switch_language(seed: Seed, username: str, language: str) -> None:
    with seed.db.write() as session:
        session.execute(update(User).where(User.username == username)
                        .values(language=language))


def test_an_inbox_title_reads_in_the_readers_language_of_now(contacts: Seed):
    number = new_ticket(contacts)
    tickets.comment(contacts.db, contacts.request("chen"), number, "@wang please look")
    with contacts.db.write() as session:  # a reminder written in both languages
        timers.schedule(session, kind=TimerKind.NOTIFY, key="quarterly", now=contacts.clock(),
                        due_at=contacts.clock(), payload={
                            "users": ["wang"], "email": False,
                            "subject": {"en": "Quarterly check", "zh": "季度检查"},
                            "text": {"en": "Check the printers.", "zh": "检查打印机。"}})
    contacts.clock.advance(minutes=1)
    timers.run_due(contacts.db, now=contacts.clock(), owner="test")

    def titles() -> list[str]:
        page = inbox_service.list_notifications(contacts.db, contacts.request("wang"))
        return [item.title for item in reversed(page.items)]

    assert titles() == [f"chen 在工单 {number}「PRN-0042」中提到了你", "季度检查"]
    _switch_language(contacts, "wang", "en")
    assert titles() == [f"chen mentioned you on {number}: PRN-0042", "Quarterly check"]
    stored = [entry.title for entry in inbox(contacts, "wang")]
    assert stored == [f"chen 在工单 {number}「PRN-0042」中提到了你", "季度检查"]  # as sent
