"""Administration in the browser: people (add, change role, teams, details, disable, set
a forgotten password, revoke their API tokens), teams, the audit log, what was sent (the
outbox, with its dead letters to send again) and the webhooks.

Thin over the same services as the API and the command line; the policy decides who may
(administrators), and every other user gets the 404 of a page that is not there.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from runtime import policy
from runtime.models import Channel, EventKind, OutboxState, Role, WebhookFormat
from runtime.services import accounts, audit, directory, outbox, recovery, webhooks
from runtime.services.errors import Conflict, Invalid, NotFound, ServiceError
from runtime.web.auth import TOKEN_STATUS_LABELS
from runtime.web.common import ROLE_LABELS, error_text, flash_error, problems_text
from runtime.web.context import runtime, service_request

bp = Blueprint("admin", __name__, url_prefix="/admin")

FIELD_PROBLEMS = {
    "username": lazy_gettext("A user name has 1 to 150 letters, digits, '.', '_' or '-'."),
    "password": lazy_gettext("A password needs at least 8 characters."),
    "display_name": lazy_gettext("A name needs 1 to 200 characters."),
    "email": lazy_gettext("This is not an e-mail address."),
    "key": lazy_gettext("A team key has up to 63 lower-case letters, digits, '_' or '-', "
                        "starting with a letter."),
    "name": lazy_gettext("A team needs a name."),
}
WEBHOOK_PROBLEMS = {
    "name": lazy_gettext("A webhook's name has up to 64 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit."),
    "url": lazy_gettext("The address must be an http(s) URL."),
    "secret": lazy_gettext("A secret has 1 to 200 characters."),
}
PAGE_SIZE = 50


@bp.before_request
@login_required
def _administrators_only() -> None:
    if current_user.via_token or not policy.can_manage_users(current_user.actor):
        abort(404)


def _role(raw: str | None) -> Role | None:
    return Role(raw) if raw in {str(role) for role in Role} else None


# --- people --------------------------------------------------------------------------


@bp.get("/users")
def users() -> str:
    """Everyone, by user name, searched by name or address and filtered by role."""
    text = request.args.get("q", "").strip()[:200]
    role = _role(request.args.get("role"))
    page = directory.find_users(runtime().db, service_request(), text=text or None, role=role,
                                after=request.args.get("after") or None, limit=PAGE_SIZE)
    return _users_page(page, text, role)


def _users_page(page: directory.UserPage, text: str, role: Role | None, status: int = 200,
                error: str | None = None, form: dict[str, object] | None = None
                ) -> tuple[str, int]:
    teams = directory.list_teams(runtime().db, service_request())
    return render_template("admin_users.html", page=page, text=text, role=role,
                           roles=ROLE_LABELS, teams=teams, error=error,
                           form=form or {"role": str(Role.AGENT), "language": "en",
                                         "teams": []}), status


@bp.post("/users")
def add_user() -> Response | tuple[str, int]:
    """Add someone who logs in with a password."""
    form = request.form
    entered = {name: form.get(name, "").strip()
               for name in ("username", "display_name", "email", "role", "language")}
    teams = form.getlist("teams")
    role = _role(entered["role"])
    if role is None:
        abort(400)  # only a hand-made form sends another role
    try:
        accounts.create_user(runtime().db, service_request(), username=entered["username"],
                             role=role, password=form.get("password", ""),
                             display_name=entered["display_name"] or None,
                             email=entered["email"] or None,
                             language=entered["language"] or "en", teams=tuple(teams))
    except Invalid as error:
        return _refused_user(entered, teams, 422, problems_text(error, FIELD_PROBLEMS))
    except Conflict as error:
        return _refused_user(entered, teams, 409, _("The user name %(name)s is taken.",
                                                    name=entered["username"])
                             if error.code == "user-exists" else error_text(error))
    flash(_("%(name)s was added.", name=entered["username"]))
    return redirect(url_for("admin.user", username=entered["username"]))


def _refused_user(entered: dict[str, str], teams: list[str], status: int, error: str
                  ) -> tuple[str, int]:
    page = directory.find_users(runtime().db, service_request(), limit=PAGE_SIZE)
    return _users_page(page, "", None, status, error, {**entered, "teams": teams})


@bp.get("/users/<username>")
def user(username: str) -> tuple[str, int]:
    """One person: details, role and teams, access, password, API tokens."""
    return _user_page(username)


def _user_page(username: str, status: int = 200, error: str | None = None
               ) -> tuple[str, int]:
    db, service = runtime().db, service_request()
    try:
        person = directory.user_named(db, service, username)
    except NotFound:
        abort(404)
    tokens = accounts.list_tokens(db, service, username)
    history = audit.entries(db, service, actor=username, limit=20).items
    return render_template("admin_user.html", person=person, roles=ROLE_LABELS,
                           teams=directory.list_teams(db, service), tokens=tokens,
                           history=history, error=error,
                           token_status_labels=TOKEN_STATUS_LABELS), status


@bp.post("/users/<username>")
def change_user(username: str) -> Response | tuple[str, int]:
    """Change details, role, teams and whether the account may sign in: all or nothing."""
    form = request.form
    role = _role(form.get("role"))
    if role is None:
        abort(400)
    email = form.get("email", "").strip()
    details = accounts.Details(display_name=form.get("display_name", ""),
                               email=email or None, clear_email=not email,
                               language=form.get("language", "en"))
    try:
        accounts.change_user(runtime().db, service_request(), username,
                             active=form.get("active") == "1", role=role,
                             teams=tuple(form.getlist("teams")), details=details)
    except Invalid as error:
        return _user_page(username, 422, problems_text(error, FIELD_PROBLEMS))
    except Conflict:  # the one conflict here: an administrator locking themselves out
        return _user_page(username, 409, _("You cannot disable yourself or give up your "
                                           "own administrator role."))
    except NotFound:
        abort(404)
    flash(_("The changes to %(name)s are saved.", name=username))
    return redirect(url_for("admin.user", username=username))


@bp.post("/users/<username>/password")
def set_password(username: str) -> Response | tuple[str, int]:
    """Set a forgotten password; the person's sessions and reset links end."""
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        return _user_page(username, 422, _("The two new passwords differ."))
    try:
        recovery.set_password(runtime().db, service_request(), username, new)
    except Invalid as error:
        return _user_page(username, 422, problems_text(error, FIELD_PROBLEMS))
    except NotFound:
        abort(404)
    flash(_("The new password of %(name)s is set; their sessions were logged out.",
            name=username))
    return redirect(url_for("admin.user", username=username))


@bp.post("/users/<username>/tokens/<int:token_id>/revoke")
def revoke_token(username: str, token_id: int) -> Response:
    """Revoke one of the person's API tokens."""
    try:
        accounts.revoke_token(runtime().db, service_request(), token_id)
        flash(_("The token was revoked; programs using it can no longer sign in."))
    except ServiceError as error:
        flash_error(error)
    return redirect(url_for("admin.user", username=username) + "#tokens")


# --- teams ---------------------------------------------------------------------------


@bp.route("/teams", methods=["GET", "POST"])
def teams() -> Response | tuple[str, int]:
    """The teams with their leads and sizes; add one."""
    db, service = runtime().db, service_request()
    entered = {"key": request.form.get("key", "").strip(),
               "name": request.form.get("name", "").strip()}
    status, error = 200, None
    if request.method == "POST":
        try:
            accounts.create_team(db, service, entered["key"], entered["name"])
        except Invalid as problem:
            status, error = 422, problems_text(problem, FIELD_PROBLEMS)
        except Conflict:
            status, error = 409, _("The team %(key)s exists.", key=entered["key"])
        else:
            flash(_("Team %(key)s was added.", key=entered["key"]))
            return redirect(url_for("admin.teams"))
    return render_template("admin_teams.html", teams=directory.team_overview(db, service),
                           form=entered, error=error), status


# --- the audit log -------------------------------------------------------------------


@bp.get("/audit")
def audit_log() -> str:
    """Every recorded change, newest first: by kind, by person, older pages."""
    kind = request.args.get("kind") or None
    if kind is not None and kind not in {str(k) for k in EventKind}:
        kind = None
    actor = request.args.get("actor", "").strip()[:150] or None
    page = audit.entries(runtime().db, service_request(), kind=kind, actor=actor,
                         before=_cursor(request.args.get("before", "")))
    return render_template("admin_audit.html", page=page, kind=kind, actor=actor or "",
                           kinds=sorted(str(k) for k in EventKind))


def _cursor(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and 0 < len(raw) < 19 else None


def _one_of(raw: str | None, options: type[OutboxState] | type[Channel]) -> str | None:
    return raw if raw in {str(option) for option in options} else None


# --- what was sent -------------------------------------------------------------------


@bp.get("/deliveries")
def deliveries() -> str:
    """Every message sent or waiting (inbox entries, e-mails, webhook calls), newest first;
    failed and dead ones with their last error and a way to send them again."""
    state = _one_of(request.args.get("state"), OutboxState)
    channel = _one_of(request.args.get("channel"), Channel)
    page = outbox.list_messages(runtime().db, service_request(),
                                state=OutboxState(state) if state else None,
                                channel=Channel(channel) if channel else None,
                                before=_cursor(request.args.get("before", "")))
    return render_template("admin_deliveries.html", page=page, state=state, channel=channel,
                           states=[str(s) for s in OutboxState],
                           channels=[str(c) for c in Channel],
                           retryable=outbox.RETRYABLE)


@bp.post("/deliveries/<int:message_id>/retry")
def retry_delivery(message_id: int) -> Response:
    """Send a dead or failed message again, from a fresh count of attempts."""
    try:
        outbox.retry(runtime().db, service_request(), message_id)
        flash(_("Message %(id)s will be sent again.", id=message_id))
    except ServiceError as error:
        flash_error(error)
    return redirect(url_for("admin.deliveries", state=request.form.get("state") or None))


# --- webhooks ------------------------------------------------------------------------


@bp.route("/webhooks", methods=["GET", "POST"])
def hooks() -> tuple[str, int]:
    """The webhooks (never a secret); add one — its secret is shown on that answer only."""
    db, service = runtime().db, service_request()
    form = request.form
    entered = {"name": form.get("name", "").strip(), "url": form.get("url", "").strip(),
               "format": form.get("format", str(WebhookFormat.GENERIC)),
               "language": form.get("language", "en"), "events": form.getlist("events")}
    status, error, created = 200, None, None
    if request.method == "POST":
        if entered["format"] not in {str(f) for f in WebhookFormat}:
            abort(400)  # only a hand-made form sends another format
        try:
            created = webhooks.create_webhook(
                db, service, name=str(entered["name"]), url=str(entered["url"]),
                fmt=str(entered["format"]), events=list(entered["events"]),
                language=str(entered["language"]), secret=form.get("secret") or None)
            status = 201
        except Invalid as problem:
            status, error = 422, problems_text(problem, WEBHOOK_PROBLEMS)
        except Conflict:
            status, error = 409, _("A webhook named %(name)s exists.", name=entered["name"])
    page = render_template("admin_webhooks.html", hooks=webhooks.list_webhooks(db, service),
                           form=entered if created is None else {"events": []},
                           created=created, error=error, events=webhooks.EVENTS,
                           formats=[str(f) for f in WebhookFormat])
    return page, status  # shows a secret: never cached, as no dynamic page is


@bp.post("/webhooks/<name>/delete")
def delete_hook(name: str) -> Response:
    """Remove a webhook; what was queued for it becomes dead letters."""
    try:
        webhooks.delete_webhook(runtime().db, service_request(), name)
        flash(_("Webhook %(name)s was removed.", name=name))
    except ServiceError as error:
        flash_error(error)
    return redirect(url_for("admin.hooks"))
