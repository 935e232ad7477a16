"""The satisfaction survey in the browser, on SQLite and PostgreSQL: the page of the
one-time link the closing e-mail carries (no account needed), and the requester's own
ticket page."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from runtime.models import Survey
from runtime.services import surveys
from tests.runtime.conftest import Seed
from tests.runtime.test_auth import alert_of, csrf_from
from tests.runtime.test_notify import close, new_ticket
from tests.runtime.web_helpers import log_in, text


def _answers(seed: Seed) -> list[tuple[int | None, int | None, str | None]]:
    with seed.db.read() as session:
        return [(s.csat, s.nps, s.comment) for s in session.scalars(
            select(Survey).where(Survey.answered_at.is_not(None)))]


@pytest.fixture
def link(seed: Seed) -> tuple[str, str]:
    """A closed ticket of li's and the path of its survey link."""
    number = new_ticket(seed)
    close(seed, number)
    token = surveys.issue_link(seed.db, seed.request("li"), number)
    return number, f"/portal/survey/{token}"


def test_the_link_asks_about_the_ticket_and_takes_one_answer(client: FlaskClient, seed: Seed,
                                                            link: tuple[str, str]) -> None:
    number, path = link
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert f"About your ticket {number}: PRN-0042" in text(page)
    assert _answers(seed) == []  # opening the link (as a mail scanner does) answers nothing
    answered = client.post(path, data={"csrf_token": csrf_from(page), "csat": "4",
                                       "nps": "9", "comment": "Fast, thank you"})
    assert answered.status_code == 200
    assert f"Your answer about ticket {number} was saved." in text(answered)
    assert _answers(seed) == [(4, 9, "Fast, thank you")]
    again = client.get(path)
    assert again.status_code == 409
    assert alert_of(again) == "This survey was already answered. Thank you!"


@pytest.mark.parametrize(("form", "status", "alert"), [
    ({}, 422, "Choose how satisfied you are, from 1 to 5."),
    ({"csat": "9"}, 422, "Choose how satisfied you are, from 1 to 5."),
    ({"csat": "5", "comment": "x" * 2001}, 422, "Choose how satisfied you are, from 1 to 5."),
], ids=["no rating", "out of range", "comment too long"])
def test_a_refused_answer_saves_nothing(client: FlaskClient, seed: Seed,
                                        link: tuple[str, str], form: dict[str, str],
                                        status: int, alert: str) -> None:
    _number, path = link
    response = client.post(path, data={"csrf_token": csrf_from(client.get(path)), **form})
    assert response.status_code == status
    assert alert_of(response) == alert
    assert _answers(seed) == []


def test_an_unknown_link_says_so(client: FlaskClient) -> None:
    page = client.get("/portal/survey/not-a-real-link")
    assert page.status_code == 404
    assert alert_of(page) == "There is nothing here, or you may not see it."


def test_the_requester_answers_on_the_ticket_page(app, client: FlaskClient,
                                                  seed: Seed) -> None:
    number = new_ticket(seed)
    close(seed, number)
    staff = app.test_client()
    log_in(staff, "wang")
    assert 'id="survey"' not in text(staff.get(f"/t/{number}"))  # staff do not rate
    log_in(client, "li")
    page = client.get(f"/t/{number}")
    assert 'id="survey"' in text(page)
    done = client.post(f"/t/{number}/survey", data={"csrf_token": csrf_from(page),
                                                     "csat": "5"}, follow_redirects=True)
    assert "Thank you for your feedback!" in text(done)
    assert 'id="survey"' not in text(done)
    assert "answered the survey" in text(done)
    assert _answers(seed) == [(5, None, None)]


def test_an_open_ticket_has_no_survey_to_answer(client: FlaskClient, seed: Seed) -> None:
    number = new_ticket(seed)
    log_in(client, "li")
    assert 'id="survey"' not in text(client.get(f"/t/{number}"))
    refused = client.post(f"/t/{number}/survey", data={
        "csrf_token": csrf_from(client.get(f"/t/{number}")), "csat": "5"},
        follow_redirects=True)
    assert "The survey opens when the ticket is closed." in text(refused)
    assert _answers(seed) == []
