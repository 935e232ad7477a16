"""The API blueprint and what every API request shares: the context helpers views use
and the request/response hooks."""

from __future__ import annotations

from flask import Blueprint, Response, request

from runtime.api.inputs import check_text
from runtime.config import Settings
from runtime.db import Database
from runtime.services.errors import NotFound
from runtime.web.context import runtime

api = Blueprint("api", __name__)


def db() -> Database:
    """The application's database."""
    return runtime().db


def settings() -> Settings:
    """The application's settings (upload limits, attachment folder)."""
    return runtime().settings


@api.before_request
def _refuse_unstorable_path() -> None:
    # A path segment with NUL or a lone surrogate names nothing that can exist, and
    # PostgreSQL would refuse it as a query parameter (a 5xx instead of a 404).
    for value in (request.view_args or {}).values():
        if isinstance(value, str):
            try:
                check_text(value)
            except ValueError:
                raise NotFound("there is no such resource") from None


@api.after_request
def _no_store(response: Response) -> Response:
    # API answers carry personal data and, once, token secrets: no shared cache keeps them.
    response.headers.setdefault("Cache-Control", "no-store")
    return response
