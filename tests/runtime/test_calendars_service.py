"""Business calendars by key: bundled ones, the built-in 24x7, and administrators' own,
which replace a bundled calendar of the same key; refusals are located and change
nothing. Through the API as integrators use it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from runtime.services import calendars
from tests.runtime.test_api_support import Api, error_of

OWN = """calendar: cn-workdays
name: {en: Our hours, zh: 我们的工作时间}
timezone: Asia/Shanghai
hours:
  mon: ["08:00-20:00"]
"""


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


def test_bundled_and_built_in_calendars_are_listed(api: Api) -> None:
    listed = {item["key"]: item["origin"]
              for item in api.get("/calendars", "wang").get_json()["items"]}
    assert listed["24x7"] == "built-in"
    assert listed["cn-workdays"] == "bundled"


def test_an_admins_calendar_replaces_the_bundled_one(api: Api, seed) -> None:
    saved = api.put("/calendars/cn-workdays", "admin", json={"source": OWN})
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["calendar"]["origin"] == "custom"
    assert api.get("/calendars/cn-workdays", "wang").get_json()["source"] == OWN
    with seed.db.read() as session:
        calendar = calendars.calendar_for(session, "cn-workdays")
    monday_evening = datetime(2026, 11, 23, 11, 30, tzinfo=UTC)  # 19:30 in Shanghai
    assert calendar.is_working(monday_evening)


@pytest.mark.parametrize(("user", "key", "source", "status", "code"), [
    ("wang", "ours", OWN.replace("cn-workdays", "ours"), 403, "forbidden"),
    ("admin", "ours", OWN, 422, "invalid"),
    ("admin", "ours", "calendar: ours\ntimezone: Mars/Base\nhours: {mon: [\"9-5\"]}\n",
     422, "invalid"),
    ("admin", "ours", "calendar: ours\n  bad: [\n", 422, "invalid"),
], ids=["an agent", "another key than the URL's", "bad zone and hours", "not YAML"])
def test_bad_calendars_are_refused(api: Api, user: str, key: str, source: str, status: int,
                                   code: str) -> None:
    response = api.put(f"/calendars/{key}", user, json={"source": source})
    assert response.status_code == status
    assert error_of(response)["code"] == code
    if status == 422:
        assert all("pointer" in d or "line" in d for d in error_of(response)["details"])
    assert api.get(f"/calendars/{key}", "admin").status_code == 404


def test_an_unknown_calendar_is_a_404(api: Api) -> None:
    assert api.get("/calendars/nowhere", "wang").status_code == 404


@pytest.mark.parametrize("key", ["..%2F..%2Fetc%2Fpasswd", "x" * 300, "%00"],
                         ids=["a path", "a long key", "a NUL"])
def test_a_key_that_is_not_a_calendar_never_reaches_the_files(api: Api, key: str) -> None:
    assert api.get(f"/calendars/{key}", "wang").status_code == 404
