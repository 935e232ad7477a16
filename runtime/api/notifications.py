"""Notification endpoints: my inbox, reminders on a ticket, and for administrators the
webhooks (a secret is shown once, in the answer that creates it) and the outbox (dead
letters, sent again on request)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, jsonify

from runtime.api.blueprint import api, db
from runtime.api.inputs import Members, bounded_int, flag, json_body, query
from runtime.delivery.messages import LANGUAGES
from runtime.models import Channel, OutboxState, WebhookFormat
from runtime.services import inbox, outbox, reminders, webhooks
from runtime.web.context import service_request

MAX_ID = 2**63 - 1
WEBHOOK_NAME = webhooks.NAME
FORMATS = tuple(str(f) for f in WebhookFormat)


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    """A parser for a query parameter that takes one of `options`."""
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError(f"must be one of: {', '.join(options)}")
        return raw
    return parse


@api.get("/notifications")
def list_notifications() -> Response:
    """The caller's inbox, newest first; `unread=true` for the unread ones only."""
    parameters = query({"unread": flag, "before": bounded_int(1, MAX_ID),
                        "limit": bounded_int(1, inbox.MAX_PAGE)})
    page = inbox.list_notifications(db(), service_request(),
                                    unread_only=parameters.get("unread", False),
                                    before=parameters.get("before"),
                                    limit=parameters.get("limit") or 50)
    return jsonify({"items": [item.to_dict() for item in page.items],
                    "next_before": page.next_before, "unread": page.unread})


@api.post(f"/notifications/<int(max={MAX_ID}):notification_id>/read")
def read_notification(notification_id: int) -> Response:
    """Mark one of the caller's notifications read."""
    view = inbox.mark_read(db(), service_request(), notification_id)
    return jsonify({"notification": view.to_dict()})


@api.post("/tickets/<number>/reminders")
def add_reminder(number: str) -> tuple[Response, int]:
    """Remind the caller of a ticket at `at` (an inbox entry and an e-mail, then)."""
    service = service_request()
    members = Members(json_body(), ("at", "note"))
    at = members.instant("at")
    if at is None and not any(p["field"] == "at" for p in members.problems):
        members.add("at", "required", "'at' is required")
    note = members.string("note", max_length=reminders.MAX_NOTE)
    members.done()
    assert at is not None
    reminder = reminders.remind(db(), service, number, at=at, note=note)
    return jsonify({"reminder": reminder.to_dict()}), 201


@api.get("/webhooks")
def list_webhooks() -> Response:
    """The webhooks (admins); never their secrets."""
    items = webhooks.list_webhooks(db(), service_request())
    return jsonify({"items": [item.to_dict() for item in items]})


@api.post("/webhooks")
def create_webhook() -> tuple[Response, int]:
    """Subscribe a URL to ticket events (admins); the secret is in this answer only."""
    service = service_request()
    members = Members(json_body(), ("name", "url", "format", "events", "language", "secret"))
    name = members.text("name", max_length=64, pattern=WEBHOOK_NAME,
                        hint="letters, digits, '.', '_' or '-', starting with a letter or digit")
    url = members.text("url", max_length=webhooks.MAX_URL)
    fmt = members.choice("format", FORMATS) or str(WebhookFormat.GENERIC)
    events = members.strings("events", max_length=40)
    language = members.choice("language", LANGUAGES) or "en"
    secret = members.string("secret", max_length=webhooks.MAX_SECRET)
    members.done()
    view, shown = webhooks.create_webhook(db(), service, name=name, url=url, fmt=fmt,
                                          events=events, language=language, secret=secret)
    return jsonify({"webhook": {**view.to_dict(), "secret": shown}}), 201


@api.delete("/webhooks/<name>")
def delete_webhook(name: str) -> tuple[str, int]:
    """Remove a webhook (admins); what was queued for it becomes dead letters."""
    webhooks.delete_webhook(db(), service_request(), name)
    return "", 204


@api.get("/outbox")
def list_outbox() -> Response:
    """Outbox messages newest first (admins); `state=dead` lists the dead letters."""
    parameters = query({"state": _choice(tuple(str(s) for s in OutboxState)),
                        "channel": _choice(tuple(str(c) for c in Channel)),
                        "before": bounded_int(1, MAX_ID),
                        "limit": bounded_int(1, outbox.MAX_PAGE)})
    state, channel = parameters.get("state"), parameters.get("channel")
    page = outbox.list_messages(db(), service_request(),
                                state=OutboxState(state) if state else None,
                                channel=Channel(channel) if channel else None,
                                before=parameters.get("before"),
                                limit=parameters.get("limit") or 50)
    return jsonify({"items": [item.to_dict() for item in page.items],
                    "next_before": page.next_before})


@api.post(f"/outbox/<int(max={MAX_ID}):message_id>/retry")
def retry_message(message_id: int) -> Response:
    """Send a dead or failed message again (admins)."""
    view = outbox.retry(db(), service_request(), message_id)
    return jsonify({"message": view.to_dict()})
