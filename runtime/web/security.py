"""What protects every response, whichever blueprint made it: security headers, the
session cookie's flags, CSRF on state-changing requests, and error responses that never
leak a traceback or SQL.

Owns the CSRF token (one random token per browser session, kept in the signed session
cookie) and the application-level error handlers: an HTML page for browsers, the uniform
`{"error": {"code", "message", "details"}}` under `/api/`. The API blueprint registers
its own handlers for errors raised inside it; these cover everything else (an unknown
`/api/v1/...` route, a 413 raised by Werkzeug before any view runs, the CSRF check).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import (
    Flask,
    Response,
    current_app,
    g,
    has_request_context,
    jsonify,
    request,
    session,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.wrappers import Request as HttpRequest
from flask_login import current_user
from markupsafe import escape
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from runtime.services.errors import HTTP_CODES, BadRequest, ServiceError
from runtime.web.i18n import LANGUAGES, ui_language

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_SESSION_KEY = "_csrf_token"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
RETRY_AFTER_SECONDS = "5"

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

# A page whose URL is itself a credential (a password-reset or survey link): its own
# requests for styles and scripts must not carry the URL on as a referrer. (Like every
# dynamic page, it is never cached: `add_security_headers`.)
SECRET_URL_HEADERS = {"Referrer-Policy": "no-referrer"}

INTERNAL_ERROR = "something went wrong on our side; it has been logged — try again later"
UNAVAILABLE = "the database is not available right now; try again shortly"
CONFLICT = "the change conflicts with a concurrent one; nothing was saved — try again"


class CsrfError(BadRequest):
    """A state-changing browser request without the session's CSRF token."""

    code = "csrf"


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with `Secure` set whenever the request came over
    HTTPS, so one configuration serves both a plain-HTTP laptop and a TLS deployment
    (behind a TLS-terminating proxy, the WSGI entry point must apply ProxyFix so that
    `request.is_secure` sees the original scheme)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if super().get_cookie_secure(app):
            return True
        return has_request_context() and request.is_secure

    def open_session(self, app: Flask, incoming: HttpRequest) -> SecureCookieSession | None:
        # No cookie (every API call with a token): the same empty session Flask would
        # give, without first building a signing serializer for nothing.
        if app.secret_key and self.get_cookie_name(app) not in incoming.cookies:
            return self.session_class()
        return super().open_session(app, incoming)


def csrf_token() -> str:
    """This browser session's CSRF token (created on first use); templates call it."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def is_api_request() -> bool:
    """Whether the request is for the REST API (JSON errors) rather than a page."""
    return request.path == "/api" or request.path.startswith("/api/")


def _csrf_required() -> bool:
    if request.method not in UNSAFE_METHODS:
        return False
    if current_user.is_authenticated:
        # A browser never attaches an Authorization header by itself, so a forged
        # cross-site request cannot carry a bearer token: token calls are exempt.
        return not getattr(current_user, "via_token", False)
    # Anonymous: browser forms need the token too (the login form: login CSRF); an
    # anonymous API call involves no cookie and gets the API's own 401.
    return not is_api_request()


def check_csrf() -> None:
    """Refuse a state-changing request authenticated by the session cookie (or a browser
    form such as the login form) unless it carries this session's token."""
    if not _csrf_required():
        return
    expected = session.get(CSRF_SESSION_KEY)
    # The header first: reading the form would parse (and size-check) the whole body.
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if not (isinstance(expected, str) and expected and sent
            and hmac.compare_digest(sent.encode(), expected.encode())):
        raise CsrfError(
            "the request is missing this session's CSRF token: reload the page and try "
            f"again (API clients: send the {CSRF_HEADER} header, or use an API token)")


def add_security_headers(response: Response) -> Response:
    """The headers every response carries, error pages and API responses included."""
    for name, value in SECURITY_HEADERS.items():
        # A view may have sent a stricter policy of its own (a downloaded attachment is
        # sandboxed with "default-src 'none'"); ours is the floor, not a replacement.
        response.headers.setdefault(name, value)
    # Nothing dynamic may be kept by a browser or proxy cache: pages show one user's
    # tickets and carry the session's CSRF token (the login page too). Static files hold
    # nothing personal and keep Flask's caching.
    if request.endpoint != "static" and "no-store" not in response.headers.get(
            "Cache-Control", ""):
        response.headers["Cache-Control"] = "no-store"
    return response


def error_response(status: int, code: str, message: str,
                   details: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    """An error as the uniform JSON under `/api/`, as the error page elsewhere."""
    if is_api_request():
        response = jsonify({"error": {"code": code, "message": message,
                                      "details": details or []}})
    else:
        response = current_app.make_response(_error_page(status, code, message))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401 and is_api_request():
        response.headers["WWW-Authenticate"] = 'Bearer realm="ticketflow"'
    return response


def _error_page(status: int, code: str, message: str) -> str:
    # Rendered without the context processors: flask-login's would load the user, that is
    # query the database, and the error being shown may be that the database is down.
    try:
        g.error_page = True  # the language is chosen without loading the user
        message = _page_message(code, message)
        template = current_app.jinja_env.get_template("error.html")
        return template.render(status=status, code=code, message=message, error_page=True,
                               ui_language=ui_language(), languages=LANGUAGES)
    except Exception:
        # The error page itself failed (a broken template): still answer, in plain words.
        current_app.logger.exception("the error page could not be rendered")
        return f"<!doctype html><title>{status}</title><p>{escape(message)}</p>"


def _too_large_text() -> str:
    from flask_babel import gettext

    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and limit >= 1024 * 1024:
        return gettext("The request is larger than the limit of %(mb)d MB.",
                       mb=limit // (1024 * 1024))
    return gettext("The request is larger than the limit.")


def _page_message(code: str, message: str) -> str:
    """The message in the page's language: the service's own (English) text in English,
    which may name what is missing; a translation by its code otherwise."""
    from flask_babel import gettext

    if ui_language() == "en":
        return message

    from runtime.web.common import ERROR_TEXTS

    known = {
        "not-found": ERROR_TEXTS["not-found"], "forbidden": ERROR_TEXTS["forbidden"],
        "csrf": ERROR_TEXTS["csrf"],
        "internal-error": gettext("Something went wrong on our side; it has been logged. "
                                  "Try again later."),
        "unavailable": gettext("The service is not available right now; try again shortly."),
        "too-large": _too_large_text(),
    }.get(code)
    return str(known) if known is not None else message


def _service_error(error: ServiceError) -> Response:
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if error.status in (429, 503) else None
    body = error.to_dict()
    return error_response(error.status, error.code, error.message, body["details"], headers)


def _http_error(error: HTTPException) -> HTTPException | Response:
    if error.code is None or error.code < 400:
        return error  # redirects and the like are answers, not errors
    headers = {name: value for name, value in error.get_headers()
               if name.lower() != "content-type"}  # keep Allow on a 405; the body is ours
    return error_response(error.code, HTTP_CODES.get(error.code, "http-error"),
                          _http_message(error), headers=headers)


def _http_message(error: HTTPException) -> str:
    if error.code == 404:
        return "there is nothing at this address"
    if error.code == 405:
        return f"this address does not accept {request.method} requests"
    if error.code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        size = f" of {limit // (1024 * 1024)} MB" if limit and limit >= 1024 * 1024 else ""
        return f"the request is larger than the limit{size}"
    # Werkzeug's descriptions are fixed texts written by developers, never user input.
    return error.description or error.name


def _integrity_error(error: IntegrityError) -> Response:
    # A unique constraint lost to a concurrent writer; a retry gets the service's answer.
    current_app.logger.warning("integrity error: %s", type(error.orig).__name__)
    return error_response(409, "conflict", CONFLICT)


def _database_error(error: Exception) -> Response:
    # The database is down or overloaded. The message says nothing about SQL or the
    # server; the operator finds the traceback in the log.
    current_app.logger.exception("database error")
    return error_response(503, "unavailable", UNAVAILABLE,
                          headers={"Retry-After": RETRY_AFTER_SECONDS})


def _unexpected_error(error: Exception) -> Response:
    current_app.logger.exception("unhandled error in %s %s", request.method, request.path)
    return error_response(500, "internal-error", INTERNAL_ERROR)


def init_app(app: Flask) -> None:
    """Install the session interface, the CSRF check, the headers and the error handlers."""
    app.session_interface = SessionInterface()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.before_request(check_csrf)
    app.after_request(add_security_headers)
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(HTTPException, _http_error)
    # Flask picks the most specific class: IntegrityError before DBAPIError (of which
    # OperationalError, "the server is gone", is one), and any of them before Exception.
    app.register_error_handler(IntegrityError, _integrity_error)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(PoolTimeout, _database_error)
    app.register_error_handler(Exception, _unexpected_error)
