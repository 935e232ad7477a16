"""The routing-profile endpoints: changing an agent's skills, capacity, schedule and away
switch, and naming team leads, with every refusal in the API's error shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.runtime.test_api_support import Api, error_of


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


@pytest.mark.parametrize(("user", "target", "body", "status"), [
    ("zhao", "wang", {"skills": ["printer", "laptop"], "capacity": 4}, 200),
    ("zhao", "wang", {"capacity": None, "schedule": None}, 200),
    ("wang", "wang", {"away": True}, 200),
    ("wang", "wang", {"capacity": 9}, 403),
    ("zhao", "sun", {"capacity": 9}, 403),
    ("li", "wang", {"away": True}, 404),
    ("zhao", "wang", {"skills": ["a b"]}, 422),
    ("zhao", "wang", {"schedule": {"timezone": "UTC"}}, 422),
    ("zhao", "wang", {"speed": "fast"}, 422),
    ("zhao", "nobody", {"away": True}, 404),
], ids=["supervisor sets skills and capacity", "clearing", "own away", "own capacity",
        "another team's agent", "a requester", "a bad skill", "a schedule without shifts",
        "an unknown member", "no such agent"])
def test_changing_a_profile(api: Api, user: str, target: str, body: dict[str, Any],
                            status: int) -> None:
    response = api.patch(f"/agents/{target}", user, json=body)
    assert response.status_code == status, response.get_json()
    if status == 200:
        agent = response.get_json()["agent"]
        assert {name: agent[name] for name in body} == body
    else:
        assert error_of(response)["code"]


def test_a_bad_schedule_lists_where(api: Api) -> None:
    response = api.patch("/agents/wang", "admin", json={"schedule": {
        "timezone": "Asia/Shanghai", "shifts": {"mon": ["25:00-26:00"]}}})
    assert response.status_code == 422
    details = error_of(response)["details"]
    assert [(d["field"], d["pointer"]) for d in details] == [("schedule", "/shifts/mon/0")]


@pytest.mark.parametrize(("user", "body", "status"), [
    ("admin", {"lead": "zhao"}, 200), ("admin", {"lead": None}, 200),
    ("admin", {"lead": "sun"}, 422), ("zhao", {"lead": "zhao"}, 403)],
    ids=["a member", "nobody", "not a member", "not an admin"])
def test_naming_a_team_lead(api: Api, user: str, body: dict[str, Any], status: int) -> None:
    response = api.call("PUT", "/teams/repair/lead", user, json=body)
    assert response.status_code == status
