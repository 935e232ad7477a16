"""Template endpoints: list the bundled templates, install one, clone one; and the
semantic diff between two published versions of a ticket type.

The browser designer calls the same services (`runtime.services.templates`).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from runtime.api.blueprint import api, db
from runtime.api.inputs import Members, bounded_int, json_body, query
from runtime.services import definitions, templates
from runtime.web.context import service_request

MAX_NAME = 200


@api.get("/templates")
def list_templates() -> Response:
    """Every bundled template with its version and what this installation has of it."""
    service = service_request()
    language = service.actor.language
    return jsonify({"items": [status.to_dict(language) for status in
                              templates.list_templates(db(), service)]})


@api.post("/templates/<name>/install")
def install_template(name: str) -> Response:
    """Install a template (idempotent); `upgrade: true` publishes a newer bundled version."""
    service = service_request()
    members = Members(json_body(optional=True), ("upgrade",))
    upgrade = members.boolean("upgrade") or False
    members.done()
    outcome = templates.install(db(), service, name, upgrade=upgrade)
    return jsonify({"result": outcome.to_dict()})


def _title(members: Members) -> dict[str, str] | None:
    title = members.object("name")
    if title is None:
        return None
    if not title or not all(lang in ("en", "zh") and isinstance(text, str)
                            and 0 < len(text.strip()) and len(text) <= MAX_NAME
                            for lang, text in title.items()):
        members.add("name", "bad-name", "'name' is {\"en\": ..., \"zh\": ...} with texts of "
                    f"1 to {MAX_NAME} characters")
        return None
    return dict(title)


@api.post("/templates/<name>/clone")
def clone_template(name: str) -> Response | tuple[Response, int, dict[str, Any]]:
    """Publish an editable copy under a new ticket type id (and number prefix)."""
    service = service_request()
    members = Members(json_body(), ("as", "prefix", "name"))
    new_key = members.text("as", max_length=63, pattern=definitions.KEY,
                           hint="lower case letters, digits, _ and -, starting with a letter")
    prefix = members.string("prefix", max_length=10, pattern=templates.PREFIX,
                            hint="A-Z and 0-9, starting with a letter")
    title = _title(members)
    members.done()
    outcome = templates.clone(db(), service, name, new_key, prefix=prefix, title=title)
    return jsonify({"result": outcome.to_dict()}), 201, {
        "Location": f"/api/v1/definitions/{outcome.key}"}


@api.get("/definitions/<key>/diff")
def diff_definition(key: str) -> Response:
    """What changed between two published versions (default: the newest and the one
    before it)."""
    service = service_request()
    version = bounded_int(1, definitions.MAX_VERSION)
    args = query({"from": version, "to": version})
    before, after, changes = definitions.diff_versions(db(), service, key, args.get("from"),
                                                       args.get("to"))
    return jsonify({"key": key, "from": before, "to": after,
                    "changes": [change.to_dict() for change in changes],
                    "text": [change.render() for change in changes]})
