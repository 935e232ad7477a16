"""Helpers for the page tests: logging in, tokens from pages, htmx requests."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from runtime.web.security import CSRF_HEADER
from tests.runtime.test_auth import csrf_from, log_in

__all__ = ["csrf_from", "htmx_headers", "log_in", "page_token", "text"]


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def page_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token a page of this browser session carries."""
    return csrf_from(client.get(path, follow_redirects=True))


def htmx_headers(client: FlaskClient, path: str = "/portal/") -> dict[str, str]:
    """What htmx sends: its marker and the CSRF header from the page's body attribute."""
    body = text(client.get(path, follow_redirects=True))
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', body)
    assert token, "the page does not hand htmx its CSRF header"
    return {"HX-Request": "true", CSRF_HEADER: token.group(1)}


def form_of(**values: Any) -> dict[str, Any]:
    """A form post with every field marked present (as the rendered form does)."""
    data = dict(values)
    for name in values:
        if "." not in name and name not in ("csrf_token", "version"):
            data[f"present.{name}"] = "1"
    return data
