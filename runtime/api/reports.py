"""Reports for supervisors over a period: what customers answered in their surveys, and
the service levels (tickets opened and closed, time to close, SLA clocks met on time)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Response, jsonify

from runtime.api.blueprint import api, db, settings
from runtime.api.inputs import instant_parameter, query, text_parameter
from runtime.context import Request
from runtime.services import periods, satisfaction, service_levels
from runtime.web.context import service_request

DEFAULT_DAYS = 30  # the period when the query names none: the 30 days to now


def _period(service: Request) -> periods.Period:
    """`from` and `before` (dates on the installation's clock, or instants), `type` and
    `team` from the query."""
    zone = ZoneInfo(settings().timezone)
    args = query({"from": instant_parameter(zone), "before": instant_parameter(zone),
                  "type": text_parameter(64), "team": text_parameter(64)})
    end = args.get("before") or periods.until_now(service.now)
    return periods.Period(args.get("from", end - timedelta(days=DEFAULT_DAYS)), end,
                          args.get("type"), args.get("team"))


@api.get("/surveys/summary")
def survey_summary() -> Response:
    """What customers answered about the tickets the caller supervises, over a period."""
    service = service_request()
    return jsonify(satisfaction.summary(db(), service, _period(service)).to_dict())


@api.get("/sla/summary")
def sla_summary() -> Response:
    """Tickets opened and closed, time to close and SLA clocks met on time, over a period,
    for the tickets the caller supervises."""
    service = service_request()
    return jsonify(service_levels.service_levels(db(), service, _period(service)).to_dict())
