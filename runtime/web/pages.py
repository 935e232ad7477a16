"""The start page (agents go to their queue, customers to their requests) and the
language switch. UI strings are flask-babel messages (see `runtime.web.i18n`)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from runtime import policy
from runtime.services import accounts, forms, tickets
from runtime.web.context import runtime, service_request
from runtime.web.i18n import COOKIE, COOKIE_AGE, LANGUAGES, ui_language

HOME_LIMIT = 25

bp = Blueprint("pages", __name__)


@bp.get("/")
@login_required
def home() -> Response | str:
    """Staff start in their queue; customers see their own requests."""
    if policy.can_use_workspace(current_user.actor):
        return redirect(url_for("workspace.queue", tab="mine"))
    service = service_request()
    page = tickets.list_tickets(runtime().db, service, tickets.Filters(requester="me"),
                                limit=HOME_LIMIT, order=tickets.Order.UPDATED)
    return render_template("home.html", account=current_user, tickets=page.items,
                           types=forms.creatable_types(runtime().db, service))


@bp.post("/language")
def language() -> Response:
    """Switch the UI language: remembered in a cookie, and as the user's own setting
    when logged in (the setting wins over the cookie, so it must change too)."""
    from runtime.web.auth import safe_next

    chosen = request.form.get("lang", "")
    target = safe_next(request.form.get("next"))
    response = redirect(target)
    if chosen not in LANGUAGES:
        return response
    if current_user.is_authenticated and not current_user.via_token \
            and ui_language() != chosen:
        accounts.set_language(runtime().db, service_request(), chosen)
    response.set_cookie(COOKIE, chosen, max_age=COOKIE_AGE, samesite="Lax", httponly=True,
                        secure=request.is_secure)
    return response
