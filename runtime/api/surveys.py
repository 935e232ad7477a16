"""The satisfaction survey: answered once, through the one-time link (no login) or by the
logged-in requester; the requester may ask for a fresh link."""

from __future__ import annotations

from flask import Response, jsonify

from runtime.api.blueprint import api, db
from runtime.api.inputs import Members, json_body
from runtime.delivery import messages
from runtime.services import surveys
from runtime.web.context import runtime, service_request


def _answer() -> surveys.Answer:
    body = json_body()
    Members(body, ("csat", "nps", "comment")).done()
    return surveys.parse_answer(body.get("csat"), body.get("nps"), body.get("comment"))


@api.post("/surveys/<token>")
def answer_survey_by_link(token: str) -> Response:
    """Answer through the secret link (no login: the link is the credential)."""
    from flask import request

    surveys.answer_by_link(db(), token, _answer(), now=runtime().clock(),
                           address=request.remote_addr)
    return jsonify({"answered": True})


@api.post("/tickets/<number>/survey")
def answer_survey(number: str) -> Response:
    """The ticket's requester answers its survey."""
    service = service_request()
    surveys.answer_as_requester(db(), service, number, _answer())
    return jsonify({"answered": True})


@api.post("/tickets/<number>/survey/link")
def survey_link(number: str) -> Response:
    """A fresh one-time link for the requester (an earlier link stops working)."""
    service = service_request()
    token = surveys.issue_link(db(), service, number)
    # `path` answers over the API; `page` is the survey's web page, to hand to a person.
    response = jsonify({"token": token, "path": f"/api/v1/surveys/{token}",
                        "page": messages.SURVEY_PATH.format(token=token)})
    response.status_code = 201
    return response
