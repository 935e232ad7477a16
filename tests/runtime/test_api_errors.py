"""Every way a request can be wrong, on SQLite and PostgreSQL: the status, the stable
code, the one error shape — and the database exactly as it was before.

The table is run against one database (each refused request must leave it unchanged,
so they cannot disturb each other), one subtest per row.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple

import pytest
from flask import Flask
from flask.testing import FlaskClient

from runtime.db import Database
from runtime.models import Role
from runtime.services import accounts
from tests.runtime.conftest import VALID_REPAIR
from tests.runtime.test_api_support import Api, error_of, snapshot

N = "REP-000001"  # li's ticket, repairing, unassigned
TAKEN = "REP-000002"  # li's ticket, claimed by wang
JSON_TYPE = "application/json"
BIG = 3 * 1024 * 1024  # over the test app's 2 MB request limit


class Case(NamedTuple):
    id: str
    user: str | None
    method: str
    path: str
    options: dict[str, Any]
    status: int
    code: str


def case(id: str, user: str | None, method: str, path: str, status: int, code: str,
         **options: Any) -> Case:
    return Case(id, user, method, path, options, status, code)


def raw(text: str | bytes) -> dict[str, Any]:
    return {"data": text, "content_type": JSON_TYPE}


def upload(content: bytes, name: str, field: str = "file") -> dict[str, Any]:
    """Multipart options; the file object is made afresh for every request."""
    return {"data": lambda: {field: (io.BytesIO(content), name)},
            "content_type": "multipart/form-data"}


def cursor(after: object) -> str:
    """A cursor as the service writes them, around any value."""
    return base64.urlsafe_b64encode(f'{{"after": {after}}}'.encode()).decode().rstrip("=")


NEW = {"ticket_type": "repair", "values": VALID_REPAIR}

MALFORMED = [
    case("malformed JSON", "li", "POST", "/tickets", 400, "malformed-json", **raw("{")),
    case("JSON array", "li", "POST", "/tickets", 400, "not-an-object", json=[NEW]),
    case("JSON string", "li", "PATCH", f"/tickets/{N}", 400, "not-an-object", json="x"),
    case("NaN", "li", "POST", "/tickets", 400, "malformed-json",
         **raw('{"ticket_type": "repair", "values": {"priority": NaN}}')),
    case("infinite number", "li", "POST", "/tickets", 400, "malformed-json",
         **raw('{"ticket_type": "repair", "values": {"x": 1e999}}')),
    case("NUL in a string", "li", "POST", f"/tickets/{N}/comments", 400, "malformed-json",
         json={"body": "a\u0000b"}),
    case("NUL in a key", "li", "PATCH", f"/tickets/{N}", 400, "malformed-json",
         json={"values": {"a\u0000": 1}}),
    case("lone surrogate", "li", "POST", f"/tickets/{N}/comments", 400, "malformed-json",
         **raw('{"body": "\\ud800"}')),
    case("not UTF-8", "li", "POST", "/tickets", 400, "malformed-json",
         **raw(b'{"ticket_type": "\xff"}')),
    case("nested too deep", "li", "POST", "/tickets", 400, "malformed-json",
         **raw('{"values": ' + "[" * 100 + "]" * 100 + "}")),
    case("query: limit 0", "li", "GET", "/tickets?limit=0", 400, "bad-query"),
    case("query: limit 101", "li", "GET", "/tickets?limit=101", 400, "bad-query"),
    case("query: limit not a number", "li", "GET", "/tickets?limit=ten", 400, "bad-query"),
    case("query: open is not a flag", "li", "GET", "/tickets?open=maybe", 400, "bad-query"),
    case("query: unknown parameter", "li", "GET", "/tickets?status=new", 400, "bad-query"),
    case("query: NUL", "li", "GET", "/tickets?q=%00", 400, "bad-query"),
    case("query: q too long", "li", "GET", "/tickets?q=" + "x" * 201, 400, "bad-query"),
    case("query: bad cursor", "li", "GET", "/tickets?cursor=nonsense", 400, "bad-cursor"),
    case("query: cursor beyond 64 bits", "li", "GET", "/tickets?cursor=" + cursor(10**30),
         400, "bad-cursor"),
    case("query: infinite cursor", "li", "GET", "/tickets?cursor=" + cursor("Infinity"),
         400, "bad-cursor"),
    case("query: version not a number", "wang", "GET", "/definitions/repair?version=one",
         400, "bad-query"),
    case("query: draft not a flag", "wang", "GET", "/definitions/repair?draft=yes", 400,
         "bad-query"),
    case("If-Match not an ETag", "wang", "PATCH", f"/tickets/{N}", 400, "bad-if-match",
         json={"values": {}}, headers={"If-Match": "1"}),
    case("If-Match weak", "wang", "PATCH", f"/tickets/{N}", 400, "bad-if-match",
         json={"values": {}}, headers={"If-Match": 'W/"1"'}),
    case("If-Match and version disagree", "wang", "PATCH", f"/tickets/{N}", 400,
         "bad-if-match", json={"values": {}, "version": 1}, headers={"If-Match": '"2"'}),
    case("Idempotency-Key not ASCII", "li", "POST", "/tickets", 400, "bad-idempotency-key",
         json=NEW, headers={"Idempotency-Key": "ключ"}),
    case("Idempotency-Key too long", "li", "POST", "/tickets", 400, "bad-idempotency-key",
         json=NEW, headers={"Idempotency-Key": "k" * 201}),
]

UNAUTHENTICATED = [
    case("no token", None, "GET", "/tickets", 401, "unauthorized"),
    case("no token, on a change", None, "POST", "/tickets", 401, "unauthorized", json=NEW),
    case("unknown token", "@tf_not-a-token", "GET", f"/tickets/{N}", 401, "unauthorized"),
    case("expired token", "@expired", "GET", f"/tickets/{N}", 401, "unauthorized"),
    case("revoked token", "@revoked", "POST", "/tickets", 401, "unauthorized", json=NEW),
    case("token of a disabled user", "@disabled", "GET", "/me", 401, "unauthorized"),
    case("not a bearer token", "%Basic bGk6cGFzc3dvcmQ=", "GET", "/me", 401, "unauthorized"),
]

FORBIDDEN = [
    case("requester lists users", "li", "GET", "/users", 403, "forbidden"),
    case("requester lists teams", "li", "GET", "/teams", 403, "forbidden"),
    case("agent adds a user", "wang", "POST", "/users", 403, "forbidden",
         json={"username": "new", "role": "agent"}),
    case("agent adds a team", "wang", "POST", "/teams", 403, "forbidden",
         json={"key": "new", "name": "New"}),
    case("agent saves a draft", "wang", "PUT", "/definitions/repair/draft", 403, "forbidden",
         json={"source": "ticket_type: repair\n"}),
    case("agent publishes", "zhao", "POST", "/definitions/repair/publish", 403, "forbidden"),
    case("requester writes internally", "li", "POST", f"/tickets/{N}/comments", 403,
         "forbidden", json={"body": "psst", "internal": True}),
    case("requester claims", "li", "POST", f"/tickets/{N}/claim", 403, "forbidden"),
    case("requester transfers", "li", "POST", f"/tickets/{N}/transfer", 403, "forbidden",
         json={"to_team": "repair", "reason": "please"}),
    case("requester fires an agent's transition", "li", "POST",
         f"/tickets/{N}/transitions/resolve", 403, "role-not-allowed",
         json={"values": {"resolution": "done"}}),
    case("requester opens for someone else", "li", "POST", "/tickets", 403, "forbidden",
         json={**NEW, "requester": "zhou"}),
]

NOT_FOUND = [
    case("no such ticket", "admin", "GET", "/tickets/REP-999999", 404, "not-found"),
    case("another requester's ticket", "zhou", "GET", f"/tickets/{N}", 404, "not-found"),
    case("another requester's timeline", "zhou", "GET", f"/tickets/{N}/timeline", 404,
         "not-found"),
    case("no such transition", "wang", "POST", f"/tickets/{N}/transitions/fly", 404,
         "unknown-transition"),
    case("no such ticket type", "li", "POST", "/tickets", 404, "not-found",
         json={"ticket_type": "nope", "values": {}}),
    case("no such file", "li", "GET", "/attachments/att_000000000000000000000000", 404,
         "not-found"),
    case("no such definition", "wang", "GET", "/definitions/nope", 404, "not-found"),
    case("requester reads a definition's source", "li", "GET", "/definitions/repair", 404,
         "not-found"),
    case("no draft to publish", "admin", "POST", "/definitions/repair/publish", 404,
         "not-found"),
    case("no such token", "li", "DELETE", "/tokens/999999", 404, "not-found"),
    case("a token id beyond 64 bits", "li", "DELETE", "/tokens/99999999999999999999", 404,
         "not-found"),
    case("NUL in the path", "li", "GET", "/tickets/REP%00", 404, "not-found"),
    case("no such route", "li", "GET", "/nothing/here", 404, "not-found"),
]

NOT_ALLOWED = [
    case("DELETE a collection", "li", "DELETE", "/tickets", 405, "method-not-allowed"),
    case("PUT a ticket", "li", "PUT", f"/tickets/{N}", 405, "method-not-allowed", json={}),
    case("PUT the token collection", "li", "PUT", "/tokens", 405, "method-not-allowed",
         json={}),
]

CONFLICTS = [
    case("stale version", "wang", "PATCH", f"/tickets/{N}", 409, "stale",
         json={"values": {"technician": "wang"}, "version": 7}),
    case("stale If-Match", "wang", "POST", f"/tickets/{N}/transitions/resolve", 409, "stale",
         json={"values": {"resolution": "done"}}, headers={"If-Match": '"7"'}),
    case("transition not from this state", "li", "POST", f"/tickets/{N}/transitions/confirm",
         409, "not-from-this-state", json={"values": {"confirmed": True}}),
    case("creation transition not from the initial state", "li", "POST", "/tickets", 409,
         "not-from-this-state", json={**NEW, "transition": "checked"}),
    case("already taken", "chen", "POST", f"/tickets/{TAKEN}/claim", 409, "already-taken"),
    case("user name taken", "admin", "POST", "/users", 409, "user-exists",
         json={"username": "li", "role": "requester"}),
    case("team exists", "admin", "POST", "/teams", 409, "team-exists",
         json={"key": "repair", "name": "Again"}),
]

TOO_LARGE = [
    case("request over the limit", "li", "POST", "/tickets", 413, "too-large",
         **raw('{"values": {"description": "' + "x" * BIG + '"}}')),
    case("upload over the limit", "li", "POST", "/attachments", 413, "too-large",
         **upload(b"x" * BIG, "big.txt")),
]

UNSUPPORTED = [
    case("form instead of JSON", "li", "POST", "/tickets", 415, "unsupported-media-type",
         data={"ticket_type": "repair"}),
    case("text/plain JSON", "li", "POST", f"/tickets/{N}/comments", 415,
         "unsupported-media-type", data='{"body": "x"}', content_type="text/plain"),
    case("no content type", "wang", "PATCH", f"/tickets/{N}", 415, "unsupported-media-type",
         data='{"values": {}}'),
    case("claim with a form body", "wang", "POST", f"/tickets/{N}/claim", 415,
         "unsupported-media-type", data="version=1",
         content_type="application/x-www-form-urlencoded"),
    case("upload as JSON", "li", "POST", "/attachments", 415, "unsupported-media-type",
         json={"file": "aGVsbG8="}),
    case("HTML upload", "li", "POST", "/attachments", 415, "forbidden-file-type",
         **upload(b"<html><script>alert(1)</script></html>", "page.txt")),
    case("executable upload", "li", "POST", f"/tickets/{N}/attachments", 415,
         "forbidden-file-type", **upload(b"MZ\x90\x00" + b"\x00" * 60, "a.exe")),
    case("draft as YAML text", "admin", "PUT", "/definitions/repair/draft", 415,
         "unsupported-media-type", data="ticket_type: repair", content_type="text/yaml"),
]

INVALID = [
    case("create: members missing, unknown and mistyped", "li", "POST", "/tickets", 422,
         "invalid", json={"values": [], "transition": 3, "colour": "red"}),
    case("create: field problems", "li", "POST", "/tickets", 422, "invalid",
         json={"ticket_type": "repair", "values": {**VALID_REPAIR, "device": "bad device",
                                                    "description": "short"}}),
    case("create: an unknown user as requester", "zhao", "POST", "/tickets", 422, "invalid",
         json={**NEW, "requester": "nobody"}),
    case("patch: values missing", "wang", "PATCH", f"/tickets/{N}", 422, "invalid", json={}),
    case("patch: version not a number", "wang", "PATCH", f"/tickets/{N}", 422, "invalid",
         json={"values": {}, "version": "1"}),
    case("patch: version 0", "wang", "PATCH", f"/tickets/{N}", 422, "invalid",
         json={"values": {}, "version": 0}),
    case("patch: a field this state does not open", "wang", "PATCH", f"/tickets/{N}", 422,
         "invalid", json={"values": {"device": "PRN-0001"}}),
    case("transition: values not an object", "wang", "POST",
         f"/tickets/{N}/transitions/resolve", 422, "invalid", json={"values": "done"}),
    case("transition: a required step field missing", "wang", "POST",
         f"/tickets/{N}/transitions/resolve", 422, "invalid", json={}),
    case("comment: empty", "li", "POST", f"/tickets/{N}/comments", 422, "invalid",
         json={"body": "  "}),
    case("comment: not text", "li", "POST", f"/tickets/{N}/comments", 422, "invalid",
         json={"body": 42}),
    case("comment: internal not a flag", "wang", "POST", f"/tickets/{N}/comments", 422,
         "invalid", json={"body": "x", "internal": "yes"}),
    case("transfer: no reason", "zhao", "POST", f"/tickets/{N}/transfer", 422, "invalid",
         json={"to_team": "repair"}),
    case("transfer: nobody to transfer to", "zhao", "POST", f"/tickets/{N}/transfer", 422,
         "invalid", json={"reason": "r"}),
    case("transfer: unknown team", "zhao", "POST", f"/tickets/{N}/transfer", 422, "invalid",
         json={"to_team": "nope", "reason": "r"}),
    case("transfer: user not a string", "zhao", "POST", f"/tickets/{N}/transfer", 422,
         "invalid", json={"to_user": 7, "reason": "r"}),
    case("transfer: a requester as agent", "zhao", "POST", f"/tickets/{N}/transfer", 422,
         "invalid", json={"to_user": "zhou", "reason": "r"}),
    case("upload: no file field", "li", "POST", "/attachments", 422, "invalid",
         **upload(b"x", "a.txt", field="other")),
    case("users: bad name, role and language", "admin", "POST", "/users", 422, "invalid",
         json={"username": "li lei", "role": "boss", "language": "fr"}),
    case("users: short password", "admin", "POST", "/users", 422, "invalid",
         json={"username": "newbie", "role": "agent", "password": "short"}),
    case("users: name too long", "admin", "POST", "/users", 422, "invalid",
         json={"username": "u" * 151, "role": "agent"}),
    case("teams: bad key", "admin", "POST", "/teams", 422, "invalid",
         json={"key": "Bad Key", "name": "x"}),
    case("teams: name too long", "admin", "POST", "/teams", 422, "invalid",
         json={"key": "ok", "name": "n" * 201}),
    case("tokens: no name", "li", "POST", "/tokens", 422, "invalid", json={}),
    case("tokens: name too long", "li", "POST", "/tokens", 422, "invalid",
         json={"name": "n" * 101}),
    case("tokens: expiry without a time zone", "li", "POST", "/tokens", 422, "invalid",
         json={"name": "ci", "expires_at": "2030-01-01T00:00:00"}),
    case("tokens: expiry in the past", "li", "POST", "/tokens", 422, "invalid",
         json={"name": "ci", "expires_at": "2020-01-01T00:00:00Z"}),
    case("tokens: expiry out of range", "li", "POST", "/tokens", 422, "invalid",
         json={"name": "ci", "expires_at": "9999-12-31T23:59:59-23:59"}),
    case("validate: no source", "wang", "POST", "/definitions/validate", 422, "invalid",
         json={"format": "xml"}),
    case("draft: the source names another type", "admin", "PUT",
         "/definitions/repair/draft", 422, "invalid",
         json={"source": "ticket_type: other\nversion: 2\n"}),
    case("draft: a key no definition can have", "admin", "PUT",
         "/definitions/" + "k" * 70 + "/draft", 422, "invalid",
         json={"source": "ticket_type: " + "k" * 70 + "\n"}),
    case("draft: a version no column holds", "admin", "PUT", "/definitions/repair/draft",
         422, "invalid", json={"source": "ticket_type: repair\nversion: 99999999999\n"}),
    case("draft: unreadable source", "admin", "PUT", "/definitions/repair/draft", 422,
         "invalid", json={"source": "ticket_type: [unclosed"}),
    case("publish: a body with members", "admin", "POST", "/definitions/repair/publish",
         422, "invalid", json={"force": True}),
]

TABLE = (MALFORMED + UNAUTHENTICATED + FORBIDDEN + NOT_FOUND + NOT_ALLOWED + CONFLICTS
         + TOO_LARGE + UNSUPPORTED + INVALID)


@pytest.fixture
def api(client: FlaskClient, token_for: Callable[[str], str]) -> Api:
    return Api(client, token_for)


@pytest.fixture
def special_tokens(seed: Any, api: Api) -> dict[str, str]:
    """Tokens that must not work: expired, revoked, of a disabled user."""
    admin = seed.request("admin")
    expired = accounts.create_token(seed.db, seed.request("li"), "old",
                                    expires_at=seed.clock() - timedelta(minutes=1))
    revoked = accounts.create_token(seed.db, seed.request("li"), "revoked")
    accounts.revoke_token(seed.db, seed.request("li"), revoked.id)
    accounts.create_user(seed.db, admin, username="gone", role=Role.AGENT,
                         password=None)
    disabled = accounts.create_token(seed.db, seed.request("gone"), "t")
    accounts.set_active(seed.db, admin, "gone", False)
    return {"expired": expired.token, "revoked": revoked.token, "disabled": disabled.token}


def _headers(api: Api, user: str | None, special: dict[str, str],
             extra: dict[str, str] | None) -> tuple[str | None, dict[str, str]]:
    """(user for the client, headers) — `@name`: a special or literal bearer token,
    `%value`: a literal Authorization header."""
    headers = dict(extra or {})
    if user is not None and user.startswith("@"):
        headers["Authorization"] = f"Bearer {special.get(user[1:], user[1:])}"
        return None, headers
    if user is not None and user.startswith("%"):
        headers["Authorization"] = user[1:]
        return None, headers
    return user, headers


def test_every_bad_request_is_refused_and_changes_nothing(
        api: Api, seed: Any, special_tokens: dict[str, str],
        subtests: pytest.Subtests) -> None:
    assert api.new_ticket()["number"] == N
    assert api.new_ticket()["number"] == TAKEN
    assert api.post(f"/tickets/{TAKEN}/claim", "wang").status_code == 200
    for name in ("li", "zhou", "wang", "chen", "zhao", "admin"):
        api.token(name)
    before = snapshot(seed.db)
    for row in TABLE:
        with subtests.test(msg=row.id):
            options = {name: value() if callable(value) else value
                       for name, value in row.options.items()}
            user, headers = _headers(api, row.user, special_tokens, options.pop("headers", None))
            response = api.call(row.method, row.path, user, headers=headers, **options)
            assert response.status_code == row.status, response.get_data(as_text=True)[:500]
            assert error_of(response)["code"] == row.code
            assert snapshot(seed.db) == before


def test_a_422_lists_every_problem(api: Api) -> None:
    response = api.post("/tickets", "li", json={"values": [], "transition": 3, "colour": 1})
    assert response.status_code == 422
    assert sorted((d["field"], d["code"]) for d in error_of(response)["details"]) == [
        ("colour", "unknown-member"), ("ticket_type", "required"),
        ("transition", "wrong-type"), ("values", "wrong-type")]
    fields = api.post("/tickets", "li", json={"ticket_type": "repair", "values": {
        **VALID_REPAIR, "device": "bad device", "description": "short"}})
    assert sorted((d["field"], d["code"]) for d in error_of(fields)["details"]) == [
        ("description", "too-short"), ("device", "pattern-mismatch")]


def test_a_stale_version_answers_with_the_current_ticket(api: Api) -> None:
    ticket = api.new_ticket()
    response = api.patch(f"/tickets/{ticket['number']}", "wang",
                         json={"values": {"technician": "wang"}, "version": 7})
    assert response.status_code == 409
    current = error_of(response)["current"]
    assert (current["number"], current["version"]) == (ticket["number"], 1)


def test_a_405_names_the_allowed_methods(api: Api) -> None:
    response = api.delete("/tickets", "li")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_a_401_asks_for_a_bearer_token(api: Api) -> None:
    response = api.get("/tickets")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def _unreachable(db: Database, tmp_path: Any) -> Database:
    if db.dialect == "sqlite":
        return Database(f"sqlite:///{tmp_path}/no/such/folder/ticketflow.db")
    return Database("postgresql+psycopg://nobody@127.0.0.1:1/nothing",
                    connect_args={"connect_timeout": 2})


DOWN = [
    ("GET", f"/tickets/{N}", None),
    ("GET", "/tickets", None),
    ("POST", "/tickets", NEW),
    ("POST", "/tokens", {"name": "ci"}),
    ("GET", "/me", None),
]


def test_a_database_outage_is_a_503_without_details(
        app: Flask, api: Api, seed: Any, tmp_path: Any, subtests: pytest.Subtests) -> None:
    api.new_ticket()
    token = api.token("li")
    before = snapshot(seed.db)
    state = app.extensions["ticketflow"]
    state.db = _unreachable(seed.db, tmp_path)
    try:
        for method, path, body in DOWN:
            with subtests.test(msg=f"{method} {path}"):
                response = app.test_client().open(
                    f"/api/v1{path}", method=method, json=body,
                    headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 503
                assert error_of(response)["code"] == "unavailable"
                assert response.headers["Retry-After"]
                text = response.get_data(as_text=True).lower()
                for leak in ("select", "sqlite", "psycopg", "traceback", "127.0.0.1",
                             "connection"):
                    assert leak not in text
    finally:
        state.db.dispose()
        state.db = seed.db
    assert snapshot(seed.db) == before
