"""The customer portal without an account: open a ticket, keep the secret link, follow
the ticket, take the requester's steps and answer the survey (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import re

import pytest
from flask.testing import FlaskClient

from runtime.services import tickets
from runtime.web.security import CSRF_HEADER
from tests.browser.test_repair_flow import png
from tests.runtime.conftest import VALID_REPAIR, Seed
from tests.runtime.web_helpers import form_of, page_token, text

CONTACT = {"portal.name": "Zhou Xin", "portal.email": "zhou.xin@example.cn"}


def _open(client: FlaskClient, **values: str) -> tuple[str, str]:
    """Send the repair form anonymously; returns the ticket number and the follow path."""
    token = page_token(client, "/portal/new/repair")
    response = client.post("/portal/new/repair", data={
        **form_of(**dict(VALID_REPAIR, **values)), **CONTACT, "csrf_token": token})
    assert response.status_code == 201, text(response)
    body = text(response)
    number = re.search(r'id="ticket-number">([^<]+)<', body).group(1)
    link = re.search(r'id="follow-link" readonly value="([^"]+)"', body).group(1)
    return number, link.split("localhost", 1)[-1]


def test_an_anonymous_customer_opens_a_ticket_and_follows_it(client: FlaskClient,
                                                             seed: Seed) -> None:
    number, link = _open(client)
    page = text(client.get(link))
    assert number in page
    assert "Repairing" in page  # the software branch
    view = tickets.get(seed.db, seed.request("admin"), number)
    assert view.requester.startswith("guest-")
    other_browser = client.application.test_client()
    assert other_browser.get(link).status_code == 200  # the link is the credential
    assert other_browser.get(link[:-3] + "xyz").status_code == 404
    assert other_browser.get(link.replace(number, "REP-999999")).status_code == 404


def test_each_submission_gets_its_own_guest(client: FlaskClient, seed: Seed) -> None:
    first, _ = _open(client)
    second, _ = _open(client, device="PRN-0099")
    admin = seed.request("admin")
    assert tickets.get(seed.db, admin, first).requester != \
        tickets.get(seed.db, admin, second).requester


def test_missing_contact_and_fields_are_all_reported_and_kept(client: FlaskClient) -> None:
    token = page_token(client, "/portal/new/repair")
    response = client.post("/portal/new/repair", data={
        **form_of(device="PRN-0001", fault="hardware"), "portal.name": "",
        "portal.email": "not-an-address", "csrf_token": token})
    assert response.status_code == 422
    body = text(response)
    assert "Enter your name." in body
    assert "Enter an e-mail address" in body
    assert 'value="not-an-address"' in body
    assert 'value="PRN-0001"' in body
    assert re.search(r'id="w-intake-description".*?<li>', body, re.S)


def test_a_photo_uploaded_before_sending_belongs_to_this_browser(client: FlaskClient) -> None:
    token = page_token(client, "/portal/new/repair")
    stored = client.post("/portal/uploads", content_type="multipart/form-data",
                         headers={CSRF_HEADER: token},
                         data={"file": (io.BytesIO(png()), "jam.png")}).get_json()["file"]
    thief = client.application.test_client()
    thief_token = page_token(thief, "/portal/new/repair")
    stolen = thief.post("/portal/new/repair", data={
        **form_of(**dict(VALID_REPAIR, fault="hardware")), **CONTACT, "photos": stored["id"],
        "csrf_token": thief_token})
    assert stolen.status_code == 422  # someone else's upload is not theirs to use
    number, link = _open(client, fault="hardware", photos=stored["id"])
    assert "jam.png" in text(client.get(link))


def test_the_customer_confirms_and_answers_the_survey(client: FlaskClient,
                                                      seed: Seed) -> None:
    number, link = _open(client)
    tickets.claim(seed.db, seed.request("wang"), number)
    tickets.fire(seed.db, seed.request("wang"), number, "resolve", {"resolution": "Fixed."})
    page = text(client.get(link))
    assert ">Confirm</h2>" in page
    token = page_token(client, link)
    unticked = client.post(f"{link}/fire/confirm", data={
        "csrf_token": token, "present.confirmed": "1"})
    assert unticked.status_code == 422  # `requires: [confirmed]`
    confirmed = client.post(f"{link}/fire/confirm", data={
        "csrf_token": token, "present.confirmed": "1", "confirmed": "on"})
    assert confirmed.status_code == 302
    closed = text(client.get(link))
    assert "How did we do?" in closed
    assert "Write to us" not in closed  # a closed ticket takes no more replies
    assert '<a href="/portal/new/repair">Open a new ticket to follow up.</a>' in closed
    refused = client.post(f"{link}/comment", data={"csrf_token": token, "body": "Hello?"})
    assert "This ticket is closed." in text(client.get(refused.location))
    answered = client.post(f"{link}/survey", data={"csrf_token": token, "csat": "5",
                                                    "nps": "9", "comment": "Quick, thanks"})
    assert "Thank you for your feedback!" in text(client.get(answered.location))
    again = client.post(f"{link}/survey", data={"csrf_token": token, "csat": "1"})
    assert "already answered" in text(client.get(again.location))


def test_the_customer_writes_on_the_ticket(client: FlaskClient, seed: Seed) -> None:
    number, link = _open(client)
    client.post(f"{link}/comment", data={"csrf_token": page_token(client, link),
                                         "body": "Any news?"})
    entries = tickets.timeline(seed.db, seed.request("wang"), number)
    assert entries[-1].data["body"] == "Any news?"


def test_a_follow_link_can_be_found_by_number_and_secret(client: FlaskClient) -> None:
    number, link = _open(client)
    secret = link.rsplit("/", 1)[-1]
    response = client.post("/portal/follow", data={
        "csrf_token": page_token(client, "/portal/follow"), "number": number.lower(),
        "token": f"http://example/portal/t/{number}/{secret}"})
    assert response.location == link


def test_staff_make_a_follow_link_for_a_caller(client: FlaskClient, seed: Seed) -> None:
    from tests.runtime.web_helpers import log_in

    number = tickets.create(seed.db, seed.request("wang"), "repair", VALID_REPAIR,
                            requester="li").number
    log_in(client, "wang")
    body = text(client.post(f"/t/{number}/link",
                            data={"csrf_token": page_token(client, f"/t/{number}")}))
    link = re.search(r'class="copy" readonly value="[^"]*?(/portal/t/[^"]+)"', body).group(1)
    anonymous = client.application.test_client()
    assert number in text(anonymous.get(link))


@pytest.mark.parametrize(("accept", "expected"), [("zh-CN,zh;q=0.9", "维修工单"),
                                                   ("en-US,en;q=0.8", "Repair order")],
                         ids=["zh", "en"])
def test_the_portal_follows_the_browsers_language(client: FlaskClient, accept: str,
                                                  expected: str) -> None:
    page = text(client.get("/portal/new/repair", headers={"Accept-Language": accept}))
    assert expected in page


def test_the_language_switch_is_remembered(client: FlaskClient) -> None:
    client.post("/language", data={"csrf_token": page_token(client, "/portal/"), "lang": "zh",
                                   "next": "/portal/"})
    assert "有什么可以帮您" in text(client.get("/portal/",
                                           headers={"Accept-Language": "en"}))


def test_a_browser_sees_the_files_of_each_ticket_it_follows(client: FlaskClient) -> None:
    ids = []
    for device in ("PRN-0001", "PRN-0002"):
        token = page_token(client, "/portal/new/repair")
        stored = client.post("/portal/uploads", content_type="multipart/form-data",
                             headers={CSRF_HEADER: token},
                             data={"file": (io.BytesIO(png()), f"{device}.png")})
        ids.append(stored.get_json()["file"]["id"])
        _open(client, fault="hardware", device=device, photos=ids[-1])
    for public_id in ids:
        assert client.get(f"/files/{public_id}").status_code == 200
    stranger = client.application.test_client()
    assert stranger.get(f"/files/{ids[0]}").status_code == 404
