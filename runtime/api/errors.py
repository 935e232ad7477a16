"""One error shape for the whole API: `{"error": {"code", "message", "details": [...]}}`.

Service errors carry their own status, code and details (plus extra keys such as
`current` on a 409). Werkzeug's HTTP errors (405, 413, a malformed multipart body) are
rendered in the same shape. Database failures become a 503 that says nothing about the
SQL or the server: the client can only retry, and the operator finds the traceback in
the log.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from runtime.services.errors import HTTP_CODES, ServiceError

RETRY_AFTER_SECONDS = "5"


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None,
               **extra: Any) -> dict[str, Any]:
    """The JSON body of every API error."""
    return {"error": {"code": code, "message": message, "details": details or [], **extra}}


def error_response(status: int, body: dict[str, Any],
                   headers: dict[str, str] | None = None) -> Response:
    """A JSON error response with `status` and any extra headers."""
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        # RFC 6750: tell the client which scheme we expect.
        response.headers["WWW-Authenticate"] = 'Bearer realm="ticketflow"'
    return response


def service_error_body(error: ServiceError) -> dict[str, Any]:
    """A service error as the API renders it (also what an idempotent replay stores)."""
    return {"error": error.to_dict()}


def _service_error(error: ServiceError) -> Response:
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if error.status in (429, 503) else None
    return error_response(error.status, service_error_body(error), headers)


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    code = HTTP_CODES.get(status, "http-error")
    # Werkzeug's descriptions are fixed texts, never user input; keep the useful headers
    # (Allow on a 405) and drop its Content-Type (ours is JSON).
    headers = {name: value for name, value in error.get_headers()
               if name.lower() != "content-type"}
    message = error.description or error.name
    return error_response(status, error_body(code, message), headers)


def _integrity_error(error: IntegrityError) -> Response:
    # A unique constraint lost to a concurrent writer (the service checked first, but two
    # requests can pass that check together). Retrying gets the service's clear answer.
    current_app.logger.warning("integrity error in the API: %s", type(error.orig).__name__)
    return error_response(409, error_body(
        "conflict", "the change conflicts with a concurrent one; nothing was saved — try again"))


def _database_error(error: Exception) -> Response:
    current_app.logger.exception("database error in the API")
    return error_response(503, error_body(
        "unavailable", "the database is not available right now; try again shortly"),
        {"Retry-After": RETRY_AFTER_SECONDS})


def register(blueprint: Blueprint) -> None:
    """Render every failure inside the blueprint in the one error shape."""
    blueprint.register_error_handler(ServiceError, _service_error)
    blueprint.register_error_handler(HTTPException, _http_error)
    # Flask picks the most specific class, so IntegrityError wins over DBAPIError
    # (OperationalError is a DBAPIError too).
    blueprint.register_error_handler(IntegrityError, _integrity_error)
    blueprint.register_error_handler(DBAPIError, _database_error)
    # No connection free in the pool within its timeout: as unavailable as a dead server.
    blueprint.register_error_handler(PoolTimeout, _database_error)
