"""Routing profiles: an agent's skills, capacity, schedule and away switch; team leads.

PATCH changes only the members sent; `null` clears capacity (no limit) or the schedule
(always on shift).
"""

from __future__ import annotations

from flask import Response, jsonify

from runtime.api.blueprint import api, db
from runtime.api.inputs import Members, json_body
from runtime.services import agents
from runtime.services.agents import UNSET
from runtime.web.context import service_request

PROFILE_MEMBERS = ("skills", "capacity", "schedule", "away")


@api.get("/agents/<username>")
def get_agent(username: str) -> Response:
    """One agent's routing profile (staff)."""
    profile = agents.profile(db(), service_request(), username)
    return jsonify({"agent": profile.to_dict()})


@api.patch("/agents/<username>")
def change_agent(username: str) -> Response:
    """Change skills, capacity, schedule (admins, the agent's supervisors) or away (also
    the agent); the service checks every value and changes all or nothing."""
    service = service_request()
    members = Members(json_body(), PROFILE_MEMBERS)
    body = members.body
    changes = {name: body[name] for name in PROFILE_MEMBERS if name in body}
    members.done()
    profile = agents.set_profile(db(), service, username, **{
        name: changes.get(name, UNSET) for name in PROFILE_MEMBERS})
    return jsonify({"agent": profile.to_dict()})


@api.put("/teams/<key>/lead")
def set_team_lead(key: str) -> Response:
    """Name the team member told about tickets nobody qualified for (admins)."""
    service = service_request()
    members = Members(json_body(), ("lead",))
    lead = members.string("lead", max_length=150)
    members.done()
    agents.set_team_lead(db(), service, key, lead)
    return jsonify({"team": key, "lead": lead})
