"""Definition endpoints: list, read a version's source, validate, save a draft, publish.

Issues are the engine's located issues (file, line, column, pointer, code, message),
returned as data: `issues` when validating or saving a draft, `error.details` when
publishing is refused.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, jsonify

from engine.errors import DefinitionError
from engine.source import parse_text
from runtime.api.blueprint import api, db
from runtime.api.inputs import Members, bounded_int, flag, json_body, query
from runtime.services import definitions
from runtime.services.definitions import VersionInfo
from runtime.services.errors import Invalid
from runtime.web.context import service_request

FORMATS = ("yaml", "json")
MAX_SOURCE = 1_000_000
MAX_VERSION = 2**31 - 1
# The meta-schema's rule for ticket_type (the key is also the draft's URL).
KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")


def version_dict(info: VersionInfo) -> dict[str, Any]:
    """A definition version as the API shows it."""
    return {"key": info.key, "version": info.version, "status": info.status,
            "format": info.source_format, "created_at": info.created_at.isoformat(),
            "published_at": info.published_at.isoformat() if info.published_at else None}


def _source_members() -> tuple[str, str]:
    members = Members(json_body(), ("source", "format"))
    source = members.text("source", max_length=MAX_SOURCE)
    source_format = members.choice("format", FORMATS) or "yaml"
    members.done()
    return source, source_format


def _declared(source: str, source_format: str) -> tuple[Any, Any]:
    """The ticket type and version a source declares, or Nones when it cannot be read
    (the service then reports why, with located issues)."""
    try:
        data = parse_text(source, f"definition.{source_format}",
                          json_format=source_format == "json").data
    except DefinitionError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    return data.get("ticket_type"), data.get("version")


def _check_header(key: str, source: str, source_format: str) -> None:
    """A draft is filed under the URL's key: the source must declare that key, and a
    version the database can hold (a draft may otherwise be unfinished)."""
    declared, version = _declared(source, source_format)
    details = []
    if not KEY.fullmatch(key):
        details.append({"code": "bad-key", "pointer": "/ticket_type", "message":
                        "a ticket type key is lower case letters, digits, _ and - "
                        "(at most 63, starting with a letter)"})
    elif isinstance(declared, str) and declared != key:
        details.append({"code": "key-mismatch", "pointer": "/ticket_type",
                        "message": f"ticket_type is '{declared}' but the URL names '{key}'"})
    if isinstance(version, int) and abs(version) > MAX_VERSION:
        details.append({"code": "bad-version", "pointer": "/version",
                        "message": f"version must be at most {MAX_VERSION}"})
    if details:
        raise Invalid(f"the draft cannot be filed under '{key}'", details=details)


@api.get("/definitions")
def list_definitions() -> Response:
    """Every ticket type the caller may know of, with its newest published version."""
    return jsonify({"items": definitions.list_definitions(db(), service_request())})


@api.get("/definitions/<key>")
def get_definition(key: str) -> Response:
    """A published version's source (default: the newest), or the draft's."""
    service = service_request()
    args = query({"version": bounded_int(1, MAX_VERSION), "draft": flag})
    info, source = definitions.get_source(db(), service, key, args.get("version"),
                                          draft=args.get("draft", False))
    return jsonify({"definition": version_dict(info), "source": source})


@api.post("/definitions/validate")
def validate_definition() -> Response:
    """Check a source without storing it."""
    service_request()  # validating costs a compile: callers must be known
    source, source_format = _source_members()
    issues = definitions.validate_source(source, source_format)
    return jsonify({"valid": not issues, "issues": issues})


@api.put("/definitions/<key>/draft")
def save_draft(key: str) -> Response:
    """Store the draft of `key`; the source's ticket_type must be `key`."""
    service = service_request()
    source, source_format = _source_members()
    _check_header(key, source, source_format)
    info = definitions.save_draft(db(), service, source, source_format)
    return jsonify({"definition": version_dict(info), "issues": list(info.issues)})


@api.post("/definitions/<key>/publish")
def publish(key: str) -> Response:
    """Publish the draft of `key` as a new immutable version."""
    service = service_request()
    Members(json_body(optional=True), ()).done()
    return jsonify({"definition": version_dict(definitions.publish(db(), service, key))})
