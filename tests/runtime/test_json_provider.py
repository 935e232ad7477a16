"""API answers are encoded by orjson and read exactly as Flask's own encoder wrote them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider

from runtime.web.json_provider import FastJSONProvider


@dataclass
class Point:
    x: int
    y: int


CASES = [
    pytest.param({"b": 1, "a": [1, 2.5, None, True]}, id="keys-sorted"),
    pytest.param({"text": "工单 é <script>&'\u2028"}, id="non-ascii-and-markup"),
    pytest.param({"at": datetime(2026, 12, 4, 3, 0, tzinfo=UTC), "on": date(2026, 12, 4)},
                 id="dates-as-flask-writes-them"),
    pytest.param({"amount": Decimal("12.50"), "id": UUID(int=7)}, id="decimal-and-uuid"),
    pytest.param({"point": Point(1, 2)}, id="dataclass"),
    pytest.param({1: "integer keys"}, id="non-string-keys"),
    pytest.param({"huge": 2**70}, id="past-64-bits-falls-back"),
    pytest.param([{"nested": {"z": 1, "y": {"x": []}}}], id="nested"),
]


def _app(provider: type[DefaultJSONProvider]) -> Flask:
    app = Flask(__name__)
    app.json = provider(app)
    return app


@pytest.mark.parametrize("value", CASES)
def test_the_answer_reads_as_flasks_own(value: Any) -> None:
    answers = []
    for provider in (DefaultJSONProvider, FastJSONProvider):
        with _app(provider).app_context():
            response = jsonify(value)
            answers.append((response.mimetype, response.get_data()))
    (flask_type, flask_body), (fast_type, fast_body) = answers
    assert fast_type == flask_type == "application/json"
    assert json.loads(fast_body) == json.loads(flask_body)
    assert fast_body.endswith(b"\n")


def test_debug_answers_stay_pretty_printed() -> None:
    app = _app(FastJSONProvider)
    app.debug = True
    with app.app_context():
        assert b'\n  "a": 1' in jsonify({"a": 1}).get_data()
