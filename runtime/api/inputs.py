"""Reading what a client sent: JSON bodies, body members, query parameters, If-Match.

Everything here is parsing, never policy. The rules:

* a JSON endpoint needs `Content-Type: application/json` (415 otherwise) and a body that
  is one JSON object (400 when it is malformed or something else);
* strings may not hold NUL or unpaired surrogates, and numbers must be finite: neither
  database stores those faithfully, and refusing them here keeps bad input a 400 instead
  of a database error;
* the members of a body are checked together and every problem is reported in one 422;
  unknown members are refused with the list of the allowed ones;
* query parameters are checked the same way, but as a 400 (the URL is wrong, not a form).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from flask import request

from runtime.context import instant_or_day
from runtime.services.errors import BadRequest, Invalid, UnsupportedMedia

MAX_DEPTH = 64


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("numbers must be finite")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_strings(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"the JSON is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            _check_strings(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item, depth + 1)


def check_text(text: str) -> None:
    """Refuse text neither database can store (ValueError)."""
    if "\x00" in text:
        raise ValueError("text may not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no unpaired surrogates)") from None


def has_body() -> bool:
    """Whether the request carries a body at all."""
    return bool(request.content_length) or bool(request.get_data(cache=True))


def json_body(*, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object. `optional`: an empty body reads as `{}`."""
    if optional and not has_body():
        return {}
    if not request.is_json:
        raise UnsupportedMedia("send the body as JSON (Content-Type: application/json)")
    try:
        data = json.loads(request.get_data(cache=True), parse_float=_finite,
                          parse_constant=_no_constant)
        _check_strings(data)
    except (ValueError, RecursionError) as error:
        # json.JSONDecodeError and UnicodeDecodeError are ValueErrors.
        raise BadRequest(f"the body is not valid JSON: {error}", code="malformed-json") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", code="not-an-object")
    return data


def problem(name: str, code: str, message: str) -> dict[str, Any]:
    """One problem with a body member, in the shape the engine uses for fields."""
    return {"field": name, "path": f"/{name}", "code": code, "message": message}


class Members:
    """The members of a JSON body, checked one by one; `done()` raises one 422 for all
    problems found (unknown members included)."""

    def __init__(self, body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
        self.body = body
        self.problems: list[dict[str, Any]] = [
            problem(name, "unknown-member",
                    f"unknown member '{name}'; allowed: {', '.join(allowed)}")
            for name in body if name not in allowed]

    def _get(self, name: str, required: bool) -> Any:
        if name not in self.body or self.body[name] is None:
            if required:
                self.problems.append(problem(name, "required", f"'{name}' is required"))
            return None
        return self.body[name]

    def _wrong(self, name: str, what: str) -> None:
        self.problems.append(problem(name, "wrong-type", f"'{name}' must be {what}"))

    def string(self, name: str, *, required: bool = False, max_length: int = 200,
               pattern: re.Pattern[str] | None = None, hint: str = "") -> str | None:
        """A string member (bounded; matching `pattern`, described by `hint`)."""
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            self._wrong(name, "a non-empty string" if required else "a string")
        elif len(value) > max_length:
            self.problems.append(problem(name, "too-long",
                                         f"'{name}' may have at most {max_length} characters"))
        elif pattern is not None and not pattern.fullmatch(value):
            self.problems.append(problem(name, "bad-format", f"'{name}' must be {hint}"))
        else:
            return value
        return None

    def text(self, name: str, *, max_length: int = 200,
             pattern: re.Pattern[str] | None = None, hint: str = "") -> str:
        """A required string member ("" when it has a problem: `done()` then raises)."""
        return self.string(name, required=True, max_length=max_length, pattern=pattern,
                           hint=hint) or ""

    def choice(self, name: str, options: tuple[str, ...], *, required: bool = False
               ) -> str | None:
        """One of `options`."""
        value = self._get(name, required)
        if value is None:
            return None
        if value not in options:
            self.problems.append(problem(name, "not-an-option",
                                         f"'{name}' must be one of: {', '.join(options)}"))
            return None
        return str(value)

    def integer(self, name: str, *, minimum: int = 0, maximum: int = 2**31 - 1) -> int | None:
        """An integer (not a boolean) from `minimum` to `maximum`."""
        value = self._get(name, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(name, "an integer")
        elif not minimum <= value <= maximum:
            self.problems.append(problem(name, "out-of-range",
                                         f"'{name}' must be between {minimum} and {maximum}"))
        else:
            return value
        return None

    def boolean(self, name: str) -> bool | None:
        """true or false."""
        value = self._get(name, False)
        if value is not None and not isinstance(value, bool):
            self._wrong(name, "true or false")
            return None
        return value

    def object(self, name: str, *, required: bool = False) -> dict[str, Any] | None:
        """A JSON object (its contents are the service's to check)."""
        value = self._get(name, required)
        if value is not None and not isinstance(value, dict):
            self._wrong(name, "an object")
            return None
        return value

    def strings(self, name: str, *, max_length: int = 64) -> list[str]:
        """A list of short, non-empty strings."""
        value = self._get(name, False)
        if value is None:
            return []
        if not isinstance(value, list) or not all(
                isinstance(item, str) and 0 < len(item) <= max_length for item in value):
            self._wrong(name, f"a list of names (at most {max_length} characters each)")
            return []
        return list(value)

    def instant(self, name: str) -> datetime | None:
        """An ISO 8601 date-time with a time zone, in UTC."""
        value = self._get(name, False)
        if value is None:
            return None
        parsed = _instant(value)
        if parsed is None:
            self.problems.append(problem(
                name, "bad-datetime",
                f"'{name}' must be an ISO 8601 date-time with a time zone"))
        return parsed

    def add(self, name: str, code: str, message: str) -> None:
        """A problem found by the view itself (e.g. comparing two members)."""
        self.problems.append(problem(name, code, message))

    def done(self) -> None:
        """Raise one 422 listing every problem found, if any."""
        if self.problems:
            raise Invalid("the request has problems; nothing was changed",
                          details=self.problems)


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        # Stored in UTC: an instant near year 1 or 9999 may not convert.
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def query(parsers: Mapping[str, Callable[[str], Any]]) -> dict[str, Any]:
    """Parsed query parameters (absent or empty ones are left out); 400 on an unknown
    parameter or a bad value, naming every one of them."""
    values: dict[str, Any] = {}
    details: list[dict[str, Any]] = []
    for name in request.args:
        if name not in parsers:
            details.append({"parameter": name, "code": "unknown-parameter",
                            "message": f"unknown parameter '{name}'; allowed: "
                                       f"{', '.join(parsers)}"})
    for name, parse in parsers.items():
        raw = request.args.get(name)
        if raw is None or raw == "":
            continue
        try:
            check_text(raw)
            values[name] = parse(raw)
        except ValueError as error:
            details.append({"parameter": name, "code": "bad-value",
                            "message": f"'{name}': {error}"})
    if details:
        raise BadRequest("the query has problems", code="bad-query", details=details)
    return values


def text_parameter(max_length: int = 200) -> Callable[[str], str]:
    """A parser for a text parameter of at most `max_length` characters."""
    def parse(raw: str) -> str:
        if len(raw) > max_length:
            raise ValueError(f"at most {max_length} characters")
        return raw
    return parse


def bounded_int(minimum: int, maximum: int) -> Callable[[str], int]:
    """A parser for a whole number from `minimum` to `maximum`."""
    def parse(raw: str) -> int:
        if not raw.isdigit() or not minimum <= int(raw) <= maximum:
            raise ValueError(f"must be a whole number from {minimum} to {maximum}")
        return int(raw)
    return parse


def instant_parameter(zone: tzinfo) -> Callable[[str], datetime]:
    """A parser for an instant: ISO 8601 with its offset, or a date (its midnight on
    `zone`'s clock)."""
    return lambda raw: instant_or_day(raw, zone)


def flag(raw: str) -> bool:
    """`true` or `false`."""
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise ValueError("must be true or false")
    return lowered == "true"


ETAG = re.compile(r'"(\d{1,9})"')


def expected_version(members: Members) -> int | None:
    """The version the client last saw: the body's `version` or an `If-Match: "<n>"`."""
    from_body = members.integer("version", minimum=1)
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return from_body
    match = ETAG.fullmatch(header.strip())
    if match is None:
        raise BadRequest('If-Match must be one ETag as sent by GET: "<version>"',
                         code="bad-if-match")
    from_header = int(match.group(1))
    if from_body is not None and from_body != from_header:
        raise BadRequest("If-Match and the body's version disagree", code="bad-if-match")
    return from_header
