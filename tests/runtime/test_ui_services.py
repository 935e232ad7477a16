"""The services behind the pages: form previews, the portal's guests and links, the
board's moves, to-dos, agents' load, bulk reassign and list orders (both databases)."""

from __future__ import annotations

import pytest

from runtime.services import forms, portal, tickets, workspace
from runtime.services.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from tests.runtime.conftest import VALID_REPAIR, Seed


def test_a_preview_says_what_shows_and_what_is_required(seed: Seed) -> None:
    li = seed.request("li")
    software = {s.id: s for s in forms.intake(seed.db, li, "repair", {"fault": "software"})
                .fields}
    hardware = {s.id: s for s in forms.intake(seed.db, li, "repair", {"fault": "hardware"})
                .fields}
    assert not software["photos"].visible
    assert hardware["photos"].visible
    assert hardware["photos"].required  # the submit transition `requires` it
    assert "id_card" not in hardware  # visible_to staff only
    assert hardware["priority"].value == "normal"  # the default shows


def test_a_step_preview_reports_problems_without_writing(seed: Seed) -> None:
    number = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
    tickets.claim(seed.db, seed.request("wang"), number)
    preview = forms.step(seed.db, seed.request("wang"), number, "resolve", {"resolution": ""})
    assert [p["code"] for p in preview.problems] == ["required"]
    assert preview.target_state == "resolved" or preview.target_state is None
    assert tickets.get(seed.db, seed.request("wang"), number).state == "repairing"
    with pytest.raises(NotFound):
        forms.step(seed.db, seed.request("zhou"), number, "resolve", {})


def test_the_portal_links_a_guest_to_one_ticket(seed: Seed) -> None:
    guest = portal.guest(seed.db, seed.clock(), None, language="zh")
    assert guest.actor.language == "zh"
    assert portal.guest(seed.db, seed.clock(), guest.actor.user_id, language="zh").actor \
        .user_id == guest.actor.user_id
    done = portal.submit(seed.db, guest, "repair", VALID_REPAIR, name="Zhou Xin",
                         email="zhou.xin@example.cn")
    holder = portal.follow(seed.db, done.ticket.number, done.token, now=seed.clock(),
                           language="en")
    assert holder.actor.user_id == guest.actor.user_id
    assert tickets.get(seed.db, holder, done.ticket.number).requester == guest.actor.username
    with pytest.raises(NotFound):
        portal.follow(seed.db, done.ticket.number, done.token + "x", now=seed.clock(),
                      language="en")
    # Once it has a ticket, the guest is not handed to the next visitor.
    assert portal.guest(seed.db, seed.clock(), guest.actor.user_id, language="en").actor \
        .user_id != guest.actor.user_id


def test_the_portal_reports_contact_and_form_problems_at_once(seed: Seed) -> None:
    guest = portal.guest(seed.db, seed.clock(), None, language="en")
    with pytest.raises(Invalid) as caught:
        portal.submit(seed.db, guest, "repair", {"device": "x"}, name=" ", email="nope")
    fields = {d["field"] for d in caught.value.details}
    assert {"contact_name", "contact_email", "description", "contact_phone"} <= fields


def test_a_follow_link_is_made_only_by_those_who_may(seed: Seed) -> None:
    number = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
    assert portal.issue_link(seed.db, seed.request("wang"), number)
    assert portal.issue_link(seed.db, seed.request("li"), number)
    with pytest.raises(NotFound):
        portal.issue_link(seed.db, seed.request("zhou"), number)


MOVES = [
    # a repairing ticket dropped on: (column, outcome)
    ("waiting_customer", "ok"),
    ("resolved", "needs-form"),  # resolve has a required resolution
    ("closed", "no-transition"),
    ("repairing", "same-state"),
]


@pytest.mark.parametrize(("to_state", "outcome"), MOVES, ids=[":".join(m) for m in MOVES])
def test_dropping_a_card_fires_the_step_that_leads_there_or_says_why_not(
        seed: Seed, to_state: str, outcome: str) -> None:
    number = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
    tickets.claim(seed.db, seed.request("wang"), number)
    wang = seed.request("wang")
    if outcome == "ok":
        assert workspace.move(seed.db, wang, number, to_state).state == to_state
        return
    with pytest.raises((Conflict, Invalid)) as caught:
        workspace.move(seed.db, wang, number, to_state)
    assert caught.value.code == outcome


def test_a_branch_that_leads_elsewhere_is_explained(seed: Seed) -> None:
    number = tickets.create(seed.db, seed.request("wang"), "repair", VALID_REPAIR,
                            transition=None).number  # a draft, still `new`
    with pytest.raises(Conflict) as caught:  # a software fault skips the hardware check
        workspace.move(seed.db, seed.request("wang"), number, "hardware_check")
    assert caught.value.code == "branch-elsewhere"
    assert tickets.get(seed.db, seed.request("wang"), number).state == "new"


def test_the_board_groups_open_tickets_by_state(seed: Seed) -> None:
    first = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
    tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR, transition=None)
    board = workspace.board(seed.db, seed.request("wang"), "repair", tickets.Filters())
    counts = {column.state: len(column.cards) for column in board.columns}
    assert counts["repairing"] == 1
    assert counts["new"] == 1
    assert board.columns[0].label == "New"
    assert [c.number for c in board.columns[2].cards] == [first]


def test_a_cards_menu_offers_only_the_columns_a_step_leads_to(seed: Seed) -> None:
    repairing = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
    tickets.claim(seed.db, seed.request("wang"), repairing)
    unsent = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR,
                            transition=None).number
    board = workspace.board(seed.db, seed.request("wang"), "repair", tickets.Filters())
    assert board.reachable[repairing] == ["waiting_customer", "resolved"]  # ask, resolve
    # Submitting branches: both columns are offered; the move says which one the
    # ticket's values lead to (a step form or a hidden field may decide it).
    assert board.reachable[unsent] == ["hardware_check", "repairing"]
    assert workspace.board(seed.db, seed.request("li"), "repair",
                           tickets.Filters()).reachable[repairing] == []  # not li's steps


def test_the_board_opens_on_the_type_last_changed_among_what_one_sees(seed: Seed) -> None:
    assert workspace.recent_type(seed.db, seed.request("wang")) is None
    tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR)
    assert workspace.recent_type(seed.db, seed.request("wang")) == "repair"
    assert workspace.recent_type(seed.db, seed.request("zhou")) is None  # not his ticket


def test_todos_come_from_mentions_and_are_finished_once(seed: Seed) -> None:
    number = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
    tickets.comment(seed.db, seed.request("wang"), number, "@chen have a look")
    chen = seed.request("chen")
    todo = workspace.open_todos(seed.db, chen)[0]
    assert (todo.number, todo.kind) == (number, "mention")
    with pytest.raises(NotFound):
        workspace.finish_todo(seed.db, seed.request("wang"), todo.id)
    workspace.finish_todo(seed.db, chen, todo.id)
    assert workspace.open_todos(seed.db, chen) == []


def test_supervisors_see_their_agents_load(seed: Seed) -> None:
    for _ in range(3):
        number = tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
        tickets.claim(seed.db, seed.request("wang"), number)
    loads = {load.username: load.open_tickets
             for load in workspace.agent_load(seed.db, seed.request("zhao"))}
    assert loads == {"wang": 3, "chen": 0, "zhao": 0}  # sun is in another team
    with pytest.raises(Forbidden):
        workspace.agent_load(seed.db, seed.request("wang"))


def test_bulk_reassign_reports_each_ticket(seed: Seed) -> None:
    numbers = [tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
               for _ in range(2)]
    tickets.claim(seed.db, seed.request("wang"), numbers[0])
    tickets.fire(seed.db, seed.request("wang"), numbers[0], "resolve", {"resolution": "ok"})
    tickets.fire(seed.db, seed.request("zhao"), numbers[0], "confirm", {"confirmed": True})
    outcomes = workspace.bulk_reassign(seed.db, seed.request("zhao"),
                                       [*numbers, "REP-999999"], to_user="chen",
                                       reason="wang is away")
    assert [(o.number, o.ok) for o in outcomes] == [
        (numbers[0], True), (numbers[1], True), ("REP-999999", False)]
    assert tickets.get(seed.db, seed.request("zhao"), numbers[1]).assignee == "chen"
    with pytest.raises(Invalid):
        workspace.bulk_reassign(seed.db, seed.request("zhao"), numbers, to_user="chen",
                                reason="")
    with pytest.raises(Forbidden):
        workspace.bulk_reassign(seed.db, seed.request("wang"), numbers, to_user="chen",
                                reason="x")


@pytest.mark.parametrize("order", list(tickets.Order), ids=str)
def test_every_order_pages_through_every_ticket_once(seed: Seed, order: tickets.Order) -> None:
    created = [tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR).number
               for _ in range(7)]
    seed.clock.advance(minutes=1)
    tickets.comment(seed.db, seed.request("wang"), created[2], "bumps updated_at")
    seen: list[str] = []
    cursor = None
    while True:
        page = tickets.list_tickets(seed.db, seed.request("wang"), tickets.Filters(),
                                    cursor=cursor, limit=3, order=order)
        seen += [item.number for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(created)
    if order is tickets.Order.UPDATED:
        assert seen[0] == created[2]


def test_a_newest_cursor_is_refused_for_the_updated_order(seed: Seed) -> None:
    for _ in range(3):
        tickets.create(seed.db, seed.request("li"), "repair", VALID_REPAIR)
    page = tickets.list_tickets(seed.db, seed.request("wang"), tickets.Filters(), limit=1)
    with pytest.raises(BadRequest):
        tickets.list_tickets(seed.db, seed.request("wang"), tickets.Filters(),
                             cursor=page.next_cursor, order=tickets.Order.UPDATED)
