"""Service levels for supervisors (`GET /api/v1/sla/summary` and the supervisor's page),
on SQLite and PostgreSQL, with the bundled repair template's clocks (first response 4
working hours, resolution 2 working days on cn-workdays): tickets opened and closed in a
period, how long closing took, and how often each clock was met on time."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from runtime.services import tickets
from tests.runtime.conftest import VALID_REPAIR, Clock, Seed
from tests.runtime.test_api_support import Api, error_of
from tests.runtime.test_auth import log_in
from tests.runtime.web_helpers import text

DEVICES = itertools.count(2000)


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


def opened(seed: Seed) -> str:
    """A repair ticket of li's, taken by wang (a new device: no repeat check)."""
    number = tickets.create(seed.db, seed.request("li"), "repair",
                            {**VALID_REPAIR, "device": f"PRN-{next(DEVICES)}"}).number
    tickets.claim(seed.db, seed.request("wang"), number)
    return number


def close(seed: Seed, number: str) -> None:
    tickets.fire(seed.db, seed.request("wang"), number, "resolve", {"resolution": "Done."})
    tickets.fire(seed.db, seed.request("li"), number, "confirm", {"confirmed": True})


def reply(seed: Seed, number: str) -> None:
    tickets.comment(seed.db, seed.request("wang"), number, "On it.", internal=False)


@pytest.fixture
def week(seed: Seed, clock: Clock) -> dict[str, Any]:
    """Monday 09:00 in Shanghai: one ticket answered within the hour and closed at noon,
    one answered the next day (its first response late) and closed then, one left open."""
    quick, slow, waiting = opened(seed), opened(seed), opened(seed)
    clock.advance(hours=1)
    reply(seed, quick)
    clock.advance(hours=2)
    close(seed, quick)  # 3 hours after it was opened
    clock.advance(hours=24)
    reply(seed, slow)
    close(seed, slow)  # 27 hours
    return {"quick": quick, "slow": slow, "waiting": waiting}


def test_the_figures_of_a_period(api: Api, week: dict[str, Any]) -> None:
    response = api.get("/sla/summary", "zhao")
    assert response.status_code == 200, response.get_json()
    levels = response.get_json()
    assert (levels["opened"], levels["closed"]) == (3, 2)
    assert (levels["median_hours_to_close"], levels["p90_hours_to_close"]) == (3, 27)
    assert {clock["kind"]: (clock["met"], clock["late"], clock["attainment"])
            for clock in levels["clocks"]} == {"first_response": (1, 1, 0.5),
                                               "resolution": (2, 0, 1.0)}
    assert [clock["label"] for clock in levels["clocks"]] == ["First response", "Resolution"]


def test_a_supervisor_counts_their_own_teams_tickets(api: Api, seed: Seed) -> None:
    mine, theirs = opened(seed), opened(seed)
    moved = api.post(f"/tickets/{theirs}/transfer", "admin",
                     json={"to_team": "network", "reason": "their switch"})
    assert moved.status_code == 200, moved.get_json()
    assert mine
    assert api.get("/sla/summary", "zhao").get_json()["opened"] == 1
    assert api.get("/sla/summary", "admin").get_json()["opened"] == 2
    assert api.get("/sla/summary?team=network", "admin").get_json()["opened"] == 1


def test_an_empty_period_has_no_figures(api: Api, week: dict[str, Any]) -> None:
    levels = api.get("/sla/summary?before=2026-11-23", "admin").get_json()
    assert (levels["opened"], levels["closed"], levels["median_hours_to_close"],
            levels["clocks"]) == (0, 0, None, [])


@pytest.mark.parametrize(("user", "status"), [
    ("admin", 200), ("zhao", 200), ("wang", 403), ("li", 403), (None, 401)])
def test_who_may_read_service_levels(api: Api, user: str | None, status: int) -> None:
    assert api.get("/sla/summary", user).status_code == status


def test_a_backwards_period_is_a_400(api: Api) -> None:
    response = api.get("/sla/summary?from=2026-12-01&before=2026-11-01", "admin")
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad-period"


def test_the_supervisors_page_shows_the_service_levels(client: FlaskClient,
                                                       week: dict[str, Any]) -> None:
    log_in(client, "zhao")
    page = text(client.get("/supervise"))
    assert "Service levels" in page
    assert "50% on time" in page  # the first response
    assert "3.0 hours" in page  # the median time to close
