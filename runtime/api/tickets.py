"""Ticket endpoints: create (idempotent with `Idempotency-Key`), list, read, change,
comment, claim, transfer, timeline.

A ticket's `ETag` is its version; a change may name the version it was based on (the
body's `version` or `If-Match`), and a stale one is a 409 carrying the current ticket.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, jsonify, request, url_for
from sqlalchemy import Connection

from runtime.api.blueprint import api, db, settings
from runtime.api.errors import service_error_body
from runtime.api.inputs import (
    Members,
    bounded_int,
    expected_version,
    flag,
    instant_parameter,
    json_body,
    query,
    text_parameter,
)
from runtime.services import exports, idempotency, tickets
from runtime.services.tickets import TicketView
from runtime.web.context import export_download, service_request

NAME = 150  # user names and keys are at most this long in the database
FILTER_PARAMETERS = {
    "type": text_parameter(64), "state": text_parameter(64), "assignee": text_parameter(NAME),
    "team": text_parameter(64), "requester": text_parameter(NAME), "q": text_parameter(200),
    "open": flag,
}
PAGE_PARAMETERS = {"cursor": text_parameter(200), "limit": bounded_int(1, tickets.MAX_PAGE)}


def _filter_parsers() -> dict[str, Any]:
    # Dates are midnights on the installation's clock, which only the app knows.
    zone = ZoneInfo(settings().timezone)
    return {**FILTER_PARAMETERS, "created_from": instant_parameter(zone),
            "created_before": instant_parameter(zone)}


def _filters(args: dict[str, Any]) -> tickets.Filters:
    return tickets.Filters(
        ticket_type=args.get("type"), state=args.get("state"), assignee=args.get("assignee"),
        team=args.get("team"), requester=args.get("requester"), text=args.get("q"),
        open=args.get("open"), created_from=args.get("created_from"),
        created_before=args.get("created_before"))


def _ticket_response(view: TicketView, status: int = 200) -> Response:
    response = jsonify({"ticket": view.to_dict()})
    response.status_code = status
    response.set_etag(str(view.version))
    return response


@api.post("/tickets")
def create_ticket() -> Response:
    """Open a ticket; with `Idempotency-Key`, a retry replays the first answer."""
    service = service_request()
    body = json_body()
    members = Members(body, ("ticket_type", "values", "transition", "requester"))
    ticket_type = members.text("ticket_type", max_length=64)
    values = members.object("values", required=True)
    transition: str | None = tickets.AUTO  # omitted: the creator's first offered one fires
    if "transition" in body:  # null: none fires, the ticket stays in its initial state
        transition = members.string("transition", max_length=64)
    requester = members.string("requester", max_length=NAME)
    members.done()

    def call(store: idempotency.Store | None) -> tuple[int, dict[str, Any]]:
        answer: dict[str, Any] = {}

        def within(connection: Connection, view: tickets.TicketView) -> None:
            answer["ticket"] = view.to_dict()
            if store is not None:  # the replayable answer commits with the ticket
                store(connection, 201, answer)

        tickets.create(db(), service, ticket_type, values, transition=transition,
                       requester=requester, within=within)
        return 201, answer

    key = request.headers.get("Idempotency-Key")
    if key is None:
        outcome = idempotency.Outcome(*call(None))
    else:
        request_hash = idempotency.fingerprint(request.method, request.path, body)
        outcome = idempotency.run_once(db(), service, key, request_hash, call,
                                       service_error_body)
    response = jsonify(outcome.body)
    response.status_code = outcome.status
    if outcome.status == 201:
        ticket = outcome.body["ticket"]
        response.headers["Location"] = url_for("api.get_ticket", number=ticket["number"])
        response.set_etag(str(ticket["version"]))
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@api.get("/tickets")
def list_tickets() -> Response:
    """The tickets the caller may see, newest first, a page at a time."""
    service = service_request()
    args = query({**_filter_parsers(), **PAGE_PARAMETERS})
    page = tickets.list_tickets(db(), service, _filters(args), cursor=args.get("cursor"),
                                limit=args.get("limit", 50))
    return jsonify({"items": [item.to_dict() for item in page.items],
                    "next_cursor": page.next_cursor})


def _export_format(raw: str) -> exports.ExportFormat:
    try:
        return exports.ExportFormat(raw)
    except ValueError:
        raise ValueError(f"must be one of {', '.join(exports.ExportFormat)}") from None


@api.get("/tickets/export")
def export_tickets() -> Response:
    """Every ticket the caller may see that matches the list's filters, oldest first, as
    one CSV or JSON Lines file (supervisors and administrators)."""
    service = service_request()
    args = query({**_filter_parsers(), "format": _export_format})
    exported = exports.export_tickets(db(), service, _filters(args),
                                      args.get("format", exports.ExportFormat.CSV),
                                      zone=ZoneInfo(settings().timezone))
    return export_download(exported)


@api.get("/tickets/<number>")
def get_ticket(number: str) -> Response:
    """One ticket as the caller may see it; its ETag is its version."""
    return _ticket_response(tickets.get(db(), service_request(), number))


@api.patch("/tickets/<number>")
def update_ticket(number: str) -> Response:
    """Change the fields the current state lets the caller edit."""
    service = service_request()
    members = Members(json_body(), ("values", "version"))
    values = members.object("values", required=True)
    version = expected_version(members)
    members.done()
    return _ticket_response(tickets.update_fields(db(), service, number, values,
                                                  expected_version=version))


@api.post("/tickets/<number>/transitions/<transition>")
def fire_transition(number: str, transition: str) -> Response:
    """Fire a transition with its step form's values."""
    service = service_request()
    members = Members(json_body(optional=True), ("values", "version"))
    values = members.object("values")
    version = expected_version(members)
    members.done()
    return _ticket_response(tickets.fire(db(), service, number, transition, values or {},
                                         expected_version=version))


@api.post("/tickets/<number>/comments")
def add_comment(number: str) -> tuple[Response, int]:
    """A public comment, or an internal one (staff only)."""
    service = service_request()
    body = json_body()
    members = Members(body, ("body", "internal"))
    internal = members.boolean("internal")
    members.done()
    # The service checks the text itself (required, length), with field details.
    entry = tickets.comment(db(), service, number, body.get("body"), internal=bool(internal))
    return jsonify({"comment": entry.to_dict()}), 201


@api.post("/tickets/<number>/claim")
def claim_ticket(number: str) -> Response:
    """Take an unassigned ticket; a ticket already taken is a 409 naming the holder."""
    service = service_request()
    members = Members(json_body(optional=True), ("version",))
    version = expected_version(members)
    members.done()
    return _ticket_response(tickets.claim(db(), service, number, expected_version=version))


@api.post("/tickets/<number>/transfer")
def transfer_ticket(number: str) -> Response:
    """Pass a ticket to another agent and/or team, with a reason."""
    service = service_request()
    body = json_body()
    members = Members(body, ("to_user", "to_team", "reason", "version"))
    to_user = members.string("to_user", max_length=NAME)
    to_team = members.string("to_team", max_length=64)
    version = expected_version(members)
    members.done()
    view = tickets.transfer(db(), service, number, reason=body.get("reason"), to_user=to_user,
                            to_team=to_team, expected_version=version)
    return _ticket_response(view)


@api.get("/tickets/<number>/timeline")
def ticket_timeline(number: str) -> Response:
    """The ticket's history, as the caller may see it."""
    entries = tickets.timeline(db(), service_request(), number)
    return jsonify({"items": [entry.to_dict() for entry in entries]})
