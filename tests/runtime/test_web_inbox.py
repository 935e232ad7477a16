"""My notifications in the browser: the inbox page, the unread badge in the header,
marking one or all read, paging, and what each kind of user is told (Flask test client,
SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from runtime.services import inbox, tickets
from tests.runtime.conftest import VALID_REPAIR, Seed
from tests.runtime.web_helpers import log_in, page_token, text

BADGE = re.compile(r'class="inbox-link">Notifications <span class="count"[^>]*>(\d+)</span>')


@pytest.fixture
def number(seed: Seed) -> str:
    """li's repair ticket, taken by wang."""
    number = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
    tickets.claim(seed.db, seed.request("wang"), number)
    return number


def mention(seed: Seed, number: str, body: str, by: str = "chen") -> None:
    tickets.comment(seed.db, seed.request(by), number, body, internal=True)


def badge(client: FlaskClient, path: str = "/inbox") -> int:
    """The unread count the header shows (0 when it shows none)."""
    found = BADGE.search(text(client.get(path)))
    return int(found.group(1)) if found else 0


def unread_ids(seed: Seed, username: str) -> list[int]:
    page = inbox.list_notifications(seed.db, seed.request(username), unread_only=True)
    return [item.id for item in page.items]


def test_a_mention_shows_in_the_inbox_escaped_with_a_link_to_the_ticket(
        client: FlaskClient, seed: Seed, number: str) -> None:
    mention(seed, number, "@wang <script>alert(1)</script> please look")
    log_in(client, "wang")
    page = text(client.get("/inbox"))
    assert "Mention" in page
    assert f'href="/t/{number}"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; please look" in page
    assert "<script>alert(1)" not in page
    assert badge(client, "/work/mine") == 1  # every page's header, not just the inbox


@pytest.mark.parametrize(("who", "empty_text"), [
    ("wang", "when someone @mentions you"),
    ("li", "when someone answers one of your tickets"),
])
def test_an_empty_inbox_says_what_will_arrive(client: FlaskClient, seed: Seed, who: str,
                                              empty_text: str) -> None:
    log_in(client, who)
    response = client.get("/inbox")
    assert response.status_code == 200
    assert empty_text in text(response)
    assert badge(client) == 0


def test_a_requester_hears_of_a_reply_on_their_ticket(client: FlaskClient, seed: Seed,
                                                      number: str) -> None:
    tickets.comment(seed.db, seed.request("wang"), number, "We are on our way.")
    tickets.comment(seed.db, seed.request("wang"), number, "internal: @chen spare part?",
                    internal=True)
    log_in(client, "li")
    page = text(client.get("/inbox"))
    assert "We are on our way." in page
    assert "spare part" not in page  # internal notes never reach the customer
    assert badge(client) == 1


def test_opening_a_notification_marks_it_read_and_goes_to_the_ticket(
        client: FlaskClient, seed: Seed, number: str) -> None:
    mention(seed, number, "@wang first")
    mention(seed, number, "@wang second")
    log_in(client, "wang")
    first, second = unread_ids(seed, "wang")
    token = page_token(client, "/inbox")
    opened = client.post(f"/inbox/{first}/read", data={"csrf_token": token, "open": "1"})
    assert opened.status_code == 302
    assert opened.location == f"/t/{number}"
    assert unread_ids(seed, "wang") == [second]
    marked = client.post(f"/inbox/{second}/read",
                         data={"csrf_token": token, "next": "/inbox?unread=1"})
    assert marked.location == "/inbox?unread=1"
    assert "You have read everything." in text(client.get("/inbox?unread=1"))
    assert badge(client) == 0


def test_mark_all_read_clears_only_my_unread(client: FlaskClient, seed: Seed,
                                             number: str) -> None:
    for index in range(3):
        mention(seed, number, f"@wang @zhao look #{index}")
    log_in(client, "wang")
    assert badge(client) == 3
    response = client.post("/inbox/read-all", data={"csrf_token": page_token(client, "/inbox")},
                           follow_redirects=True)
    assert "Marked 3 notification(s) as read." in text(response)
    assert badge(client) == 0
    assert len(unread_ids(seed, "zhao")) == 3  # someone else's inbox is untouched


def test_mark_all_read_in_the_service_returns_how_many_changed(seed: Seed,
                                                               number: str) -> None:
    mention(seed, number, "@wang one")
    mention(seed, number, "@wang two")
    assert inbox.mark_all_read(seed.db, seed.request("wang")) == 2
    assert inbox.mark_all_read(seed.db, seed.request("wang")) == 0
    assert inbox.unread_count(seed.db, seed.request("wang")) == 0
    page = inbox.list_notifications(seed.db, seed.request("wang"))
    assert all(item.read_at == seed.clock() for item in page.items)


def test_someone_elses_notification_cannot_be_marked(client: FlaskClient, seed: Seed,
                                                     number: str) -> None:
    mention(seed, number, "@wang mine")
    [theirs] = unread_ids(seed, "wang")
    log_in(client, "li")
    response = client.post(f"/inbox/{theirs}/read",
                           data={"csrf_token": page_token(client, "/inbox"), "open": "1"},
                           follow_redirects=True)
    assert "There is nothing here, or you may not see it." in text(response)
    assert unread_ids(seed, "wang") == [theirs]


@pytest.mark.parametrize("path", ["/inbox/read-all", "/inbox/1/read"])
def test_marking_needs_the_csrf_token(client: FlaskClient, seed: Seed, number: str,
                                      path: str) -> None:
    mention(seed, number, "@wang hi")
    log_in(client, "wang")
    assert client.post(path, data={}).status_code == 400
    assert len(unread_ids(seed, "wang")) == 1


def test_the_inbox_pages_back_in_time(client: FlaskClient, seed: Seed, number: str) -> None:
    for index in range(35):
        mention(seed, number, f"@wang ping #{index:02d}")
    log_in(client, "wang")
    first = text(client.get("/inbox"))
    assert "ping #34" in first
    assert "ping #04" not in first
    older = re.search(r'rel="next" class="button secondary" href="([^"]+)"', first)
    assert older
    second = text(client.get(older.group(1).replace("&amp;", "&")))
    assert "ping #04" in second
    assert "ping #34" not in second
    assert 'rel="next"' not in second


def test_the_inbox_needs_a_login(client: FlaskClient) -> None:
    assert client.get("/inbox").status_code == 302
