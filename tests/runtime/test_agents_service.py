"""Agents' routing profiles: who may change what, what is refused (everything listed,
nothing changed), and team leads — on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.services import agents
from runtime.services.errors import Forbidden, Invalid, NotFound
from tests.runtime.conftest import Seed

SCHEDULE = {"timezone": "Asia/Shanghai",
            "shifts": {"mon": ["09:00-18:00"], "tue": ["09:00-18:00"]},
            "leave": [{"from": "2026-12-01", "to": "2026-12-03"}]}


@pytest.mark.parametrize(("actor", "target", "changes", "allowed"), [
    ("admin", "sun", {"skills": ["printer"]}, True),
    ("zhao", "wang", {"capacity": 5}, True),             # supervisor of repair, wang in repair
    ("zhao", "sun", {"capacity": 5}, False),             # sun is in network
    ("wang", "wang", {"away": True}, True),              # an agent's own away switch
    ("wang", "wang", {"skills": ["anything"]}, False),   # ...but not their own skills
    ("wang", "chen", {"away": True}, False),
    ("li", "wang", {"away": True}, "hidden"),            # requesters see no agents at all
], ids=["admin", "supervisor of the team", "supervisor of another team", "own away",
        "own skills", "a colleague's away", "a requester"])
def test_who_may_change_a_profile(seed: Seed, actor: str, target: str,
                                  changes: dict[str, Any], allowed: bool | str) -> None:
    request = seed.request(actor)
    if allowed is True:
        changed = agents.set_profile(seed.db, request, target, **changes)
        assert {name: getattr(changed, name) for name in changes} == changes
        return
    with pytest.raises(NotFound if allowed == "hidden" else Forbidden):
        agents.set_profile(seed.db, request, target, **changes)
    assert agents.profile(seed.db, seed.request("admin"), target).skills == []


@pytest.mark.parametrize(("changes", "code"), [
    ({"skills": "printer"}, "bad-skills"),
    ({"skills": ["two words"]}, "bad-skills"),
    ({"skills": ["x"] * 51}, "bad-skills"),
    ({"capacity": -1}, "bad-capacity"),
    ({"capacity": True}, "bad-capacity"),
    ({"schedule": {"timezone": "Mars/Olympus", "shifts": {}}}, "unknown-time-zone"),
    ({"schedule": {"timezone": "UTC", "shifts": {"mon": ["18:00-09:00x"]}}}, None),
], ids=["skills not a list", "a skill with a space", "too many skills", "negative capacity",
        "capacity a boolean", "unknown time zone", "a malformed shift"])
def test_bad_profiles_are_refused_whole(seed: Seed, changes: dict[str, Any],
                                        code: str | None) -> None:
    admin = seed.request("admin")
    with pytest.raises(Invalid) as raised:
        # The good parts are refused with the bad one: a profile changes whole or not.
        agents.set_profile(seed.db, admin, "wang", **{"skills": ["printer"], "capacity": 3,
                                                      **changes})
    codes = [detail.get("code") for detail in raised.value.details]
    assert codes
    assert (code is None or code in codes)
    assert agents.profile(seed.db, admin, "wang").skills == []


def test_a_schedule_is_kept_as_written(seed: Seed) -> None:
    admin = seed.request("admin")
    agents.set_profile(seed.db, admin, "wang", schedule=SCHEDULE, skills=["printer", "printer"])
    stored = agents.profile(seed.db, admin, "wang")
    assert (stored.schedule, stored.skills) == (SCHEDULE, ["printer"])
    compiled = agents.compiled_schedule(stored.schedule)
    assert compiled is not None
    assert compiled.calendar.timezone == "Asia/Shanghai"
    assert agents.set_profile(seed.db, admin, "wang", schedule=None).schedule is None


@pytest.mark.parametrize(("lead", "error"), [
    ("zhao", None), (None, None), ("sun", Invalid), ("nobody", Invalid)],
    ids=["a member", "nobody", "not a member", "no such user"])
def test_team_leads_are_members(seed: Seed, lead: str | None, error: type | None) -> None:
    if error is None:
        agents.set_team_lead(seed.db, seed.request("admin"), "repair", lead)
        return
    with pytest.raises(error):
        agents.set_team_lead(seed.db, seed.request("admin"), "repair", lead)


def test_only_admins_name_team_leads(seed: Seed) -> None:
    with pytest.raises(Forbidden):
        agents.set_team_lead(seed.db, seed.request("zhao"), "repair", "zhao")
