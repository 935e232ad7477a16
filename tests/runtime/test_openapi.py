"""The OpenAPI document: a valid OpenAPI 3.1 document, complete (every /api/v1 route is
in it), and true: a bounded fuzz run driven by it never gets a server error, nor a
status, content type or body the document does not promise.

The fuzz drives schemathesis' Python API with Hypothesis directly: its pytest loader
(`schemathesis.pytest.from_fixture`) fails on pytest 9 (it sets `Function._nodeid`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from runtime.api.openapi import DOCUMENT
from tests.runtime.test_api_support import PREFIX, Api

CONVERTER = re.compile(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>")
IGNORED_METHODS = {"HEAD", "OPTIONS"}
FUZZ_EXAMPLES = 20
# Never a 500 — and every answer is one the document promises (status, type, schema).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get(f"{PREFIX}/openapi.json")  # no token: the document is public
    assert response.status_code == 200
    return response.get_json()


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_bearer_tokens_are_the_default_security(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        **document["components"]["securitySchemes"]["bearerAuth"],
        "type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearerAuth": []}]


def _routes(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = CONVERTER.sub(r"{\1}", rule.rule.removeprefix(PREFIX))
        routes.update((path, method.lower()) for method in rule.methods or ()
                      if method not in IGNORED_METHODS)
    return routes


def test_every_route_is_documented(app: Flask, document: dict[str, Any]) -> None:
    documented = {(path, method) for path, item in document["paths"].items()
                  for method in item if method != "parameters"}
    routes = _routes(app)
    assert routes, "the API has no routes?"
    assert routes - documented == set()
    assert documented - routes == set()


def test_every_operation_documents_its_errors_in_the_one_shape(
        document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters" or path == "/openapi.json":
                continue
            responses = operation["responses"]
            assert {"401", "503"} <= set(responses), (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert response == {"$ref": f"#/components/responses/E{status}"}
    for response in document["components"]["responses"].values():
        assert response["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"}


# Revoking tokens by random id would revoke the fuzzer's own token on the way.
NOT_FUZZED = {("DELETE", "/tokens/{token_id}"), ("GET", "/openapi.json")}
OPERATIONS = [(method.upper(), path) for path, item in DOCUMENT["paths"].items()
              for method in item if method != "parameters"
              and (method.upper(), path) not in NOT_FUZZED]


def _strategy(operation: Any, mode: GenerationMode, number: str) -> SearchStrategy[Any]:
    strategy = operation.as_strategy(generation_mode=mode)
    if "{number}" not in operation.path:
        return strategy
    # Half the cases aim at a ticket that exists, so bodies reach the services.
    return strategy | operation.as_strategy(generation_mode=mode,
                                            path_parameters={"number": number})


# SQLite only: the fuzz checks the API's input handling, which is the same on both
# databases; the specification tests cover PostgreSQL. Each operation gets a handful of
# valid and of invalid requests (derandomized: the same ones on every run), all against
# one seeded database (seeding is the slow part).
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["valid", "invalid"])
def test_fuzzed_requests_never_get_a_server_error(
        app: Flask, token_for: Callable[[str], str], mode: GenerationMode) -> None:
    api = Api(app.test_client(), token_for)
    number = api.new_ticket("admin")["number"]
    admin_headers = {"Authorization": f"Bearer {api.token('admin')}"}
    schema = schemathesis.openapi.from_wsgi(f"{PREFIX}/openapi.json", app)
    for method, path in OPERATIONS:
        operation = schema[path][method]

        @given(case=_strategy(operation, mode, number))
        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True,
                  database=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=admin_headers, checks=CHECKS)

        try:
            fuzz()
        except Exception as failure:
            raise AssertionError(f"{method} {path}: {failure}") from failure
