"""Definition endpoints: list, read a version's source, validate, save a draft, publish.

Issues are the engine's located issues (file, line, column, pointer, code, message),
returned as data: `issues` when validating or saving a draft, `error.details` when
publishing is refused.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from runtime.api.blueprint import api, db
from runtime.api.inputs import Members, bounded_int, flag, json_body, query
from runtime.services import definitions
from runtime.services.definitions import VersionInfo
from runtime.web.context import service_request

FORMATS = ("yaml", "json")
MAX_SOURCE = 1_000_000
MAX_VERSION = definitions.MAX_VERSION


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
    info = definitions.save_draft(db(), service, source, source_format, key=key)
    return jsonify({"definition": version_dict(info), "issues": list(info.issues)})


@api.delete("/definitions/<key>/draft")
def discard_draft(key: str) -> tuple[str, int]:
    """Throw the draft of `key` away (a type never published goes with it)."""
    definitions.discard_draft(db(), service_request(), key)
    return "", 204


@api.post("/definitions/<key>/publish")
def publish(key: str) -> Response:
    """Publish the draft of `key` as a new immutable version."""
    service = service_request()
    Members(json_body(optional=True), ()).done()
    info = definitions.publish(db(), service, key)
    return jsonify({"definition": version_dict(info), "warnings": list(info.warnings)})
