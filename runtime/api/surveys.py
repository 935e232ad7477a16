"""The satisfaction survey: answered once, through the one-time link (no login) or by the
logged-in requester; the requester may ask for a fresh link. Supervisors read the
results summed up."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Response, jsonify

from runtime.api.blueprint import api, db, settings
from runtime.api.inputs import Members, instant_parameter, json_body, query, text_parameter
from runtime.delivery import messages
from runtime.services import satisfaction, surveys
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


SUMMARY_DAYS = 30  # the period when the query names none: the last 30 days


@api.get("/surveys/summary")
def survey_summary() -> Response:
    """What customers answered about the tickets the caller supervises, over a period
    (default: the 30 days to now) and optionally one ticket type or team."""
    service = service_request()
    zone = ZoneInfo(settings().timezone)
    args = query({"from": instant_parameter(zone), "before": instant_parameter(zone),
                  "type": text_parameter(64), "team": text_parameter(64)})
    end = args.get("before") or satisfaction.until_now(service.now)
    period = satisfaction.Period(args.get("from", end - timedelta(days=SUMMARY_DAYS)), end,
                                 args.get("type"), args.get("team"))
    return jsonify(satisfaction.summary(db(), service, period).to_dict())
