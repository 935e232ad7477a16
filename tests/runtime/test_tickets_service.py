"""The ticket lifecycle through the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select, text

from runtime.models import Event, Survey, Ticket, Todo
from runtime.services import definitions, surveys, tickets
from runtime.services.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from tests.conftest import TEMPLATES
from tests.runtime.conftest import VALID_REPAIR, Seed

PNG = {"name": "a.png", "size": 10, "content_type": "image/png"}


def counts(seed: Seed) -> tuple[int, int, int]:
    with seed.db.read() as session:
        return (session.scalar(select(func.count()).select_from(Ticket)) or 0,
                session.scalar(select(func.count()).select_from(Event)) or 0,
                session.scalar(select(func.max(Ticket.version))) or 0)


def new_ticket(seed: Seed, by: str = "li", **values: Any) -> tickets.TicketView:
    return tickets.create(seed.db, seed.request(by), "repair", {**VALID_REPAIR, **values})


def test_create_numbers_routes_and_records(seed: Seed):
    first = new_ticket(seed)
    second = new_ticket(seed, fault="network")
    assert (first.number, second.number) == ("REP-000001", "REP-000002")
    assert first.state == "repairing"  # software faults skip the hardware check
    assert first.values["priority"] == "normal"
    assert first.requester == "li"
    created = tickets.timeline(seed.db, seed.request("li"), first.number)
    assert [(e.kind, e.actor) for e in created] == [("created", "li")]
    assert created[0].data["transition"] == "submit"


def test_photos_are_required_before_submit_and_nothing_is_written(seed: Seed):
    before = counts(seed)
    with pytest.raises(Invalid) as raised:
        new_ticket(seed, fault="hardware", description="short", contact_phone="x")
    assert [(d["field"], d["code"]) for d in raised.value.details] == [
        ("description", "too-short"), ("contact_phone", "bad-phone"),
        ("photos", "required-for-transition")]
    assert counts(seed) == before


def test_a_requester_cannot_set_or_see_a_restricted_field(seed: Seed):
    with pytest.raises(Invalid) as raised:
        new_ticket(seed, id_card="11010519491231002X")
    assert raised.value.details[0]["message"] == "there is no field 'id_card'"
    on_behalf = tickets.create(seed.db, seed.request("wang"), "repair",
                               {**VALID_REPAIR, "id_card": "11010519491231002X"},
                               requester="li")
    assert on_behalf.values["id_card"] == "11010519491231002X"
    as_requester = tickets.get(seed.db, seed.request("li"), on_behalf.number)
    assert "id_card" not in as_requester.values
    timeline = tickets.timeline(seed.db, seed.request("li"), on_behalf.number)
    assert "id_card" not in timeline[0].data["values"]
    page = tickets.list_tickets(seed.db, seed.request("li"), tickets.Filters())
    assert all("id_card" not in item.values for item in page.items)


@pytest.mark.parametrize(("who", "visible"), [
    ("li", True), ("zhou", False), ("wang", True), ("sun", True), ("admin", True)],
    ids=["requester", "other-requester", "agent", "agent-unrouted", "admin"])
def test_who_sees_a_new_ticket(seed: Seed, who: str, visible: bool):
    number = new_ticket(seed).number
    if visible:
        assert tickets.get(seed.db, seed.request(who), number).number == number
    else:
        with pytest.raises(NotFound):
            tickets.get(seed.db, seed.request(who), number)


def test_agents_of_other_teams_lose_sight_after_routing(seed: Seed):
    number = new_ticket(seed).number
    tickets.transfer(seed.db, seed.request("zhao"), number, to_team="repair",
                     reason="printer work")
    with pytest.raises(NotFound):
        tickets.get(seed.db, seed.request("sun"), number)
    assert tickets.get(seed.db, seed.request("wang"), number).team == "repair"


def test_transitions_follow_roles_and_states(seed: Seed):
    number = new_ticket(seed).number
    with pytest.raises(Forbidden):
        tickets.fire(seed.db, seed.request("li"), number, "resolve", {"resolution": "x"})
    with pytest.raises(Conflict) as raised:
        tickets.fire(seed.db, seed.request("wang"), number, "confirm", {"confirmed": True})
    assert raised.value.code == "not-from-this-state"
    assert raised.value.extra["current"]["state"] == "repairing"
    with pytest.raises(NotFound):
        tickets.fire(seed.db, seed.request("wang"), number, "teleport")
    with pytest.raises(Invalid):
        tickets.fire(seed.db, seed.request("wang"), number, "resolve", {})
    resolved = tickets.fire(seed.db, seed.request("wang"), number, "resolve",
                            {"resolution": "Cleaned the rollers."})
    assert resolved.state == "resolved"


def test_reopen_is_counted_and_close_opens_a_survey(seed: Seed):
    number = new_ticket(seed).number
    agent, customer = seed.request("wang"), seed.request("li")
    tickets.fire(seed.db, agent, number, "resolve", {"resolution": "Cleaned."})
    reopened = tickets.fire(seed.db, customer, number, "reopen")
    assert reopened.reopen_count == 1
    tickets.fire(seed.db, agent, number, "resolve", {"resolution": "Replaced the roller."})
    closed = tickets.fire(seed.db, customer, number, "confirm", {"confirmed": True})
    assert closed.state == "closed"
    assert closed.closed_at == seed.clock()
    kinds = [e.kind for e in tickets.timeline(seed.db, customer, number)]
    assert kinds == ["created", "transitioned", "reopened", "transitioned", "closed"]
    with seed.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Survey)) == 1


def test_survey_answered_once_through_a_one_time_link(seed: Seed):
    number = new_ticket(seed).number
    tickets.fire(seed.db, seed.request("wang"), number, "resolve", {"resolution": "Done."})
    tickets.fire(seed.db, seed.request("li"), number, "confirm", {"confirmed": True})
    with pytest.raises(NotFound):
        surveys.issue_link(seed.db, seed.request("zhou"), number)
    stale = surveys.issue_link(seed.db, seed.request("li"), number)
    link = surveys.issue_link(seed.db, None, number)  # a new link replaces the old one
    with pytest.raises(NotFound):
        surveys.answer_by_link(seed.db, stale, surveys.parse_answer(5), now=seed.clock())
    with pytest.raises(Invalid) as raised:
        surveys.parse_answer(6, 11, "x" * 3000)
    assert [d["field"] for d in raised.value.details] == ["csat", "nps", "comment"]
    surveys.answer_by_link(seed.db, link, surveys.parse_answer(4, 9, "快"), now=seed.clock())
    with pytest.raises(Conflict):
        surveys.answer_by_link(seed.db, link, surveys.parse_answer(1), now=seed.clock())
    last = tickets.timeline(seed.db, seed.request("li"), number)[-1]
    assert (last.kind, last.data["csat"], last.data["nps"]) == ("survey_answered", 4, 9)


def test_internal_comments_and_mentions(seed: Seed):
    number = new_ticket(seed).number
    tickets.comment(seed.db, seed.request("wang"), number, "@chen can you look? @zhou @nobody",
                    internal=True)
    tickets.comment(seed.db, seed.request("wang"), number, "We are on it, @li.")
    with pytest.raises(Forbidden):
        tickets.comment(seed.db, seed.request("li"), number, "sneaky", internal=True)
    with pytest.raises(Invalid):
        tickets.comment(seed.db, seed.request("li"), number, "   ")
    customer_view = [e.data.get("body") for e in
                     tickets.timeline(seed.db, seed.request("li"), number) if e.kind == "commented"]
    assert customer_view == ["We are on it, @li."]
    with seed.db.read() as session:
        todo_users = sorted(session.scalars(select(Todo.user_id)).all())
        ids = {u: seed.request(u).actor.user_id for u in ("chen", "li")}
    assert todo_users == sorted(ids.values())  # zhou may not see it, nobody does not exist


def test_claim_and_transfer(seed: Seed):
    number = new_ticket(seed).number
    with pytest.raises(Forbidden):
        tickets.claim(seed.db, seed.request("li"), number)
    claimed = tickets.claim(seed.db, seed.request("wang"), number)
    assert claimed.assignee == "wang"
    with pytest.raises(Conflict) as raised:
        tickets.claim(seed.db, seed.request("chen"), number)
    assert raised.value.code == "already-taken"
    with pytest.raises(Invalid):
        tickets.transfer(seed.db, seed.request("wang"), number, reason=" ", to_user="chen")
    with pytest.raises(Invalid):
        tickets.transfer(seed.db, seed.request("wang"), number, reason="x", to_user="li")
    with pytest.raises(Invalid):
        tickets.transfer(seed.db, seed.request("wang"), number, reason="x", to_user="sun",
                         to_team="repair")
    moved = tickets.transfer(seed.db, seed.request("wang"), number, reason="on leave",
                             to_user="chen", to_team="repair")
    assert (moved.assignee, moved.team) == ("chen", "repair")
    customer = [e for e in tickets.timeline(seed.db, seed.request("li"), number)
                if e.kind == "transferred"][0]
    assert "reason" not in customer.data


def run_at_once(count: int, action: Callable[[int], Any]) -> list[Any]:
    """Run `action` in `count` threads released together; return results or errors."""
    barrier = threading.Barrier(count)

    def attempt(index: int) -> Any:
        barrier.wait()
        try:
            return action(index)
        except ServiceError as error:
            return error

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(attempt, range(count)))


def test_claim_race_has_one_winner(seed: Seed):
    number = new_ticket(seed).number
    agents = ["wang", "chen", "zhao", "admin"]
    requests = [seed.request(name) for name in agents]
    results = run_at_once(4, lambda i: tickets.claim(seed.db, requests[i], number))
    winners = [r for r in results if isinstance(r, tickets.TicketView)]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in results if r not in winners)


def test_twenty_concurrent_writers_conflict_or_succeed_never_lose(seed: Seed):
    view = new_ticket(seed)
    agent = seed.request("wang")
    tickets.fire(seed.db, agent, view.number, "resolve", {"resolution": "first"})
    current = tickets.get(seed.db, agent, view.number)
    supervisor = seed.request("zhao")
    results = run_at_once(20, lambda i: tickets.fire(
        seed.db, supervisor, view.number, "reopen", expected_version=current.version))
    successes = [r for r in results if isinstance(r, tickets.TicketView)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(successes) == 1
    assert len(conflicts) == 19
    assert all(c.code in ("stale", "not-from-this-state") for c in conflicts)
    final = tickets.get(seed.db, agent, view.number)
    assert final.reopen_count == 1
    assert final.version == current.version + 1


def test_concurrent_creations_get_distinct_numbers(seed: Seed):
    requests = [seed.request("li"), seed.request("zhou")] * 10
    results = run_at_once(20, lambda i: tickets.create(seed.db, requests[i], "repair",
                                                       dict(VALID_REPAIR)))
    numbers = [r.number for r in results]
    assert sorted(numbers) == [f"REP-{n:06d}" for n in range(1, 21)]


def test_events_are_append_only(seed: Seed):
    new_ticket(seed)
    for statement in ("UPDATE events SET kind = 'x'", "DELETE FROM events"):
        with pytest.raises(Exception, match="append-only"), seed.db.write() as session:
            session.execute(text(statement))
    assert counts(seed)[1] >= 1


def test_a_ticket_keeps_the_rules_of_its_version(seed: Seed):
    old = new_ticket(seed, fault="software").number
    source = (TEMPLATES / "repair.yaml").read_text(encoding="utf-8")
    v2 = source.replace("version: 1", "version: 2").replace(
        "      - {when: \"fault == 'software'\", state: repairing}\n", "")
    admin = seed.request("admin")
    definitions.save_draft(seed.db, admin, v2)
    assert definitions.publish(seed.db, admin, "repair").version == 2
    new = new_ticket(seed, fault="software")
    assert (new.definition_version, new.state) == (2, "hardware_check")
    assert tickets.get(seed.db, seed.request("li"), old).definition_version == 1
    resolved = tickets.fire(seed.db, seed.request("wang"), old, "resolve",
                            {"resolution": "v1 rules still apply"})
    assert resolved.state == "resolved"


def test_publishing_refuses_located_issues_and_old_versions(seed: Seed):
    admin = seed.request("admin")
    source = (TEMPLATES / "repair.yaml").read_text(encoding="utf-8")
    broken = source.replace("version: 1", "version: 2").replace("to: waiting_customer",
                                                                "to: waiting_custmer")
    draft = definitions.save_draft(seed.db, admin, broken)
    assert [i["code"] for i in draft.issues] == ["unknown-state"]
    with pytest.raises(Invalid) as raised:
        definitions.publish(seed.db, admin, "repair")
    assert raised.value.details[0]["line"] is not None
    definitions.save_draft(seed.db, admin, source)  # still version 1
    with pytest.raises(Conflict):
        definitions.publish(seed.db, admin, "repair")
    with pytest.raises(Forbidden):
        definitions.save_draft(seed.db, seed.request("wang"), source)


@pytest.mark.parametrize(("edit", "key", "code"), [
    (("ticket_type: repair", "ticket_type: Repair"), None, "bad-key"),
    (("ticket_type: repair", "ticket_type: service"), "repair", "key-mismatch"),
    (("ticket_type: repair\n", ""), None, "missing-key"),
    (("version: 1", "version: 9999999999"), None, "bad-version"),
    (("", ""), "../etc", "bad-key"),
], ids=["not a key", "another key than the caller's", "no key", "version too big",
        "caller's key not a key"])
def test_a_draft_must_be_fileable_under_its_key(seed: Seed, edit: tuple[str, str],
                                                key: str | None, code: str):
    source = (TEMPLATES / "repair.yaml").read_text(encoding="utf-8")
    with pytest.raises(Invalid) as raised:
        definitions.save_draft(seed.db, seed.request("admin"), source.replace(*edit), key=key)
    assert [d["code"] for d in raised.value.details] == [code]


def test_list_filters_and_keyset_pages(seed: Seed):
    for index in range(7):
        new_ticket(seed, description=f"Jams on page {index} every time.")
    tickets.claim(seed.db, seed.request("wang"), "REP-000003")
    agent = seed.request("wang")
    first = tickets.list_tickets(seed.db, agent, tickets.Filters(), limit=3)
    assert [t.number for t in first.items] == ["REP-000007", "REP-000006", "REP-000005"]
    second = tickets.list_tickets(seed.db, agent, tickets.Filters(), cursor=first.next_cursor,
                                  limit=3)
    assert [t.number for t in second.items] == ["REP-000004", "REP-000003", "REP-000002"]
    mine = tickets.list_tickets(seed.db, agent, tickets.Filters(assignee="me"))
    assert [t.number for t in mine.items] == ["REP-000003"]
    found = tickets.list_tickets(seed.db, agent, tickets.Filters(text="PRN-0042"))
    assert len(found.items) == 7
    with pytest.raises(ServiceError):
        tickets.list_tickets(seed.db, agent, tickets.Filters(), cursor="not-a-cursor")

