"""Instants on pages (`runtime.web.common.when`): babel called directly gives exactly what
flask-babel's `format_datetime` gave, in both languages and every style."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import flask_babel
import pytest
from flask import Flask

from runtime.web.common import when
from runtime.web.i18n import COOKIE

INSTANTS = [
    datetime(2026, 11, 23, 3, 4, 5, tzinfo=UTC),
    datetime(2026, 1, 1, 23, 59, tzinfo=timezone(timedelta(hours=-5))),
]


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("style", ["short", "medium", "long"])
def test_when_reads_as_flask_babel_wrote_it(app: Flask, language: str, style: str) -> None:
    with app.test_request_context("/", headers={"Cookie": f"{COOKIE}={language}"}):
        for instant in INSTANTS:
            assert when(instant, style) == flask_babel.format_datetime(instant, style)


def test_no_instant_reads_as_nothing(app: Flask) -> None:
    with app.test_request_context("/"):
        assert when(None) == ""


def test_the_language_shows(app: Flask) -> None:
    texts = set()
    for language in ("en", "zh"):
        with app.test_request_context("/", headers={"Cookie": f"{COOKIE}={language}"}):
            texts.add(when(INSTANTS[0], "long"))
    assert len(texts) == 2
