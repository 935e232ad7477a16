"""The browser's way in and out: the login form, logout, the change of password, the
way back from a forgotten one (a one-time link by e-mail), and the page where people
issue and revoke API tokens for their programs.

Each login is a session row (see `identity`): logging out, changing the password or being
disabled revokes it, so a copied or replayed cookie stops working at once. The login form
gives one answer for an unknown user, a disabled one and a wrong password, and only
redirects to a path on this site afterwards.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, lazy_gettext
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from runtime.services import accounts, directory, recovery
from runtime.services.errors import Forbidden, Invalid, NotFound, TooManyRequests
from runtime.web.common import ROLE_LABELS, problems_text
from runtime.web.context import runtime, service_request
from runtime.web.i18n import BABEL_LOCALES
from runtime.web.identity import Identity
from runtime.web.security import SECRET_URL_HEADERS

bp = Blueprint("auth", __name__)

# Error codes of the services whose message the form shows in the UI language.
LOGIN_MESSAGES = {
    "bad-credentials": lazy_gettext("The user name or password is wrong."),
    "login-throttled": lazy_gettext("Too many failed attempts; wait a few minutes and try again."),
    "reset-throttled": lazy_gettext("Too many requests; wait a few minutes and try again."),
    "reset-link-invalid": lazy_gettext(
        "This link has expired or was already used. Ask for a new one."),
}


def safe_next(target: str | None) -> str:
    """`target` if it is a path on this site, otherwise "/".

    Refused: anything with a scheme or a host, "//host" and "/\\host" (browsers read both
    as another host), and control characters or backslashes anywhere (browsers drop tabs
    and newlines and turn backslashes into slashes, which can make "//host" out of them).
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if "\\" in target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _login_form(target: str, *, status: int = 200, error: str | None = None,
                username: str = "") -> tuple[str, int]:
    return render_template("login.html", next=target, error=error, username=username), status


def _start_session(session_id: str) -> bool:
    """Log this browser in as the live session `session_id` (False if it is gone)."""
    caller = accounts.caller_for_session(runtime().db, session_id)
    if caller is None:
        return False
    # A fresh Flask session: nothing from before the login (a planted CSRF token, say)
    # carries over into it.
    session.clear()
    login_user(Identity(caller, session_id))
    return True


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    """The login form; on success, back to the page that asked for it."""
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated and not current_user.via_token:
            return redirect(target)
        return _login_form(target)
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    if not username or not password:
        return _login_form(target, status=400, error=_("Enter your user name and password."),
                           username=username)
    try:
        login = accounts.log_in(runtime().db, username, password, now=runtime().clock(),
                                address=request.remote_addr)
    except (Forbidden, TooManyRequests) as error:
        key = LOGIN_MESSAGES.get(error.code)
        return _login_form(target, status=error.status, username=username,
                           error=str(key) if key else error.message)
    if not _start_session(login.session_id):  # disabled between the two reads
        return _login_form(target, status=403, error=_("The user name or password is wrong."),
                           username=username)
    return redirect(target)


@bp.post("/logout")
def logout() -> Response:
    """End this browser's session: its row is revoked, so the old cookie is worthless."""
    if current_user.is_authenticated and current_user.session_id:
        accounts.log_out(runtime().db, service_request(), current_user.session_id)
    message = _("You are logged out.")
    logout_user()
    session.clear()
    flash(message)
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> Response | tuple[str, int]:
    """One's own account: display name, e-mail address and language; the way to the
    password and the API tokens."""
    _people_only()
    me = directory.me(runtime().db, service_request())
    if request.method == "GET":
        return _account_page(me, me.display_name, me.email, me.language)
    display_name = request.form.get("display_name", "")
    email = request.form.get("email", "").strip()
    language = request.form.get("language", me.language)
    details = accounts.Details(display_name=display_name, email=email or None,
                               clear_email=not email, language=language)
    try:
        accounts.change_details(runtime().db, service_request(), me.username, details)
    except Invalid as error:
        return _account_page(me, display_name, email, language, 422,
                             problems_text(error, ACCOUNT_PROBLEMS))
    # Said in the language just chosen: the next page speaks it.
    with force_locale(BABEL_LOCALES.get(language, "en")):
        flash(_("Your account is saved."))
    return redirect(url_for("auth.account"))


ACCOUNT_PROBLEMS = {
    "display_name": lazy_gettext("Your name needs 1 to 200 characters."),
    "email": lazy_gettext("This is not an e-mail address."),
}


def _account_page(me: directory.UserInfo, display_name: str, email: str | None,
                  language: str, status: int = 200, error: str | None = None
                  ) -> tuple[str, int]:
    form = {"display_name": display_name, "email": email, "language": language}
    return render_template("account.html", account=current_user, me=me, form=form,
                           role_label=ROLE_LABELS.get(me.role, me.role), error=error), status


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> Response | tuple[str, int]:
    """Change one's password; every other session of the user ends, this one goes on."""
    _people_only()  # (and with a token there is no session to carry on)
    if request.method == "GET":
        return _password_form()
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        return _password_form(422, _("The two new passwords differ."))
    try:
        session_id = accounts.change_password(runtime().db, service_request(), current, new)
    except Forbidden as error:
        return _password_form(error.status, _("The current password is wrong.")
                              if error.code == "bad-credentials" else error.message)
    except Invalid as error:
        return _password_form(error.status, error.message)
    message = _("Your password was changed; your other sessions were logged out.")
    if not _start_session(session_id):
        return redirect(url_for("auth.login"))
    flash(message)
    return redirect(url_for("pages.home"))


@bp.route("/account/forgot", methods=["GET", "POST"])
def forgot() -> tuple[str, int, dict[str, str]]:
    """Ask for a link to choose a new password. The answer is the same whether or not
    the name or address belongs to an account."""
    identifier = request.form.get("identifier", "").strip()
    if request.method == "GET" or not identifier:
        status = 200 if request.method == "GET" else 422
        error = None if request.method == "GET" else _("Give your user name or e-mail address.")
        return _recovery_page("forgot.html", status, error=error, identifier=identifier)
    try:
        recovery.request_reset(runtime().db, identifier, now=runtime().clock(),
                               address=request.remote_addr)
    except TooManyRequests as error:
        return _recovery_page("forgot.html", error.status, error=str(LOGIN_MESSAGES[error.code]),
                              identifier=identifier)
    return _recovery_page("forgot.html", sent=True)


@bp.route("/account/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Response | tuple[str, int, dict[str, str]]:
    """The e-mailed link: choose the new password; this browser is then logged in."""
    db, now = runtime().db, runtime().clock()
    try:
        link = recovery.link(db, token, now)
    except NotFound as error:
        return _recovery_page("reset.html", error.status, error=str(LOGIN_MESSAGES[error.code]))
    if request.method == "GET":
        return _recovery_page("reset.html", link=link)
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        return _recovery_page("reset.html", 422, link=link,
                              error=_("The two new passwords differ."))
    try:
        login = recovery.reset_with_link(db, token, new, now=now, address=request.remote_addr)
    except Invalid as error:
        return _recovery_page("reset.html", error.status, link=link, error=error.message)
    except NotFound as error:  # used by another tab a moment ago
        return _recovery_page("reset.html", error.status, error=str(LOGIN_MESSAGES[error.code]))
    message = _("Your new password is saved; your other sessions were logged out.")
    if not _start_session(login.session_id):
        return redirect(url_for("auth.login"))
    flash(message)
    return redirect(url_for("pages.home"))


def _recovery_page(template: str, status: int = 200, **context: object
                   ) -> tuple[str, int, dict[str, str]]:
    return render_template(template, **context), status, SECRET_URL_HEADERS


def _password_form(status: int = 200, error: str | None = None) -> tuple[str, int]:
    return render_template("password.html", account=current_user, error=error), status


# What the token form offers (days; 0: until revoked). A token is a password for programs:
# the form suggests a bounded life, as the larger forges do.
TOKEN_LIFETIMES = (7, 30, 90, 365, 0)
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_NAME = 100
TOKEN_STATUS_LABELS = {
    accounts.TokenStatus.ACTIVE: lazy_gettext("active"),
    accounts.TokenStatus.EXPIRED: lazy_gettext("expired"),
    accounts.TokenStatus.REVOKED: lazy_gettext("revoked"),
}


def _people_only() -> None:
    # Pages for people at a browser: an API token must not be enough to take over the
    # account (its password, or tokens that outlive the one used).
    if current_user.via_token:
        abort(403)


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens() -> Response | tuple[str, int]:
    """The caller's API tokens; POST issues one and shows its secret on this answer only."""
    _people_only()
    if request.method == "GET":
        return _tokens_page()
    name = request.form.get("name", "").strip()
    days_text = request.form.get("days", "")
    days = int(days_text) if days_text.isdigit() else -1
    if not name or len(name) > MAX_TOKEN_NAME:
        return _tokens_page(422, _("Give the token a name of up to %(max)s characters.",
                                   max=MAX_TOKEN_NAME), name=name, days=days)
    if days not in TOKEN_LIFETIMES:
        abort(400)  # only a hand-made form sends another value
    service = service_request()
    expires_at = service.now + timedelta(days=days) if days else None
    issued = accounts.create_token(runtime().db, service, name, expires_at=expires_at)
    return _tokens_page(201, issued=issued)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Response:
    """Revoke one of the caller's tokens; programs using it are refused from now on."""
    _people_only()
    try:
        accounts.revoke_token(runtime().db, service_request(), token_id)
    except NotFound:
        abort(404)
    flash(_("The token was revoked; programs using it can no longer sign in."))
    return redirect(url_for("auth.tokens"))


def _tokens_page(status: int = 200, error: str | None = None, *,
                 issued: accounts.IssuedToken | None = None, name: str = "",
                 days: int = DEFAULT_TOKEN_DAYS) -> tuple[str, int]:
    listed = accounts.list_tokens(runtime().db, service_request())
    page = render_template("tokens.html", account=current_user, tokens=listed, error=error,
                           issued=issued, name=name, lifetimes=TOKEN_LIFETIMES,
                           token_status_labels=TOKEN_STATUS_LABELS,
                           days=days if days in TOKEN_LIFETIMES else DEFAULT_TOKEN_DAYS)
    return page, status  # shows a secret: never cached, as no dynamic page is
