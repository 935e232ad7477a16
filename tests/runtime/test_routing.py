"""Routing new tickets (on SQLite and PostgreSQL): the rule's team, the strategy's agent,
skipped agents with their reasons, a rotation that continues across processes and
concurrent writers, the claim pool, and what customers see of it."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from runtime.db import Database
from runtime.services import agents, definitions, tickets
from runtime.services.errors import Conflict
from tests.conftest import DATA
from tests.runtime.conftest import Seed


@pytest.fixture
def routed(seed: Seed) -> Seed:
    """The seed plus the routing ticket type; wang and chen in repair, no skills yet."""
    definitions.install(seed.db, seed.request("admin"),
                        (DATA / "routing.yaml").read_text(encoding="utf-8"))
    return seed


def _open(seed: Seed, topic: str, user: str = "li", **values: Any) -> tickets.TicketView:
    return tickets.create(seed.db, seed.request(user), "routing",
                          {"title": f"about {topic}", "topic": topic, **values})


def _assignment(seed: Seed, number: str, user: str = "admin") -> dict[str, Any]:
    timeline = tickets.timeline(seed.db, seed.request(user), number)
    return next(entry.data for entry in timeline if entry.kind == "assigned")


def _profile(seed: Seed, username: str, **changes: Any) -> None:
    agents.set_profile(seed.db, seed.request("admin"), username, **changes)


def test_skill_match_picks_the_agent_with_the_skill(routed: Seed) -> None:
    _profile(routed, "wang", skills=["laptop"])
    _profile(routed, "chen", skills=["printer", "network"])
    ticket = _open(routed, "printer")
    assert (ticket.team, ticket.assignee) == ("repair", "chen")
    why = _assignment(routed, ticket.number)
    assert why["outcome"] == "assigned"
    assert why["required_skills"] == ["printer"]
    assert {c["agent"]: c["reason"] for c in why["candidates"]} == {
        "chen": None, "wang": "missing_skills", "zhao": "missing_skills"}


@pytest.mark.parametrize(("change", "reason"), [
    ({"away": True}, "away"),
    ({"capacity": 0}, "at_capacity"),
    ({"schedule": {"timezone": "UTC", "shifts": {}}}, "off_shift"),
    ({"schedule": {"timezone": "UTC", "shifts": {day: ["00:00-24:00"] for day in (
        "mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        "leave": [{"from": "2020-01-01", "to": "2099-01-01"}]}}, "on_leave"),
], ids=["away", "at capacity", "off shift", "on leave"])
def test_unavailable_agents_are_skipped_with_the_reason(routed: Seed, change: dict[str, Any],
                                                        reason: str) -> None:
    for name in ("wang", "chen", "zhao"):
        _profile(routed, name, skills=["printer"])
    _profile(routed, "chen", **change)
    why = _assignment(routed, _open(routed, "printer").number)
    assert {c["agent"]: c["reason"] for c in why["candidates"]}["chen"] == reason


def test_nobody_qualifies_so_it_waits_in_the_team_queue(routed: Seed) -> None:
    ticket = _open(routed, "laptop")
    assert (ticket.team, ticket.assignee) == ("repair", None)
    assert _assignment(routed, ticket.number)["outcome"] == "queued"
    queue = tickets.list_tickets(routed.db, routed.request("wang"),
                                 tickets.Filters(team="repair", assignee="none"))
    assert [item.number for item in queue.items] == [ticket.number]


def test_the_rotation_continues_across_processes(routed: Seed) -> None:
    first = [_open(routed, "rotate").assignee for _ in range(3)]
    # Another process: its own engine and pool, the same database.
    other = Seed(Database(routed.db.url), routed.clock)
    then = [_open(other, "rotate").assignee for _ in range(3)]
    other.db.dispose()
    assert first + then == ["chen", "wang", "zhao", "chen", "wang", "zhao"]


def test_concurrent_creations_keep_one_fair_rotation(routed: Seed) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        assignees = list(pool.map(lambda _: _open(routed, "rotate").assignee, range(12)))
    assert Counter(assignees) == {"chen": 4, "wang": 4, "zhao": 4}


def _create_in_another_process(url: str, at: str, count: int) -> list[str | None]:
    """Open `count` rotating tickets as li from a process of its own (its own engine,
    pool and Python), returning who got each."""
    from datetime import datetime

    from runtime.context import Request
    from runtime.services import accounts

    database = Database(url)
    try:
        with database.read() as session:
            actor = accounts.actor_for(accounts.find_user(session, "li"))
        request = Request(actor, datetime.fromisoformat(at), "127.0.0.1")
        return [tickets.create(database, request, "routing",
                               {"title": "from afar", "topic": "rotate"}).assignee
                for _ in range(count)]
    finally:
        database.dispose()


def test_two_processes_creating_at_once_share_one_fair_rotation(routed: Seed) -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = pool.starmap(_create_in_another_process,
                               [(routed.db.url, routed.clock().isoformat(), 9)] * 2)
    assert Counter(name for batch in results for name in batch) == {
        "chen": 6, "wang": 6, "zhao": 6}


def test_least_loaded_respects_the_rules_capacity(routed: Seed) -> None:
    picks = [_open(routed, "laptop", priority="urgent", user="admin").assignee
             for _ in range(7)]
    # Three agents, two open tickets each at most: the seventh waits in the queue.
    assert Counter(picks) == {"chen": 2, "wang": 2, "zhao": 2, None: 1}


def test_a_team_this_installation_lacks_leaves_the_ticket_unrouted(routed: Seed) -> None:
    ticket = _open(routed, "network")
    assert (ticket.team, ticket.assignee) == (None, None)
    why = _assignment(routed, ticket.number)
    assert (why["outcome"], why["missing_team"]) == ("unrouted", "nowhere")


def test_claim_pool_first_claim_wins_and_refuses_the_unqualified(routed: Seed) -> None:
    _profile(routed, "wang", skills=["pool"])
    _profile(routed, "chen", skills=["pool"])
    ticket = _open(routed, "pool")
    assert (ticket.team, ticket.assignee) == ("repair", None)
    assert _assignment(routed, ticket.number)["outcome"] == "pool"
    with pytest.raises(Conflict) as refused:  # zhao lacks the skill this pool asks for
        tickets.claim(routed.db, routed.request("zhao"), ticket.number)
    assert refused.value.code == "missing_skills"
    assert tickets.claim(routed.db, routed.request("wang"), ticket.number).assignee == "wang"
    with pytest.raises(Conflict) as taken:
        tickets.claim(routed.db, routed.request("chen"), ticket.number)
    assert taken.value.code == "already-taken"


def test_a_claim_race_in_the_pool_has_one_winner(routed: Seed) -> None:
    for name in ("wang", "chen", "zhao"):
        _profile(routed, name, skills=["pool"])
    number = _open(routed, "pool").number

    def claim(name: str) -> str:
        try:
            return tickets.claim(routed.db, routed.request(name), number).assignee or ""
        except Conflict as error:
            return error.code

    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = sorted(pool.map(claim, ["wang", "chen", "zhao"]))
    winners = [outcome for outcome in outcomes if outcome in ("wang", "chen", "zhao")]
    assert len(winners) == 1
    assert all(o in ("already-taken", "stale") for o in outcomes if o not in winners)


def test_customers_see_where_it_went_not_why(routed: Seed) -> None:
    _profile(routed, "chen", skills=["printer"], away=False)
    number = _open(routed, "printer").number
    assert _assignment(routed, number, "li") == {
        "outcome": "assigned", "team": "repair", "winner": "chen"}
    assert "candidates" in _assignment(routed, number, "wang")


def _inbox(seed: Seed, username: str) -> list[str]:
    from runtime.services import inbox

    return [entry.kind for entry in inbox.list_notifications(seed.db, seed.request(username)).items]


@pytest.mark.parametrize(("topic", "told"), [
    ("printer", {"chen": ["routed"]}),
    ("laptop", {"zhao": ["queued"]}),
    ("pool", {"wang": ["pool"], "chen": ["pool"], "zhao": ["pool"]}),
], ids=["the winner", "the lead, when nobody qualifies", "the team, for a claim pool"])
def test_who_hears_of_an_assignment(routed: Seed, topic: str, told: dict[str, list[str]]
                                    ) -> None:
    _profile(routed, "chen", skills=["printer"])
    agents.set_team_lead(routed.db, routed.request("admin"), "repair", "zhao")
    _open(routed, topic)
    heard = {name: _inbox(routed, name) for name in ("wang", "chen", "zhao", "sun", "li")}
    assert heard == {name: told.get(name, []) for name in heard}
