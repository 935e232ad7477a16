"""The satisfaction survey over the API: one answer, by link or by the requester."""

from __future__ import annotations

import pytest

from tests.runtime.test_api_support import Api


@pytest.fixture
def api(client, token_for) -> Api:
    return Api(client, token_for)


def closed_ticket(api: Api) -> str:
    # Another device: a second repair of one device within 30 days is a repeat repair,
    # which goes through the hardware check first.
    number = api.new_ticket(device="PRN-0777")["number"]
    assert api.post(f"/tickets/{number}/transitions/resolve", "wang",
                    json={"values": {"resolution": "Cleaned the rollers."}}).status_code == 200
    assert api.post(f"/tickets/{number}/transitions/confirm", "li",
                    json={"values": {"confirmed": True}}).status_code == 200
    return number


def test_answer_once_through_the_link_without_logging_in(api: Api):
    number = closed_ticket(api)
    assert api.post(f"/tickets/{number}/survey/link", "zhou").status_code == 404
    issued = api.post(f"/tickets/{number}/survey/link", "li")
    assert issued.status_code == 201
    path = issued.get_json()["path"].removeprefix("/api/v1")
    answer = {"csat": 5, "nps": 9, "comment": "修得很快"}
    assert api.post(path, json=answer).status_code == 200
    again = api.post(path, json=answer)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already-answered"
    timeline = api.get(f"/tickets/{number}/timeline", "li").get_json()["items"]
    assert timeline[-1]["kind"] == "survey_answered"


@pytest.mark.parametrize(("body", "status", "fields"), [
    ({"csat": 0}, 422, ["csat"]),
    ({"csat": 3, "nps": 11, "comment": "x" * 2001}, 422, ["nps", "comment"]),
    ({"csat": "5"}, 422, ["csat"]),
    ({"csat": 4, "stars": 5}, 422, ["stars"]),
], ids=["csat-low", "nps-and-comment", "csat-text", "unknown-member"])
def test_bad_answers_list_every_problem(api: Api, body: dict, status: int, fields: list[str]):
    number = closed_ticket(api)
    response = api.post(f"/tickets/{number}/survey", "li", json=body)
    assert response.status_code == status
    assert [d["field"] for d in response.get_json()["error"]["details"]] == fields


def test_requester_answers_when_closed_only(api: Api):
    open_number = api.new_ticket()["number"]
    early = api.post(f"/tickets/{open_number}/survey", "li", json={"csat": 4})
    assert early.status_code == 403
    number = closed_ticket(api)
    assert api.post(f"/tickets/{number}/survey", "zhou", json={"csat": 4}).status_code == 404
    assert api.post(f"/tickets/{number}/survey", "li", json={"csat": 4}).status_code == 200
    assert api.post("/surveys/not-a-real-link", json={"csat": 4}).status_code == 404
