"""Every page of the workspace, the ticket page, the portal and the supervisor view, as
each kind of person sees it (Flask test client, SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from runtime.services import tickets
from tests.runtime.conftest import VALID_REPAIR, Seed
from tests.runtime.web_helpers import log_in, text

ANYONE = None
# (who, path, status, a text the page shows) — REP-000001 is li's ticket, not yet taken.
PAGES = [
    ("wang", "/work/mine", 200, "Nothing is assigned to you"),
    ("wang", "/work/team", 200, "Queues"),
    ("wang", "/work/pool", 200, "REP-000001"),
    ("wang", "/work/all", 200, "REP-000001"),
    ("wang", "/work/todos", 200, "Nothing to do here"),
    ("wang", "/work/board", 200, "Repairing"),
    ("wang", "/t/REP-000001", 200, "Take it"),
    ("wang", "/supervise", 404, ""),
    ("wang", "/work/nope", 404, ""),
    ("zhao", "/supervise", 200, "No ticket has breached"),
    ("zhao", "/work/board?type=repair&mine=1", 200, "No tickets here."),
    ("li", "/", 200, "REP-000001"),
    ("li", "/t/REP-000001", 200, "History"),
    ("li", "/work/mine", 404, ""),
    ("zhou", "/", 200, "You have not opened any ticket yet."),
    ("zhou", "/t/REP-000001", 404, ""),
    (ANYONE, "/portal/", 200, "Repair order"),
    (ANYONE, "/portal/new/repair", 200, "How can we reach you?"),
    (ANYONE, "/portal/new/nope", 404, ""),
    (ANYONE, "/portal/follow", 200, "Ticket number"),
    (ANYONE, "/portal/t/REP-000001/not-the-secret", 404, ""),
    (ANYONE, "/work/mine", 302, ""),
    (ANYONE, "/t/REP-000001", 302, ""),
]


@pytest.fixture
def one_ticket(seed: Seed) -> str:
    return tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number


@pytest.mark.parametrize(("who", "path", "status", "shows"), PAGES,
                         ids=[f"{who or 'anonymous'}:{path}" for who, path, *_ in PAGES])
def test_each_page_answers_each_person(client: FlaskClient, one_ticket: str, who: str | None,
                                       path: str, status: int, shows: str) -> None:
    if who is not None:
        log_in(client, who)
    response = client.get(path)
    assert response.status_code == status
    assert shows in text(response)
    if status == 200:
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_a_staff_member_starts_in_their_queue_and_a_customer_in_their_requests(
        client: FlaskClient) -> None:
    log_in(client, "wang")
    assert client.get("/").location == "/work/mine"
    other = client.application.test_client()
    log_in(other, "li")
    assert other.get("/").status_code == 200


def test_queues_filter_search_sort_and_page(client: FlaskClient, seed: Seed) -> None:
    numbers = [tickets.create(seed.db, seed.request("li"), "repair",
                              dict(VALID_REPAIR, device=f"PRN-{i:04d}")).number
               for i in range(30)]
    tickets.claim(seed.db, seed.request("wang"), numbers[0])
    log_in(client, "wang")
    first = text(client.get("/work/all"))
    assert numbers[-1] in first
    assert numbers[0] not in first
    assert 'rel="next"' in first
    oldest = text(client.get("/work/all?sort=oldest"))
    assert numbers[0] in oldest
    assert numbers[-1] not in oldest
    found = text(client.get("/work/all?q=PRN-0007"))
    assert numbers[7] in found
    assert numbers[8] not in found
    mine = text(client.get("/work/mine"))
    assert numbers[0] in mine
    assert numbers[1] not in mine
    assert numbers[0] not in text(client.get("/work/pool?sort=oldest"))


@pytest.mark.parametrize(("later", "mark", "words"), [
    ({}, "sla-running", "SLA on track"),
    ({"days": 30}, "sla-breached", "SLA breached"),  # past every deadline, still open
])
def test_each_listed_ticket_carries_its_most_pressing_sla_status(
        client: FlaskClient, seed: Seed, later: dict[str, float], mark: str, words: str
        ) -> None:
    number = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
    seed.clock.advance(**later)
    log_in(client, "wang")
    row = re.search(rf"<tr>(?:(?!</tr>).)*{number}.*?</tr>", text(client.get("/work/all")),
                    re.S).group(0)
    assert f'class="sla-dot {mark}"' in row
    assert f'title="{words}"' in row


def test_the_next_page_continues_where_the_first_ended(client: FlaskClient, seed: Seed) -> None:
    numbers = [tickets.create(seed.db, seed.request("li"), "repair",
                              dict(VALID_REPAIR, device=f"LAP-{i:04d}")).number
               for i in range(30)]
    log_in(client, "wang")
    first = text(client.get("/work/all?sort=updated"))
    next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = text(client.get(next_url))
    shown = set(re.findall(r"REP-\d{6}", first)) | set(re.findall(r"REP-\d{6}", second))
    assert shown == set(numbers)


def test_every_page_names_its_icon_so_browsers_ask_for_no_missing_favicon(
        client: FlaskClient) -> None:
    login = text(client.get("/login"))
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', login)
    assert icon is not None
    answer = client.get(icon.group(1))
    assert (answer.status_code, answer.mimetype) == (200, "image/svg+xml")
    assert 'rel="icon"' in text(client.get("/no-such-page"))  # error pages too


def test_htmx_gets_only_the_list(client: FlaskClient, one_ticket: str) -> None:
    log_in(client, "wang")
    response = client.get("/work/all?q=REP", headers={"HX-Request": "true",
                                                     "HX-Target": "queue-list"})
    body = text(response)
    assert body.lstrip().startswith('<div id="queue-list"')
    assert "<html" not in body


def test_a_bad_cursor_starts_again_with_a_message(client: FlaskClient, one_ticket: str) -> None:
    log_in(client, "wang")
    response = client.get("/work/all?cursor=not-a-cursor")
    assert response.status_code == 200
    assert "flash-error" in text(response)
