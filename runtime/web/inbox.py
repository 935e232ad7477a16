"""My notifications in the browser: the inbox every logged-in user has (agents hear of
mentions, new tickets and SLA warnings; customers of replies and closed tickets), with an
unread badge in the header, one-by-one and all-at-once marking read, and links to the
tickets. The rows are those `runtime.services.inbox` keeps; this module only shows them.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from runtime import policy
from runtime.services import inbox
from runtime.services.errors import ServiceError
from runtime.web.common import flash_error, ui_request
from runtime.web.context import runtime

bp = Blueprint("inbox", __name__)
PAGE_SIZE = 30

# What each kind of notification is about, as a short label next to its title.
KIND_LABELS = {
    "mention": lazy_gettext("Mention"),
    "assigned": lazy_gettext("Passed to you"),
    "team_assigned": lazy_gettext("Passed to your team"),
    "routed": lazy_gettext("New for you"),
    "queued": lazy_gettext("Waiting in the queue"),
    "pool": lazy_gettext("In the claim pool"),
    "reply": lazy_gettext("Reply"),
    "closed": lazy_gettext("Closed"),
    "reminder": lazy_gettext("Reminder"),
    "notice": lazy_gettext("Notice"),
    "sla_warning": lazy_gettext("SLA warning"),
    "sla_breach": lazy_gettext("SLA breached"),
    "escalation": lazy_gettext("Escalation"),
}


def _before() -> int | None:
    raw = request.args.get("before", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


@bp.get("/inbox")
@login_required
def notifications() -> str:
    """My notifications, newest first, a page at a time (`before`: the last id seen)."""
    unread_only = request.args.get("unread") == "1"
    page = inbox.list_notifications(runtime().db, ui_request(), unread_only=unread_only,
                                    before=_before(), limit=PAGE_SIZE)
    return render_template("inbox.html", page=page, unread_only=unread_only,
                           kind_labels=KIND_LABELS,
                           staff=policy.can_use_workspace(current_user.actor))


def _back() -> Response:
    # Back to the page the button was on (the filter and page kept), never off-site.
    target = request.form.get("next", "")
    if not target.startswith("/inbox") or target.startswith("//"):
        target = url_for("inbox.notifications")
    return redirect(target)


@bp.post("/inbox/<int:notification_id>/read")
@login_required
def read(notification_id: int) -> Response:
    """Mark one notification read; with `open`, go on to its ticket."""
    try:
        item = inbox.mark_read(runtime().db, ui_request(), notification_id)
    except ServiceError as error:
        flash_error(error)
        return _back()
    if request.form.get("open") and item.ticket:
        return redirect(url_for("ticket.show", number=item.ticket))
    return _back()


@bp.post("/inbox/read-all")
@login_required
def read_all() -> Response:
    """Mark every notification read."""
    changed = inbox.mark_all_read(runtime().db, ui_request())
    if changed:
        flash(_("Marked %(count)s notification(s) as read.", count=changed))
    return _back()


@bp.app_context_processor
def _unread_badge() -> dict[str, object]:
    # A function, so the count is queried only where the header asks for it (logged-in
    # pages), never on the error page or for anonymous visitors.
    def unread_notifications() -> int:
        if not current_user.is_authenticated:
            return 0
        return inbox.unread_count(runtime().db, ui_request())

    return {"unread_notifications": unread_notifications}
