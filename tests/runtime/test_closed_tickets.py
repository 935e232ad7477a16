"""A closed ticket takes no more replies or files; staff may still leave internal notes.
Through the service, the API and the page (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from runtime.models import Attachment, Event
from runtime.services import attachments, tickets
from runtime.services.errors import Conflict
from tests.runtime.conftest import VALID_REPAIR, Seed
from tests.runtime.test_api_support import Api
from tests.runtime.web_helpers import log_in, page_token, text

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
LIMIT = 64 * 1024


def closed_ticket(seed: Seed) -> str:
    """li's repair, resolved by wang and confirmed by li: closed."""
    number = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
    tickets.fire(seed.db, seed.request("wang"), number, "resolve", {"resolution": "Done."})
    tickets.fire(seed.db, seed.request("li"), number, "confirm", {"confirmed": True})
    return number


def stored(seed: Seed) -> tuple[int, int]:
    with seed.db.read() as session:
        return (session.scalar(select(func.count()).select_from(Event)) or 0,
                session.scalar(select(func.count()).select_from(Attachment)) or 0)


@pytest.mark.parametrize(("who", "internal", "taken"), [
    ("li", False, False),       # the requester: the ticket is done
    ("wang", False, False),     # staff's public reply would reach a closed queue
    ("wang", True, True),       # an internal note is still kept
    ("admin", True, True),
])
def test_who_may_still_comment_on_a_closed_ticket(seed: Seed, who: str, internal: bool,
                                                   taken: bool) -> None:
    number = closed_ticket(seed)
    before = stored(seed)
    if taken:
        entry = tickets.comment(seed.db, seed.request(who), number, "Refund posted.",
                                internal=internal)
        assert entry.data["internal"] is internal
        assert stored(seed) == (before[0] + 1, before[1])
    else:
        with pytest.raises(Conflict) as raised:
            tickets.comment(seed.db, seed.request(who), number, "Still broken?",
                            internal=internal)
        assert raised.value.code == "closed"
        assert stored(seed) == before


@pytest.mark.parametrize("who", ["li", "wang", "admin"])
def test_nobody_attaches_a_file_to_a_closed_ticket_and_nothing_is_kept(
        seed: Seed, tmp_path: Path, who: str) -> None:
    number = closed_ticket(seed)
    before = stored(seed)
    storage = tmp_path / "attachments"
    with pytest.raises(Conflict) as raised:
        attachments.attach(seed.db, seed.request(who), storage, number, PDF, "late.pdf",
                           max_size=LIMIT)
    assert raised.value.code == "closed"
    assert stored(seed) == before
    assert not storage.exists() or not any(storage.rglob("*.*"))  # no blob left behind


def test_a_resolved_ticket_still_takes_the_customers_reply(seed: Seed) -> None:
    number = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
    tickets.fire(seed.db, seed.request("wang"), number, "resolve", {"resolution": "Done."})
    entry = tickets.comment(seed.db, seed.request("li"), number, "It jams again.")
    assert entry.kind == "commented"


def test_the_api_answers_409_closed(client: FlaskClient, token_for: Callable[[str], str],
                                    seed: Seed) -> None:
    number = closed_ticket(seed)
    response = Api(client, token_for).post(f"/tickets/{number}/comments", "li",
                                           json={"body": "Hello?"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "closed"


def test_the_page_of_a_closed_ticket_offers_notes_to_staff_and_a_new_ticket_to_customers(
        client: FlaskClient, seed: Seed) -> None:
    number = closed_ticket(seed)
    log_in(client, "li")
    page = text(client.get(f"/t/{number}"))
    assert "it takes no more replies or files" in page
    assert '<a href="/portal/new/repair">Open a new ticket to follow up.</a>' in page
    assert 'class="comment-form"' not in page
    assert 'class="attach-form"' not in page
    staff = client.application.test_client()
    log_in(staff, "wang")
    page = text(staff.get(f"/t/{number}"))
    assert "Add an internal note" in page
    assert '<input type="hidden" name="internal" value="on">' in page
    assert 'class="attach-form"' not in page
    assert "Open a new ticket" not in page


def test_a_reply_from_a_page_opened_before_closing_is_refused_with_a_message(
        client: FlaskClient, seed: Seed) -> None:
    number = closed_ticket(seed)
    log_in(client, "li")
    token = page_token(client, f"/t/{number}")
    before = stored(seed)
    sent = client.post(f"/t/{number}/comment", data={"csrf_token": token, "body": "Hello?"})
    assert sent.status_code == 302
    assert "This ticket is closed." in text(client.get(sent.location))
    assert stored(seed) == before
