"""Business calendars: list them, read one's source, add or change one (admins)."""

from __future__ import annotations

from flask import Response, jsonify

from runtime.api.blueprint import api, db
from runtime.api.inputs import Members, json_body
from runtime.services import calendars
from runtime.web.context import service_request

MAX_SOURCE = 200_000


@api.get("/calendars")
def list_calendars() -> Response:
    """Every calendar by key: built-in, bundled and custom (staff)."""
    found = calendars.list_calendars(db(), service_request())
    return jsonify({"items": [info.to_dict() for info in found]})


@api.get("/calendars/<key>")
def get_calendar(key: str) -> Response:
    """A calendar and its source (staff)."""
    info, source, source_format = calendars.get_source(db(), service_request(), key)
    return jsonify({"calendar": info.to_dict(), "source": source, "format": source_format})


@api.put("/calendars/<key>")
def save_calendar(key: str) -> Response:
    """Add or change a calendar (admins); refused whole with located issues."""
    service = service_request()
    members = Members(json_body(), ("source", "format"))
    source = members.text("source", max_length=MAX_SOURCE)
    source_format = members.choice("format", calendars.FORMATS) or "yaml"
    members.done()
    info = calendars.save(db(), service, key, source, source_format)
    return jsonify({"calendar": info.to_dict()})
