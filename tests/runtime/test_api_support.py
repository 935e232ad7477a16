"""Helpers the API tests share (no tests here): a client that speaks as a seeded user
with a bearer token, and a snapshot of the database to prove a refusal changed nothing.

They would sit better in tests/runtime/conftest.py; they live here until they move.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from runtime.db import Database
from runtime.models import (
    ApiToken,
    Attachment,
    DefinitionVersion,
    Event,
    IdempotencyKey,
    Team,
    Ticket,
    User,
)
from tests.runtime.conftest import VALID_REPAIR

PREFIX = "/api/v1"


class Api:
    """The test client, speaking JSON to /api/v1 as a seeded user (by bearer token)."""

    def __init__(self, client: FlaskClient, token_for: Callable[[str], str]) -> None:
        self.client = client
        self._token_for = token_for
        self._tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self._tokens:
            self._tokens[username] = self._token_for(username)
        return self._tokens[username]

    def call(self, method: str, path: str, user: str | None = None,
             headers: dict[str, str] | None = None, **options: Any) -> TestResponse:
        sent = dict(headers or {})
        if user is not None:
            sent["Authorization"] = f"Bearer {self.token(user)}"
        return self.client.open(PREFIX + path, method=method, headers=sent, **options)

    def get(self, path: str, user: str | None = None, **options: Any) -> TestResponse:
        return self.call("GET", path, user, **options)

    def post(self, path: str, user: str | None = None, **options: Any) -> TestResponse:
        return self.call("POST", path, user, **options)

    def patch(self, path: str, user: str | None = None, **options: Any) -> TestResponse:
        return self.call("PATCH", path, user, **options)

    def put(self, path: str, user: str | None = None, **options: Any) -> TestResponse:
        return self.call("PUT", path, user, **options)

    def delete(self, path: str, user: str | None = None, **options: Any) -> TestResponse:
        return self.call("DELETE", path, user, **options)

    def new_ticket(self, user: str = "li", **values: Any) -> dict[str, Any]:
        """A repair ticket opened through the API (201 asserted)."""
        body: dict[str, Any] = {"ticket_type": "repair", "values": {**VALID_REPAIR, **values}}
        response = self.post("/tickets", user, json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["ticket"]


def snapshot(db: Database) -> dict[str, Any]:
    """Row counts of everything a request could add, and every ticket's version."""
    with db.read() as session:
        counts = {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                  for model in (Ticket, Event, Attachment, User, Team, DefinitionVersion,
                                IdempotencyKey, ApiToken)}
        versions = dict(session.execute(select(Ticket.number, Ticket.version)).all())
    return {**counts, "versions": versions}


def error_of(response: TestResponse) -> dict[str, Any]:
    """The `error` member of an error response (asserting the uniform shape)."""
    body = response.get_json()
    assert isinstance(body, dict), response.data[:200]
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message", "details"} <= set(error), error
    assert isinstance(error["details"], list)
    return error
