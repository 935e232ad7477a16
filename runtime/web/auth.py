"""The browser's way in and out: the login form, logout and the change of password.

Each login is a session row (see `identity`): logging out, changing the password or being
disabled revokes it, so a copied or replayed cookie stops working at once. The login form
gives one answer for an unknown user, a disabled one and a wrong password, and only
redirects to a path on this site afterwards.
"""

from __future__ import annotations

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
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from runtime.services import accounts
from runtime.services.errors import Forbidden, Invalid, TooManyRequests
from runtime.web.context import runtime, service_request
from runtime.web.identity import Identity

bp = Blueprint("auth", __name__)

# Error codes of the services whose message the form shows in the UI language.
LOGIN_MESSAGES = {
    "bad-credentials": lazy_gettext("The user name or password is wrong."),
    "login-throttled": lazy_gettext("Too many failed attempts; wait a few minutes and try again."),
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


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> Response | tuple[str, int]:
    """Change one's password; every other session of the user ends, this one goes on."""
    if current_user.via_token:
        # A page for people at a browser: an API token must not be enough to take over
        # the account's password (and there is no session to carry on).
        abort(403)
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


def _password_form(status: int = 200, error: str | None = None) -> tuple[str, int]:
    return render_template("password.html", account=current_user, error=error), status
