"""The ticket endpoints, on SQLite and PostgreSQL: the happy path of each, who sees what
(another team's agent and another requester get 404; hidden fields never reach a
requester), and optimistic locking under real concurrency.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.runtime.conftest import VALID_REPAIR
from tests.runtime.test_api_support import Api, error_of, snapshot

ID_CARD = "11010519491231002X"


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


# --- creating ------------------------------------------------------------------------

CREATIONS = [
    # (who, extra body members, values changed, expected state, expected requester)
    ("li", {}, {}, "repairing", "li"),
    ("li", {"transition": None}, {}, "new", "li"),
    ("li", {"transition": "submit"}, {"fault": "network"}, "hardware_check", "li"),
    ("zhao", {"requester": "li"}, {}, "repairing", "li"),
    ("wang", {}, {"id_card": ID_CARD}, "repairing", "wang"),
]


@pytest.mark.parametrize(
    ("user", "extra", "values", "state", "requester"), CREATIONS,
    ids=["software fault goes straight to repair", "transition null stays new",
         "other faults go to the check", "staff open for a requester",
         "staff may fill the hidden field"])
def test_create(api: Api, user: str, extra: dict[str, Any], values: dict[str, Any],
                state: str, requester: str) -> None:
    body = {"ticket_type": "repair", "values": {**VALID_REPAIR, **values}, **extra}
    response = api.post("/tickets", user, json=body)
    assert response.status_code == 201, response.get_json()
    ticket = response.get_json()["ticket"]
    assert (ticket["state"], ticket["requester"], ticket["version"]) == (state, requester, 1)
    assert response.headers["Location"] == f"/api/v1/tickets/{ticket['number']}"
    assert response.headers["ETag"] == '"1"'
    assert api.get(response.headers["Location"].removeprefix("/api/v1"), user
                   ).get_json() == {"ticket": ticket}


def test_get_carries_the_version_as_etag(api: Api) -> None:
    number = api.new_ticket()["number"]
    response = api.get(f"/tickets/{number}", "li")
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    ticket = response.get_json()["ticket"]
    assert ticket["number"] == number
    assert ticket["values"]["device"] == "PRN-0042"


# --- listing -------------------------------------------------------------------------


@pytest.fixture
def three(api: Api) -> dict[str, str]:
    """A (li, software, routed to repair, claimed by wang), B (zhou, network fault,
    routed to repair, transferred there again), C (admin for li, critical, left new: its
    rule names team senior, which this installation lacks, so it stays unrouted)."""
    a = api.new_ticket("li", device="PRN-0001")["number"]
    b = api.new_ticket("zhou", device="LAP-0002", fault="network")["number"]
    c = api.post("/tickets", "admin", json={
        "ticket_type": "repair", "transition": None, "requester": "li",
        "values": _values(device="NET-0003", priority="critical"),
    }).get_json()["ticket"]["number"]
    assert api.post(f"/tickets/{a}/claim", "wang").status_code == 200
    assert api.post(f"/tickets/{b}/transfer", "zhao",
                    json={"to_team": "repair", "reason": "hardware desk"}).status_code == 200
    return {"A": a, "B": b, "C": c}


def _values(**changes: Any) -> dict[str, Any]:
    return {**VALID_REPAIR, **changes}


LISTS = [
    ("admin", "", "CBA"),
    ("admin", "?type=repair", "CBA"),
    ("admin", "?type=other", ""),
    ("admin", "?state=hardware_check", "B"),
    ("admin", "?assignee=wang", "A"),
    ("admin", "?assignee=none", "CB"),
    ("wang", "?assignee=me", "A"),
    ("admin", "?requester=li", "CA"),
    ("li", "?requester=me", "CA"),
    ("admin", "?team=repair", "BA"),
    ("admin", "?q=lap-00", "B"),
    ("admin", "?q=REP-000001", "A"),
    ("admin", "?open=true", "CBA"),
    ("admin", "?open=false", ""),
    ("li", "", "CA"),
    ("zhou", "", "B"),
    ("sun", "", "C"),  # network agent: not A or B (team repair), but the unrouted one
    ("wang", "?state=repairing&assignee=wang", "A"),
]


def test_list_filters(api: Api, three: dict[str, str], subtests: pytest.Subtests) -> None:
    # One database for the whole table (listing changes nothing); a subtest per row.
    for user, query, expected in LISTS:
        with subtests.test(msg=f"{user}{query or ' all'}"):
            response = api.get(f"/tickets{query}", user)
            assert response.status_code == 200, response.get_json()
            body = response.get_json()
            assert [item["number"] for item in body["items"]] == [three[x] for x in expected]
            assert body["next_cursor"] is None


def test_list_pages_with_a_cursor(api: Api) -> None:
    numbers = [api.new_ticket()["number"] for _ in range(5)]
    seen: list[str] = []
    cursor = ""
    for size in (2, 2, 1):
        body = api.get(f"/tickets?limit=2{cursor}", "li").get_json()
        assert len(body["items"]) == size
        seen += [item["number"] for item in body["items"]]
        cursor = f"&cursor={body['next_cursor']}" if body["next_cursor"] else ""
    assert cursor == ""
    assert seen == numbers[::-1]


# --- changing ------------------------------------------------------------------------


def test_patch_fields_with_if_match(api: Api) -> None:
    number = api.new_ticket()["number"]  # repairing: agents may edit technician and parts
    response = api.patch(f"/tickets/{number}", "wang", headers={"If-Match": '"1"'},
                         json={"values": {"technician": "wang",
                                          "parts": [{"part_no": "R-1", "qty": 2,
                                                     "unit_price": 1.5}]}})
    assert response.status_code == 200, response.get_json()
    ticket = response.get_json()["ticket"]
    assert ticket["version"] == 2
    assert response.headers["ETag"] == '"2"'
    assert ticket["values"]["technician"] == "wang"
    assert ticket["values"]["parts_total"] == 3


def test_transitions_take_a_ticket_to_closed(api: Api) -> None:
    number = api.new_ticket()["number"]
    resolved = api.post(f"/tickets/{number}/transitions/resolve", "wang",
                        json={"values": {"resolution": "Replaced the roller"}, "version": 1})
    assert resolved.status_code == 200, resolved.get_json()
    assert resolved.get_json()["ticket"]["state"] == "resolved"
    closed = api.post(f"/tickets/{number}/transitions/confirm", "li",
                      json={"values": {"confirmed": True}})
    assert closed.status_code == 200, closed.get_json()
    ticket = closed.get_json()["ticket"]
    assert (ticket["state"], ticket["version"]) == ("closed", 3)
    assert ticket["closed_at"] is not None
    assert [item["number"] for item in
            api.get("/tickets?open=false", "li").get_json()["items"]] == [number]


def test_a_transition_without_a_body(api: Api) -> None:
    number = api.new_ticket()["number"]
    response = api.post(f"/tickets/{number}/transitions/ask_customer", "wang")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["ticket"]["state"] == "waiting_customer"


@pytest.mark.parametrize(("user", "internal"), [("li", False), ("wang", True)],
                         ids=["requester public", "agent internal"])
def test_comment(api: Api, user: str, internal: bool) -> None:
    number = api.new_ticket()["number"]
    response = api.post(f"/tickets/{number}/comments", user,
                        json={"body": "Still jams, @wang", "internal": internal})
    assert response.status_code == 201, response.get_json()
    comment = response.get_json()["comment"]
    assert (comment["kind"], comment["actor"]) == ("commented", user)
    assert comment["data"]["internal"] is internal


def test_claim_then_claim_again(api: Api) -> None:
    number = api.new_ticket()["number"]
    first = api.post(f"/tickets/{number}/claim", "wang")
    assert first.status_code == 200
    assert first.get_json()["ticket"]["assignee"] == "wang"
    second = api.post(f"/tickets/{number}/claim", "chen")
    assert second.status_code == 409
    error = error_of(second)
    assert (error["code"], error["assignee"]) == ("already-taken", "wang")


def test_transfer(api: Api) -> None:
    number = api.new_ticket()["number"]
    response = api.post(f"/tickets/{number}/transfer", "zhao",
                        json={"to_team": "repair", "to_user": "chen", "reason": "printer"})
    assert response.status_code == 200, response.get_json()
    ticket = response.get_json()["ticket"]
    assert (ticket["team"], ticket["assignee"]) == ("repair", "chen")


def test_timeline(api: Api) -> None:
    number = api.new_ticket()["number"]
    api.post(f"/tickets/{number}/comments", "li", json={"body": "hello"})
    api.post(f"/tickets/{number}/comments", "wang", json={"body": "note", "internal": True})
    api.post(f"/tickets/{number}/claim", "wang")
    kinds = {user: [entry["kind"] for entry in
                    api.get(f"/tickets/{number}/timeline", user).get_json()["items"]]
             for user in ("li", "wang")}
    assert kinds == {"li": ["created", "assigned", "commented", "claimed"],
                     "wang": ["created", "assigned", "commented", "commented", "claimed"]}


# --- who sees what -------------------------------------------------------------------

TICKET_CALLS = [
    ("GET", "", None),
    ("PATCH", "", {"values": {"technician": "sun"}}),
    ("GET", "/timeline", None),
    ("POST", "/comments", {"body": "hi"}),
    ("POST", "/transitions/ask_customer", {}),
    ("POST", "/claim", {}),
    ("POST", "/transfer", {"to_team": "network", "reason": "mine"}),
]


@pytest.mark.parametrize("user", ["sun", "zhou"],
                         ids=["agent of another team", "another requester"])
def test_a_ticket_out_of_sight_is_not_found(api: Api, seed: Any, user: str,
                                            subtests: pytest.Subtests) -> None:
    number = api.new_ticket()["number"]
    api.post(f"/tickets/{number}/transfer", "zhao", json={"to_team": "repair", "reason": "r"})
    api.token(user)
    before = snapshot(seed.db)
    for method, suffix, body in TICKET_CALLS:
        with subtests.test(msg=f"{method} /tickets/<n>{suffix}"):
            response = api.call(method, f"/tickets/{number}{suffix}", user, json=body)
            assert response.status_code == 404
            assert error_of(response)["code"] == "not-found"
            assert snapshot(seed.db) == before
    assert number not in api.get("/tickets", user).get_data(as_text=True)


def test_the_hidden_field_never_reaches_the_requester(api: Api) -> None:
    created = api.post("/tickets", "admin", json={
        "ticket_type": "repair", "requester": "li", "values": _values(id_card=ID_CARD)})
    number = created.get_json()["ticket"]["number"]
    assert api.get(f"/tickets/{number}", "wang").get_json()["ticket"]["values"][
        "id_card"] == ID_CARD
    stale = api.patch(f"/tickets/{number}", "li", json={"values": {}, "version": 99})
    refused = api.patch(f"/tickets/{number}", "li", json={"values": {"id_card": ID_CARD}})
    seen_by_li = [
        api.get(f"/tickets/{number}", "li"),
        api.get("/tickets", "li"),
        api.get(f"/tickets/{number}/timeline", "li"),
        stale,
        refused,
    ]
    for response in seen_by_li:
        text = response.get_data(as_text=True)
        assert ID_CARD not in text
    assert stale.status_code == 409
    assert "id_card" not in error_of(stale)["current"]["values"]
    assert refused.status_code == 422
    assert {"field": "id_card", "path": "/id_card", "code": "unknown-field",
            "message": "there is no field 'id_card'"} in error_of(refused)["details"]
    for response in seen_by_li[:3]:
        assert "id_card" not in response.get_data(as_text=True)


def test_a_requester_submitting_the_hidden_field_is_told_it_does_not_exist(api: Api) -> None:
    response = api.post("/tickets", "li", json={
        "ticket_type": "repair", "values": _values(id_card=ID_CARD)})
    assert response.status_code == 422
    assert [d["message"] for d in error_of(response)["details"]] == [
        "there is no field 'id_card'"]
    assert ID_CARD not in response.get_data(as_text=True)


# --- concurrency ---------------------------------------------------------------------


def _together(app: Flask, calls: list[Callable[[FlaskClient], Any]]) -> list[Any]:
    """Run the calls at the same moment, each in its own thread with its own client."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[FlaskClient], Any]) -> Any:
        client = app.test_client()
        barrier.wait()
        return call(client)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_a_stale_version_loses_to_a_concurrent_change(api: Api, app: Flask) -> None:
    number = api.new_ticket()["number"]
    tokens = {user: api.token(user) for user in ("wang", "chen")}

    def change(user: str) -> Callable[[FlaskClient], Any]:
        def call(client: FlaskClient) -> Any:
            return client.patch(f"/api/v1/tickets/{number}", json={
                "values": {"technician": user}, "version": 1},
                headers={"Authorization": f"Bearer {tokens[user]}"})
        return call

    responses = _together(app, [change("wang"), change("chen")])
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 409]
    winner = next(r for r in responses if r.status_code == 200).get_json()["ticket"]
    loser = error_of(next(r for r in responses if r.status_code == 409))
    assert loser["code"] == "stale"
    assert loser["current"] == {**winner, "roles": loser["current"]["roles"]}
    assert loser["current"]["version"] == 2
    final = api.get(f"/tickets/{number}", "admin").get_json()["ticket"]
    assert (final["version"], final["values"]["technician"]) == (
        2, winner["values"]["technician"])


def test_only_one_of_several_agents_claims(api: Api, app: Flask) -> None:
    number = api.new_ticket()["number"]
    agents = ["wang", "chen", "zhao", "admin"]
    tokens = {user: api.token(user) for user in agents}

    def claim(user: str) -> Callable[[FlaskClient], Any]:
        def call(client: FlaskClient) -> Any:
            return client.post(f"/api/v1/tickets/{number}/claim",
                               headers={"Authorization": f"Bearer {tokens[user]}"})
        return call

    responses = _together(app, [claim(user) for user in agents])
    winners = [r.get_json()["ticket"]["assignee"] for r in responses if r.status_code == 200]
    assert len(winners) == 1
    for response in responses:
        if response.status_code != 200:
            assert response.status_code == 409
            assert error_of(response)["code"] in {"already-taken", "stale"}
    assert api.get(f"/tickets/{number}", "admin").get_json()["ticket"]["assignee"] == \
        winners[0]
