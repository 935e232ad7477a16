"""What every response promises: security headers, the session cookie's flags, CSRF on
state-changing requests, and errors that never show a traceback or SQL.

A small probe blueprint, registered on the test's own app before its first request, gives
the cases routes that fail on purpose and a JSON route under /api/ that needs a login.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, jsonify
from flask.testing import FlaskClient
from flask_login import current_user
from sqlalchemy.exc import OperationalError
from werkzeug.test import TestResponse

from runtime.app import create_app
from runtime.config import Settings
from runtime.db import Database
from runtime.services.errors import NotFound
from runtime.web.context import service_request
from runtime.web.security import CONTENT_SECURITY_POLICY, CSRF_HEADER
from tests.runtime.conftest import PASSWORD, PG_ADMIN_URL, Clock
from tests.runtime.test_auth import csrf_from, home_token, log_in, redirects_to_login

EXPECTED_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
LEAKS = ("Traceback", "SELECT", "password_hash", "sqlite", "psycopg", "OperationalError",
         "secret internals", "connection refused", "unable to open")
PROBE_API = "/api/v1/_probe"
SANDBOX = "default-src 'none'; sandbox"
# Over the test settings' 2 MiB MAX_CONTENT_LENGTH.
TOO_BIG = b"x" * (3 * 1024 * 1024)


def probe_blueprint() -> Blueprint:
    """Test-only routes: a page and an API call that need a login, and failures."""
    probe = Blueprint("probe", __name__)

    @probe.post(f"{PROBE_API}/echo")
    def api_echo() -> Any:
        service_request()  # 401 for nobody
        return jsonify(via_token=current_user.via_token)

    @probe.post("/_probe/echo")
    def page_echo() -> str:
        return "passed"

    @probe.get("/_probe/missing")
    @probe.get(f"{PROBE_API}/missing")
    def missing() -> str:
        raise NotFound("there is no ticket REP-000999")

    @probe.get("/_probe/boom")
    @probe.get(f"{PROBE_API}/boom")
    def boom() -> str:
        raise RuntimeError("secret internals: SELECT password_hash FROM users")

    @probe.get("/_probe/sandboxed")
    def sandboxed() -> Any:
        response = jsonify(ok=True)
        response.headers["Content-Security-Policy"] = SANDBOX
        response.headers["Cache-Control"] = "private, max-age=60"
        return response

    return probe


@pytest.fixture
def probe_app(app: Flask) -> Flask:
    app.register_blueprint(probe_blueprint())
    return app


@pytest.fixture
def probe(probe_app: Flask) -> FlaskClient:
    return probe_app.test_client()


def assert_secure_headers(response: TestResponse) -> None:
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get(name) == value, name


def assert_json_error(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert {"code", "message", "details"} <= set(body["error"])
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert body["error"]["details"] == []
    return body["error"]


def assert_no_leak(response: TestResponse) -> None:
    text = response.get_data(as_text=True)
    for word in LEAKS:
        assert word not in text, word


# --- headers on every response ---------------------------------------------------------


def _home(client: FlaskClient) -> TestResponse:
    log_in(client, "wang")
    return client.get("/", follow_redirects=True)  # an agent's home is their queue


def _too_big(client: FlaskClient, path: str) -> TestResponse:
    return client.post(path, data=TOO_BIG, content_type="application/x-www-form-urlencoded")


def _too_big_api(client: FlaskClient) -> TestResponse:
    # Logged in, so the CSRF check reads the form and Werkzeug refuses the body there,
    # before any API code runs.
    log_in(client, "wang")
    return _too_big(client, "/api/v1/nope")


HEADER_CASES = [
    # (what, request, status, JSON?)
    ("page", _home, 200, False),
    ("login-page", lambda c: c.get("/login"), 200, False),
    ("redirect", lambda c: c.get("/"), 302, False),
    ("page-404", lambda c: c.get("/no/such/page"), 404, False),
    ("api-404", lambda c: c.get("/api/v1/nope"), 404, True),
    ("page-405", lambda c: c.get("/logout"), 405, False),
    ("page-413", lambda c: _too_big(c, "/login"), 413, False),
    ("api-413", _too_big_api, 413, True),
    ("csrf-400", lambda c: c.post("/login", data={"username": "wang"}), 400, False),
    ("static", lambda c: c.get("/static/css/app.css"), 200, False),
]


@pytest.mark.parametrize(("send", "status", "is_json"), [case[1:] for case in HEADER_CASES],
                         ids=[case[0] for case in HEADER_CASES])
def test_every_response_carries_the_security_headers(
        client: FlaskClient, send: Callable[[FlaskClient], TestResponse], status: int,
        is_json: bool) -> None:
    response = send(client)
    assert response.status_code == status
    assert_secure_headers(response)
    assert (response.mimetype == "application/json") is is_json
    if response.request.path.startswith("/static/"):
        assert response.mimetype == "text/css"
    else:
        assert response.headers["Cache-Control"] == "no-store"


def test_a_stricter_policy_of_a_view_is_kept_and_caching_still_refused(
        probe: FlaskClient) -> None:
    response = probe.get("/_probe/sandboxed")
    assert response.headers["Content-Security-Policy"] == SANDBOX
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


ERROR_CODES = [
    ("/api/v1/nope", "get", 404, "not-found"),
    (f"{PROBE_API}/echo", "get", 405, "method-not-allowed"),
]


@pytest.mark.parametrize(("path", "method", "status", "code"), ERROR_CODES,
                         ids=["unknown-route", "wrong-method"])
def test_app_level_api_errors_use_the_uniform_json(probe: FlaskClient, path: str, method: str,
                                                   status: int, code: str) -> None:
    response = getattr(probe, method)(path)
    assert_json_error(response, status, code)
    assert_secure_headers(response)


def test_a_405_page_keeps_the_allow_header(client: FlaskClient) -> None:
    response = client.get("/logout")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert "this address does not accept GET requests" in response.get_data(as_text=True)


def test_a_413_says_what_the_limit_is(client: FlaskClient) -> None:
    response = _too_big(client, "/login")
    assert "the request is larger than the limit of 2 MB" in response.get_data(as_text=True)


# --- the session cookie --------------------------------------------------------------


@pytest.mark.parametrize(("base_url", "secure"), [("https://localhost", True),
                                                  ("http://localhost", False)],
                         ids=["https", "http"])
def test_the_session_cookie_is_secure_over_https(client: FlaskClient, base_url: str,
                                                 secure: bool) -> None:
    response = log_in(client, "wang", base_url=base_url)
    assert response.status_code == 302
    [cookie] = [header for header in response.headers.getlist("Set-Cookie")
                if header.startswith("session=")]
    flags = {flag.strip().split("=")[0].lower(): flag.strip() for flag in cookie.split(";")}
    assert "httponly" in flags
    assert flags["samesite"] == "SameSite=Lax"
    assert ("secure" in flags) is secure


@pytest.mark.parametrize(("hops", "secure"), [(1, True), (0, False)],
                         ids=["trusted-proxy", "no-proxy-configured"])
def test_forwarded_https_counts_only_behind_a_configured_proxy(
        settings: Settings, database: Database, clock: Clock, seed: object, hops: int,
        secure: bool) -> None:
    from dataclasses import replace

    app = create_app(replace(settings, proxy_hops=hops), clock=clock, database=database)
    client = app.test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    token = csrf_from(client.get("/login", headers=forwarded))
    response = client.post("/login", headers=forwarded, data={
        "csrf_token": token, "username": "wang", "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    [cookie] = [header for header in response.headers.getlist("Set-Cookie")
                if header.startswith("session=")]
    assert ("; Secure" in cookie) is secure
    from sqlalchemy import select

    from runtime.models import Event

    with database.read() as session:
        address = session.scalar(select(Event.client_address).where(Event.kind == "login")
                                 .order_by(Event.id.desc()).limit(1))
    assert address == ("203.0.113.9" if hops else "127.0.0.1")


# --- CSRF ----------------------------------------------------------------------------


def _no_token(client: FlaskClient, token: str) -> dict[str, Any]:
    return {}


def _wrong_token(client: FlaskClient, token: str) -> dict[str, Any]:
    return {"data": {"csrf_token": token[:-2] + "xx"}}


def _non_ascii_token(client: FlaskClient, token: str) -> dict[str, Any]:
    return {"data": {"csrf_token": "令牌"}}


def _other_sessions_token(client: FlaskClient, token: str) -> dict[str, Any]:
    other = client.application.test_client()
    log_in(other, "chen")
    return {"data": {"csrf_token": home_token(other)}}


def _form_token(client: FlaskClient, token: str) -> dict[str, Any]:
    return {"data": {"csrf_token": token}}


def _header_token(client: FlaskClient, token: str) -> dict[str, Any]:
    return {"headers": {CSRF_HEADER: token}}


CSRF_CASES = [
    # (how the token is sent, passes the check?)
    ("none", _no_token, False),
    ("wrong", _wrong_token, False),
    ("non-ascii", _non_ascii_token, False),
    ("another-sessions", _other_sessions_token, False),
    ("form-field", _form_token, True),
    ("header", _header_token, True),
]


@pytest.mark.parametrize(("send", "passes"), [case[1:] for case in CSRF_CASES],
                         ids=[case[0] for case in CSRF_CASES])
def test_session_posts_need_the_csrf_token(
        probe: FlaskClient, send: Callable[[FlaskClient, str], dict[str, Any]],
        passes: bool) -> None:
    log_in(probe, "wang")
    options = send(probe, home_token(probe))
    page = probe.post("/_probe/echo", **options)
    api = probe.post(f"{PROBE_API}/echo", **options)
    if passes:
        assert page.status_code == 200
        assert api.get_json() == {"via_token": False}
        return
    assert page.status_code == 400
    assert "CSRF token" in page.get_data(as_text=True)
    assert_secure_headers(page)
    error = assert_json_error(api, 400, "csrf")
    assert CSRF_HEADER in error["message"]
    # still logged in; nothing happened
    assert probe.get("/", follow_redirects=True).status_code == 200


def test_logout_without_the_token_does_nothing(client: FlaskClient) -> None:
    log_in(client, "wang")
    assert client.post("/logout").status_code == 400
    assert client.get("/", follow_redirects=True).status_code == 200
    assert redirects_to_login(client.post("/logout", headers={CSRF_HEADER: home_token(client)}))
    assert redirects_to_login(client.get("/"))


LOGIN_CSRF = [
    ("none", lambda client: {}, 400),
    ("from-another-browser", lambda client: {"csrf_token": csrf_from(
        client.application.test_client().get("/login"))}, 400),
    ("own", lambda client: {"csrf_token": csrf_from(client.get("/login"))}, 302),
]


@pytest.mark.parametrize(("token", "status"), [case[1:] for case in LOGIN_CSRF],
                         ids=[case[0] for case in LOGIN_CSRF])
def test_the_login_form_needs_its_token(client: FlaskClient,
                                        token: Callable[[FlaskClient], dict[str, str]],
                                        status: int) -> None:
    form = {"username": "wang", "password": PASSWORD, **token(client)}
    assert client.post("/login", data=form).status_code == status


def test_the_token_changes_at_login(client: FlaskClient) -> None:
    before = csrf_from(client.get("/login"))
    log_in(client, "wang")
    after = home_token(client)
    assert after != before
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400


def test_bearer_token_calls_need_no_csrf_token(probe: FlaskClient,
                                               token_for: Callable[[str], str]) -> None:
    bearer = {"Authorization": f"Bearer {token_for('wang')}"}
    response = probe.post(f"{PROBE_API}/echo", headers=bearer)
    assert response.status_code == 200
    assert response.get_json() == {"via_token": True}
    assert response.headers["Cache-Control"] == "no-store"
    assert_secure_headers(response)


def test_a_bearer_token_does_not_excuse_a_logged_in_browser(
        probe: FlaskClient, token_for: Callable[[str], str]) -> None:
    # The session cookie authenticates first; its requests keep needing the token.
    log_in(probe, "wang")
    bearer = {"Authorization": f"Bearer {token_for('chen')}"}
    assert_json_error(probe.post(f"{PROBE_API}/echo", headers=bearer), 400, "csrf")


def test_an_anonymous_api_call_gets_401_not_a_csrf_error(probe: FlaskClient) -> None:
    response = probe.post(f"{PROBE_API}/echo", headers={"Authorization": "Bearer tf_wrong"})
    assert_json_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- errors never leak ---------------------------------------------------------------


def test_a_service_error_in_a_page_renders_the_error_page(probe: FlaskClient) -> None:
    response = probe.get("/_probe/missing")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "there is no ticket REP-000999" in response.get_data(as_text=True)
    assert_secure_headers(response)
    assert_json_error(probe.get(f"{PROBE_API}/missing"), 404, "not-found")


@pytest.mark.parametrize(("path", "is_json"), [("/_probe/boom", False),
                                               (f"{PROBE_API}/boom", True)],
                         ids=["page", "api"])
def test_an_unexpected_error_is_a_generic_500_and_is_logged(
        probe: FlaskClient, caplog: pytest.LogCaptureFixture, path: str,
        is_json: bool) -> None:
    with caplog.at_level(logging.ERROR):
        response = probe.get(path)
    assert response.status_code == 500
    if is_json:
        assert_json_error(response, 500, "internal-error")
    assert "something went wrong on our side" in response.get_data(as_text=True)
    assert_no_leak(response)
    assert_secure_headers(response)
    [record] = [r for r in caplog.records if r.exc_info]
    assert "secret internals" in str(record.exc_info[1])


@contextmanager
def _broken(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The database fails every call, with SQL in the error (that must not be shown)."""

    def fail() -> None:
        raise OperationalError("SELECT password_hash FROM users WHERE id = 1", {},
                               ConnectionRefusedError("connection refused"))

    with monkeypatch.context() as patch:
        for method in ("read", "write", "driver_connection"):
            patch.setattr(database, method, fail)
        yield


def _assert_unavailable(response: TestResponse, is_json: bool) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    if is_json:
        assert_json_error(response, 503, "unavailable")
    else:
        assert response.mimetype == "text/html"
        assert "<h1>Error 503</h1>" in response.get_data(as_text=True)  # the real page
    assert "the database is not available right now" in response.get_data(as_text=True)
    assert_no_leak(response)
    assert_secure_headers(response)


def test_a_database_outage_is_a_503_that_shows_no_sql(
        client: FlaskClient, database: Database, monkeypatch: pytest.MonkeyPatch,
        token_for: Callable[[str], str]) -> None:
    bearer = {"Authorization": f"Bearer {token_for('wang')}"}
    log_in(client, "wang")
    token = home_token(client)
    with _broken(database, monkeypatch):
        _assert_unavailable(client.get("/"), is_json=False)
        anonymous = client.application.test_client()
        _assert_unavailable(anonymous.post("/api/v1/nope", headers=bearer), is_json=True)
        logged_out = client.application.test_client()
        form = {"csrf_token": csrf_from(logged_out.get("/login")), "username": "wang",
                "password": PASSWORD}
        _assert_unavailable(logged_out.post("/login", data=form), is_json=False)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


UNREACHABLE = [
    pytest.param(lambda tmp: f"sqlite:///{tmp / 'missing' / 'dir' / 'ticketflow.db'}",
                 id="sqlite-missing-directory"),
    pytest.param(lambda tmp: PG_ADMIN_URL.rsplit("@", 1)[0] + "@127.0.0.1:1/ticketflow",
                 id="postgresql-closed-port"),
]


@pytest.mark.parametrize("url_for_dir", UNREACHABLE)
def test_an_unreachable_database_is_a_503(tmp_path: Path, clock: Clock,
                                          url_for_dir: Callable[[Path], str]) -> None:
    settings = Settings(database_url=url_for_dir(tmp_path), instance_path=tmp_path,
                        secret_key="test-secret", attachment_dir=tmp_path / "attachments",
                        testing=True)
    database = Database(settings.database_url)
    try:
        client = create_app(settings, clock=clock, database=database).test_client()
        form = {"csrf_token": csrf_from(client.get("/login")), "username": "wang",
                "password": PASSWORD}
        _assert_unavailable(client.post("/login", data=form), is_json=False)
        bearer = {"Authorization": "Bearer tf_anything"}
        _assert_unavailable(client.post("/api/v1/nope", headers=bearer), is_json=True)
    finally:
        database.dispose()
