"""Service errors as data: a stable code, the HTTP status it means, a message, details.

Every channel renders these the same way (the API as `{"error": {...}}`, pages as a
message next to the form, the CLI as a line on stderr).
"""

from __future__ import annotations

from typing import Any

# Stable codes for the HTTP errors the web stack raises on its own (pages and API alike).
HTTP_CODES = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
    405: "method-not-allowed", 406: "not-acceptable", 409: "conflict", 411: "length-required",
    412: "precondition-failed", 413: "too-large", 414: "uri-too-long",
    415: "unsupported-media-type", 416: "range-not-satisfiable", 422: "invalid",
    429: "too-many-requests", 431: "headers-too-large", 501: "not-implemented",
    503: "unavailable",
}


class ServiceError(Exception):
    status = 400
    code = "bad-request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None,
                 code: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        if code is not None:
            self.code = code
        self.extra = extra or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message,
                                "details": self.details}
        body.update(self.extra)
        return body


class BadRequest(ServiceError):
    status, code = 400, "bad-request"


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not-found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class TooLarge(ServiceError):
    status, code = 413, "too-large"


class UnsupportedMedia(ServiceError):
    status, code = 415, "unsupported-media-type"


class Invalid(ServiceError):
    status, code = 422, "invalid"


class TooManyRequests(ServiceError):
    status, code = 429, "too-many-requests"


class Unavailable(ServiceError):
    status, code = 503, "unavailable"
