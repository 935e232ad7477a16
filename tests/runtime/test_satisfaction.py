"""Survey results for supervisors (`GET /api/v1/surveys/summary` and the supervisor's
page), on SQLite and PostgreSQL: the figures (CSAT average and share satisfied, NPS,
response rate, per agent, the latest comments), whose tickets count (the supervisor's
teams'), the period, and who may read them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from runtime.services import surveys, tickets
from tests.runtime.conftest import VALID_REPAIR, Clock, Seed
from tests.runtime.test_api_support import Api, error_of
from tests.runtime.test_auth import log_in
from tests.runtime.web_helpers import text

DEVICES = itertools.count(1000)


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


def answered(seed: Seed, csat: int | None, nps: int | None = None,
             comment: str | None = None) -> str:
    """A closed repair ticket of li's, its survey answered (None: left unanswered)."""
    device = f"PRN-{next(DEVICES)}"  # not a repeat of the one before (that would be checked)
    number = tickets.create(seed.db, seed.request("li"), "repair",
                            {**VALID_REPAIR, "device": device}).number
    tickets.claim(seed.db, seed.request("wang"), number)
    tickets.fire(seed.db, seed.request("wang"), number, "resolve", {"resolution": "Done."})
    tickets.fire(seed.db, seed.request("li"), number, "confirm", {"confirmed": True})
    if csat is not None:
        surveys.answer_as_requester(seed.db, seed.request("li"), number,
                                    surveys.Answer(csat, nps, comment))
    return number


def test_the_figures_of_a_period(api: Api, seed: Seed, clock: Clock) -> None:
    answered(seed, 5, 10, "Fixed within the hour.")
    clock.advance(hours=1)
    answered(seed, 4, 9)
    clock.advance(hours=1)
    slow = answered(seed, 2, 3, "Took three days.")
    answered(seed, None)
    response = api.get("/surveys/summary", "zhao")
    assert response.status_code == 200, response.get_json()
    results = response.get_json()
    assert (results["sent"], results["answered"], results["response_rate"]) == (4, 3, 0.75)
    assert results["csat"] == {"average": 3.67, "satisfied": pytest.approx(2 / 3),
                               "answers": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}}
    assert results["nps"]["score"] == 33  # two promoters, one detractor, of three
    assert results["agents"] == [{"agent": "wang", "answered": 3, "csat_average": 3.67}]
    assert [(item["number"], item["comment"]) for item in results["comments"]] == [
        (slow, "Took three days."), (results["comments"][1]["number"],
                                     "Fixed within the hour.")]


def test_nps_is_unknown_when_nobody_answered_it(api: Api, seed: Seed) -> None:
    answered(seed, 3)
    results = api.get("/surveys/summary", "admin").get_json()
    assert results["nps"]["score"] is None
    assert results["csat"]["average"] == 3


def test_a_supervisor_reads_their_own_teams_results(api: Api, seed: Seed) -> None:
    answered(seed, 5)
    elsewhere = answered(seed, 1)
    moved = api.post(f"/tickets/{elsewhere}/transfer", "admin",
                     json={"to_team": "network", "reason": "their customer"})
    assert moved.status_code == 200, moved.get_json()
    assert api.get("/surveys/summary", "zhao").get_json()["answered"] == 1
    assert api.get("/surveys/summary", "admin").get_json()["answered"] == 2
    assert api.get("/surveys/summary?team=network", "admin").get_json()["answered"] == 1


PERIODS = [
    # (query, answers counted: one sent at the start, one 40 days later)
    ("", 1),  # the 30 days before now
    ("from=2026-11-01", 2),
    ("from=2026-11-01&before=2026-11-24", 1),  # midnight in Shanghai
    ("before=2026-11-23T01:00:00Z", 0),  # before the first was sent
]


@pytest.mark.parametrize(("query", "count"), PERIODS, ids=[q or "default" for q, _ in PERIODS])
def test_surveys_count_by_when_they_were_sent(api: Api, seed: Seed, clock: Clock,
                                              query: str, count: int) -> None:
    answered(seed, 5)
    clock.advance(days=40)
    answered(seed, 4)
    assert api.get(f"/surveys/summary?{query}", "admin").get_json()["answered"] == count


@pytest.mark.parametrize(("user", "status"), [
    ("admin", 200), ("zhao", 200), ("wang", 403), ("li", 403), (None, 401)])
def test_who_may_read_the_results(api: Api, user: str | None, status: int) -> None:
    assert api.get("/surveys/summary", user).status_code == status


@pytest.mark.parametrize(("query", "code"), [
    ("from=2026-12-01&before=2026-11-01", "bad-period"),
    ("from=last-week", "bad-query"),
])
def test_a_period_that_cannot_be_read_is_a_400(api: Api, query: str, code: str) -> None:
    response = api.get(f"/surveys/summary?{query}", "admin")
    assert response.status_code == 400
    assert error_of(response)["code"] == code


def test_the_supervisors_page_shows_the_results(client: FlaskClient, seed: Seed,
                                                clock: Clock) -> None:
    answered(seed, 1, 0, "<script>alert(1)</script> never again")
    clock.advance(days=10)
    answered(seed, 5, 10)
    log_in(client, "zhao")
    page = text(client.get("/supervise"))
    assert "Customer satisfaction" in page
    assert "3.0<small> / 5</small>" in page  # (1 + 5) / 2 over the last 30 days
    assert "50% satisfied (4 or 5)" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; never again" in page
    recent = text(client.get("/supervise?days=7"))
    assert "5.0<small> / 5</small>" in recent
    assert "never again" not in recent


def test_the_page_says_when_no_survey_was_sent(client: FlaskClient, seed: Seed) -> None:
    log_in(client, "zhao")
    assert "a survey goes out when a ticket closes" in text(client.get("/supervise"))
