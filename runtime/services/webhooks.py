"""Webhook subscriptions (administrators): which ticket events go where, in which format.

The secret signs every delivery. It is shown once — in the answer to the creation — and
never again: lists carry `has_secret`, and a URL's query values (robots put their access
token there) are masked everywhere but in the delivery itself.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from runtime import policy
from runtime.context import Request
from runtime.db import Database
from runtime.delivery.messages import LANGUAGES
from runtime.models import Channel, EventKind, OutboxMessage, OutboxState, Webhook, WebhookFormat
from runtime.services.errors import Conflict, Forbidden, Invalid, NotFound
from runtime.services.events import record

# The ticket events a webhook may subscribe to (an empty list: all of them).
EVENTS: tuple[str, ...] = tuple(str(kind) for kind in (
    EventKind.CREATED, EventKind.TRANSITIONED, EventKind.UPDATED, EventKind.COMMENTED,
    EventKind.ATTACHED, EventKind.CLAIMED, EventKind.TRANSFERRED, EventKind.ASSIGNED,
    EventKind.REOPENED, EventKind.CLOSED))
# One rule for every channel (API, pages): the name is how deliveries and events name it.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_URL = 2000
MAX_SECRET = 200
MASK = "***"


@dataclass(frozen=True)
class WebhookView:
    name: str
    url: str  # query values masked
    format: str
    events: list[str]
    language: str
    active: bool
    has_secret: bool
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["created_at"] = self.created_at.isoformat()
        return data


def masked(url: str) -> str:
    """The URL with its query values hidden (robots carry their access token there)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = urlencode([(key, MASK) for key, _ in parse_qsl(parts.query, keep_blank_values=True)],
                      safe="*")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _view(hook: Webhook) -> WebhookView:
    return WebhookView(hook.name, masked(hook.url), hook.format, list(hook.events),
                       hook.language, hook.active, bool(hook.secret), hook.created_at)


def _require_admin(request: Request) -> None:
    if not policy.can_manage_webhooks(request.actor):
        raise Forbidden("only administrators may manage webhooks")


def list_webhooks(db: Database, request: Request) -> list[WebhookView]:
    """Every webhook, by name (never a secret)."""
    _require_admin(request)
    with db.read() as session:
        return [_view(hook) for hook in session.scalars(select(Webhook).order_by(Webhook.name))]


def _problems(name: str, url: str, fmt: str, events: list[str], language: str,
              secret: str | None) -> list[dict[str, Any]]:
    problems = []

    def add(field: str, code: str, message: str) -> None:
        problems.append({"field": field, "path": f"/{field}", "code": code, "message": message})

    if not NAME.fullmatch(name):
        add("name", "bad-format", "'name' has up to 64 letters, digits, '.', '_' or '-', "
                                  "starting with a letter or digit")

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL:
        add("url", "bad-url", f"'url' must be an http(s) URL of at most {MAX_URL} characters")
    if fmt not in tuple(WebhookFormat):
        add("format", "not-an-option", f"'format' must be one of: {', '.join(WebhookFormat)}")
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        add("events", "unknown-event",
            f"unknown events: {', '.join(unknown)}; allowed: {', '.join(EVENTS)}")
    if language not in LANGUAGES:
        add("language", "not-an-option", f"'language' must be one of: {', '.join(LANGUAGES)}")
    if secret is not None and not 0 < len(secret) <= MAX_SECRET:
        add("secret", "bad-secret", f"'secret' must have 1 to {MAX_SECRET} characters")
    return problems


def create_webhook(db: Database, request: Request, *, name: str, url: str,
                   fmt: str = WebhookFormat.GENERIC, events: list[str] | None = None,
                   language: str = "en", secret: str | None = None
                   ) -> tuple[WebhookView, str | None]:
    """Subscribe `url` to ticket events. A generic webhook without a given secret gets a
    generated one; a robot's secret is the one its platform shows (optional). Returns the
    webhook and its secret — the only time the secret leaves the server."""
    _require_admin(request)
    events = list(dict.fromkeys(events or []))
    problems = _problems(name, url, fmt, events, language, secret)
    if problems:
        raise Invalid("the webhook has problems; nothing was saved", details=problems)
    if secret is None and fmt == WebhookFormat.GENERIC:
        secret = "whsec_" + secrets.token_urlsafe(32)
    with db.write() as session:
        if session.scalar(select(Webhook.id).where(Webhook.name == name)) is not None:
            raise Conflict(f"a webhook named '{name}' exists", code="webhook-exists")
        hook = Webhook(name=name, url=url, secret=secret, format=str(fmt), events=events,
                       language=language, active=True, created_by=request.actor.user_id,
                       created_at=request.now)
        session.add(hook)
        session.flush()
        record(session, request, EventKind.WEBHOOK_CREATED, {
            "name": name, "url": masked(url), "format": str(fmt), "events": events})
        return _view(hook), secret


def _bury_queued(session: Session, name: str) -> int:
    """Messages still queued for a deleted webhook become dead letters (visible, never
    sent to whatever might take the name later)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.channel == str(Channel.WEBHOOK), OutboxMessage.recipient == name,
               OutboxMessage.state.in_([str(OutboxState.PENDING), str(OutboxState.FAILED),
                                        str(OutboxState.SENDING)]))
        .values(state=str(OutboxState.DEAD), lease_owner=None, lease_expires_at=None,
                last_error="the webhook was deleted")
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


def delete_webhook(db: Database, request: Request, name: str) -> None:
    """Remove a webhook; what was still queued for it becomes dead letters."""
    _require_admin(request)
    with db.write() as session:
        hook = session.scalar(select(Webhook).where(Webhook.name == name))
        if hook is None:
            raise NotFound(f"there is no webhook '{name}'")
        buried = _bury_queued(session, name)
        session.delete(hook)
        record(session, request, EventKind.WEBHOOK_DELETED, {"name": name, "buried": buried})
