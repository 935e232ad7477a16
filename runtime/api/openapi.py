"""The OpenAPI 3.1 document of the API, served at /api/v1/openapi.json (no login needed).

Built from small helpers so every operation lists its parameters, body, responses and
the errors it can answer with, all in the one error shape. A test walks the URL map and
fails when a route is missing here.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from runtime.api.blueprint import api

VERSION = "1.0.0"
JSON = "application/json"
Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Schema], required: tuple[str, ...] = (),
         extra: bool = False) -> Schema:
    schema: Schema = {"type": "object", "properties": properties,
                      "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return schema


def _string(max_length: int | None = None, **more: Any) -> Schema:
    schema: Schema = {"type": "string", **more}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


NULLABLE_STRING = {"type": ["string", "null"]}
INSTANT = {"type": "string", "format": "date-time"}
# What a user may change of their own account (administrators: of anyone's).
USER_DETAILS: dict[str, Any] = {
    "display_name": {"type": ["string", "null"], "minLength": 1, "maxLength": 200},
    "email": {"type": ["string", "null"], "maxLength": 254,
              "description": "null removes the address"},
    "language": {"enum": ["en", "zh", None]},
}
NULLABLE_INSTANT = {"type": ["string", "null"], "format": "date-time"}
FIELD_VALUES = {"type": "object", "additionalProperties": True,
                "description": "Field values by field id. Attachments fields take "
                               "[{\"id\": \"att_...\"}] of uploaded files."}

SCHEMAS: dict[str, Schema] = {
    "Error": _obj({"error": _obj({
        "code": _string(description="A stable, machine-readable code."),
        "message": _string(description="For people."),
        "details": {"type": "array", "items": ref("Problem")},
        "current": {"description": "On a 409 about a ticket: the ticket as it is now.",
                    "oneOf": [ref("Ticket"), {"type": "null"}]},
    }, ("code", "message", "details"), extra=True)}, ("error",)),
    "SurveyAnswer": _obj({
        "csat": {"type": "integer", "minimum": 1, "maximum": 5,
                 "description": "Satisfaction, 1 (poor) to 5 (excellent)."},
        "nps": {"type": ["integer", "null"], "minimum": 0, "maximum": 10,
                "description": "How likely to recommend us, 0 to 10."},
        "comment": {"type": ["string", "null"], "maxLength": 2000},
    }, ("csat",)),
    "Problem": {"type": "object", "additionalProperties": True,
                "description": "One problem: a field (`field`, `path`), a query parameter "
                               "(`parameter`) or a definition issue (`pointer`, `line`).",
                "properties": {"code": _string(), "message": _string(),
                               "field": NULLABLE_STRING, "path": NULLABLE_STRING,
                               "parameter": _string(), "pointer": _string()},
                "required": ["code", "message"]},
    "Ticket": _obj({
        "number": _string(), "ticket_type": _string(),
        "definition_version": {"type": "integer"}, "state": _string(),
        "state_label": _string(), "title": _string(),
        "values": {"type": "object", "additionalProperties": True,
                   "description": "Only the fields the caller may see."},
        "requester": NULLABLE_STRING, "assignee": NULLABLE_STRING, "team": NULLABLE_STRING,
        "reopen_count": {"type": "integer"}, "created_at": INSTANT, "updated_at": INSTANT,
        "closed_at": NULLABLE_INSTANT,
        "version": {"type": "integer", "description": "Also the ETag."},
        "transitions": {"type": "array", "items": _obj(
            {"id": _string(), "label": _string()}, ("id", "label"))},
        "roles": {"type": "array", "items": _string()},
        "sla": {"type": "array", "description": "SLA clocks (staff only; empty otherwise).",
                "items": _obj({
                    "kind": {"enum": ["first_response", "next_response", "resolution"]},
                    "label": _string(),
                    "status": {"enum": ["running", "warning", "breached", "paused", "met",
                                        "met_late", "stopped"]},
                    "due_at": NULLABLE_INSTANT, "warn_at": NULLABLE_INSTANT,
                    "met_at": NULLABLE_INSTANT,
                    "why": {"type": ["object", "null"], "description":
                            "The target, calendar, business minutes counted, pauses and "
                            "days off skipped."}}, ("kind", "status", "due_at"))},
    }, ("number", "ticket_type", "state", "values", "version")),
    "TimelineEntry": _obj({"id": {"type": "integer"}, "kind": _string(), "at": INSTANT,
                           "actor": NULLABLE_STRING,
                           "data": {"type": "object", "additionalProperties": True}},
                          ("id", "kind", "at", "data")),
    "File": _obj({"id": _string(), "name": _string(), "size": {"type": "integer"},
                  "content_type": _string()}, ("id", "name", "size", "content_type")),
    "DefinitionVersion": _obj({
        "key": _string(), "version": {"type": "integer"},
        "status": {"enum": ["draft", "published"]}, "format": {"enum": ["yaml", "json"]},
        "created_at": INSTANT, "published_at": NULLABLE_INSTANT,
    }, ("key", "version", "status", "format")),
    "DefinitionSummary": _obj({"key": _string(), "number_prefix": _string(),
                               "draft": {"type": "boolean"}, "version": {"type": "integer"},
                               "name": _string()}, ("key", "draft")),
    "Issue": {"type": "object", "additionalProperties": True,
              "properties": {"code": _string(), "message": _string(), "pointer": _string(),
                             "file": NULLABLE_STRING,
                             "line": {"type": ["integer", "null"]},
                             "column": {"type": ["integer", "null"]}},
              "required": ["code", "message"]},
    "User": _obj({"username": _string(), "display_name": _string(),
                  "role": {"enum": ["admin", "supervisor", "agent", "requester"]},
                  "email": NULLABLE_STRING, "language": _string(), "active": {"type": "boolean"},
                  "teams": {"type": "array", "items": _string()}},
                 ("username", "role", "teams")),
    "Team": _obj({"key": _string(), "name": _string()}, ("key", "name")),
    "Token": _obj({
        "id": {"type": "integer"}, "name": _string(),
        "prefix": _string(description="The secret's first characters, to recognise it by."),
        "user": _string(), "status": {"enum": ["active", "expired", "revoked"]},
        "created_at": INSTANT, "expires_at": NULLABLE_INSTANT,
        "revoked_at": NULLABLE_INSTANT,
        "last_used_at": {**NULLABLE_INSTANT, "description": "To within the hour."},
    }, ("id", "name", "prefix", "user", "status", "created_at", "expires_at", "revoked_at",
        "last_used_at")),
    "IssuedToken": _obj({"id": {"type": "integer"}, "name": _string(),
                         "token": _string(description="The secret; shown only here."),
                         "expires_at": NULLABLE_INSTANT}, ("id", "name", "token")),
    # Request bodies.
    "NewTicket": _obj({
        "ticket_type": _string(64), "values": FIELD_VALUES,
        "transition": {"type": ["string", "null"], "maxLength": 64,
                       "description": "Omitted: the first creation transition the caller "
                                      "may fire; null: none (the ticket stays in its "
                                      "initial state)."},
        "requester": {"type": ["string", "null"], "maxLength": 150,
                      "description": "Staff may open a ticket for someone else."},
    }, ("ticket_type", "values")),
    "FieldChange": _obj({"values": FIELD_VALUES, "version": ref("Version")}, ("values",)),
    "TransitionInput": _obj({"values": FIELD_VALUES, "version": ref("Version")}),
    "VersionOnly": _obj({"version": ref("Version")}),
    "Version": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1,
                "description": "The ticket version the change is based on (or If-Match); "
                               "a stale one is a 409."},
    "NewComment": _obj({"body": _string(10_000), "internal": {"type": "boolean"}}, ("body",)),
    "Transfer": _obj({"to_user": _string(150), "to_team": _string(64),
                      "reason": _string(1000), "version": ref("Version")}, ("reason",)),
    "DefinitionSource": _obj({"source": _string(1_000_000),
                              "format": {"enum": ["yaml", "json"], "default": "yaml"}},
                             ("source",)),
    "UserChange": _obj({
        "active": {"type": ["boolean", "null"]},
        "role": {"enum": ["admin", "supervisor", "agent", "requester", None]},
        "teams": {"type": ["array", "null"], "items": _string(64)},
        **USER_DETAILS,
    }),
    "MyDetails": _obj(USER_DETAILS),
    "Agent": _obj({
        "username": _string(), "role": _string(),
        "teams": {"type": "array", "items": _string()},
        "skills": {"type": "array", "items": _string()},
        "capacity": {"type": ["integer", "null"]},
        "schedule": {"type": ["object", "null"]},
        "away": {"type": "boolean"},
    }, ("username", "role", "teams", "skills", "capacity", "schedule", "away")),
    "AgentChange": _obj({
        "skills": {"type": "array", "maxItems": 50,
                   "items": _string(64, pattern=r"^[^\s,]+$", minLength=1)},
        "capacity": {"type": ["integer", "null"], "minimum": 0, "maximum": 10_000},
        "schedule": {"type": ["object", "null"], "description":
                     "`{timezone, shifts: {mon: [\"09:00-18:00\"]}, leave: [{from, to}]}`"},
        "away": {"type": "boolean"},
    }),
    "Calendar": _obj({
        "key": _string(), "name": {"type": "object", "additionalProperties": _string()},
        "timezone": _string(), "origin": {"enum": ["built-in", "bundled", "custom"]},
        "updated_at": NULLABLE_INSTANT,
    }, ("key", "name", "timezone", "origin", "updated_at")),
    "CalendarSource": _obj({"source": _string(200_000)}, ("source",)),
    "TeamLead": _obj({"lead": {"type": ["string", "null"], "maxLength": 150}}),
    "AuditEntry": _obj({
        "id": {"type": "integer"}, "kind": _string(), "at": INSTANT,
        "actor": NULLABLE_STRING, "address": NULLABLE_STRING, "ticket": NULLABLE_STRING,
        "data": {"type": "object"},
    }, ("id", "kind", "at", "actor", "address", "ticket", "data")),
    "NewPassword": _obj({"password": _string(200, minLength=8)}, ("password",)),
    "NewUser": _obj({
        "username": _string(150, pattern="^[A-Za-z0-9_.-]{1,150}$"),
        "role": {"enum": ["admin", "supervisor", "agent", "requester"]},
        "password": _string(200, minLength=8), "display_name": _string(200),
        "email": _string(254), "language": {"enum": ["en", "zh"]},
        "teams": {"type": "array", "items": _string(64)},
    }, ("username", "role")),
    "NewTeam": _obj({"key": _string(63, pattern="^[a-z][a-z0-9_-]{0,62}$"),
                     "name": _string(200)}, ("key", "name")),
    "NewToken": _obj({"name": _string(100), "expires_at": INSTANT}, ("name",)),
    "Upload": _obj({"file": {"type": "string", "format": "binary",
                             "contentMediaType": "application/octet-stream"}}, ("file",)),
}

ERRORS = {
    400: "Malformed JSON, not an object, or a bad query parameter.",
    401: "No token, or an invalid, expired or revoked one.",
    403: "Not allowed for this role.",
    404: "Not there, or not visible to the caller.",
    405: "Method not allowed.",
    409: "A conflict: a stale version, a state that does not allow it, already taken.",
    413: "The request is too large.",
    415: "The body is not of the required type.",
    422: "The input has problems; every one is listed in `details`.",
    503: "The database is not available; retry later.",
}
COMMON = (401, 503)


def _error_responses(statuses: tuple[int, ...]) -> dict[str, Any]:
    return {str(status): {"$ref": f"#/components/responses/E{status}"}
            for status in sorted(set(statuses) | set(COMMON))}


def _json_response(description: str, schema: Schema,
                   headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _path_param(name: str, schema: Schema | None = None, description: str = "") -> Schema:
    return {"name": name, "in": "path", "required": True,
            "schema": schema or _string(), "description": description}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _body(schema: Schema, required: bool = True,
          media: str = JSON) -> dict[str, Any]:
    return {"required": required, "content": {media: {"schema": schema}}}


def operation(summary: str, operation_id: str, tag: str, ok: tuple[str, dict[str, Any]],
              errors: tuple[int, ...] = (), parameters: list[Schema] | None = None,
              body: dict[str, Any] | None = None, public: bool = False) -> dict[str, Any]:
    """One operation with its success response and its error responses."""
    spec: dict[str, Any] = {"summary": summary, "operationId": operation_id, "tags": [tag],
                            "responses": {ok[0]: ok[1], **(
                                {} if public else _error_responses(errors))}}
    if parameters:
        spec["parameters"] = parameters
    if body is not None:
        spec["requestBody"] = body
    if public:
        spec["security"] = []
    return spec


NUMBER = _path_param("number", _string(32), "The ticket number, e.g. REP-000042.")
ETAG_HEADER = {"ETag": {"description": 'The ticket version, quoted: "3".',
                        "schema": _string()}}
LOCATION = {"Location": {"description": "Where the new resource is.", "schema": _string()}}
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": _string(),
            "description": 'The ETag the change is based on ("<version>"); a stale one '
                           "is a 409."}
TICKET = ("200", _json_response("The ticket.", _obj({"ticket": ref("Ticket")}, ("ticket",)),
                                ETAG_HEADER))
CHANGE_ERRORS = (400, 403, 404, 409, 413, 415, 422)
WHEN = ("A date (YYYY-MM-DD: its midnight on the installation's clock) or an ISO 8601 "
        "instant with its offset.")


def _tickets() -> dict[str, Any]:
    listing = _obj({"items": {"type": "array", "items": ref("Ticket")},
                    "next_cursor": NULLABLE_STRING}, ("items", "next_cursor"))
    filters = [
        _query("type", _string(64), "Ticket type key."),
        _query("state", _string(64), "State id."),
        _query("assignee", _string(150), "A user name, `me` or `none`."),
        _query("team", _string(64), "Team key."),
        _query("requester", _string(150), "A user name or `me`."),
        _query("q", _string(200), "Text in the number or the title."),
        _query("open", {"type": "boolean"}, "Only open (true) or closed (false) tickets."),
        _query("created_from", _string(40), f"Created at or after this. {WHEN}"),
        _query("created_before", _string(40), f"Created before this. {WHEN}"),
    ]
    list_parameters = [
        *filters,
        _query("cursor", _string(200), "`next_cursor` of the previous page."),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
               "Page size."),
    ]
    idempotency_key = {
        "name": "Idempotency-Key", "in": "header", "required": False,
        "schema": _string(200, pattern="^[\\x21-\\x7e]{1,200}$"),
        "description": "Retrying with the same key replays the first answer (422 when "
                       "reused for another request, 409 while the first is in flight)."}
    created = ("201", _json_response(
        "The new ticket (or the replay of an earlier answer: `Idempotent-Replayed: true`).",
        _obj({"ticket": ref("Ticket")}, ("ticket",)), {**LOCATION, **ETAG_HEADER}))
    return {
        "/tickets": {
            "post": operation("Open a ticket", "createTicket", "tickets", created,
                              (400, 403, 404, 409, 413, 415, 422), [idempotency_key],
                              _body(ref("NewTicket"))),
            "get": operation("List tickets", "listTickets", "tickets",
                             ("200", _json_response("A page of tickets.", listing)), (400,),
                             list_parameters),
        },
        "/tickets/export": {
            "get": operation(
                "Export tickets", "exportTickets", "tickets", ("200", {
                    "description": "Every ticket the caller may see that matches the filters, "
                                   "oldest first, as a file (supervisors and "
                                   "administrators). CSV: UTF-8 with a byte-order mark, "
                                   "headings and labels in the caller's language, times on "
                                   "the installation's clock. JSON Lines: one ticket per "
                                   "line, as `getTicket` gives it.",
                    "headers": {"Content-Disposition": {"schema": _string()}},
                    "content": {"text/csv": {"schema": {"type": "string"}},
                                "application/x-ndjson": {"schema": {"type": "string"}}}}),
                (400, 403), [*filters, _query("format", {"enum": ["csv", "jsonl"],
                                                         "default": "csv"},
                                              "The file's format.")]),
        },
        "/tickets/{number}": {
            "parameters": [NUMBER],
            "get": operation("Read a ticket", "getTicket", "tickets", TICKET, (404,)),
            "patch": operation("Change fields", "updateTicket", "tickets", TICKET,
                               CHANGE_ERRORS, [IF_MATCH], _body(ref("FieldChange"))),
        },
        "/tickets/{number}/transitions/{transition}": {
            "parameters": [NUMBER, _path_param("transition", _string(64))],
            "post": operation("Fire a transition", "fireTransition", "tickets", TICKET,
                              CHANGE_ERRORS, [IF_MATCH],
                              _body(ref("TransitionInput"), required=False)),
        },
        "/tickets/{number}/comments": {
            "parameters": [NUMBER],
            "post": operation("Comment", "addComment", "tickets", ("201", _json_response(
                "The comment as a timeline entry.",
                _obj({"comment": ref("TimelineEntry")}, ("comment",)))),
                (400, 403, 404, 409, 413, 415, 422), body=_body(ref("NewComment"))),
        },
        "/tickets/{number}/claim": {
            "parameters": [NUMBER],
            "post": operation("Claim an unassigned ticket", "claimTicket", "tickets", TICKET,
                              (400, 403, 404, 409, 415, 422), [IF_MATCH],
                              _body(ref("VersionOnly"), required=False)),
        },
        "/tickets/{number}/transfer": {
            "parameters": [NUMBER],
            "post": operation("Transfer to another agent or team", "transferTicket",
                              "tickets", TICKET, CHANGE_ERRORS, [IF_MATCH],
                              _body(ref("Transfer"))),
        },
        "/tickets/{number}/timeline": {
            "parameters": [NUMBER],
            "get": operation("The ticket's history", "ticketTimeline", "tickets", (
                "200", _json_response("Timeline entries, oldest first.", _obj(
                    {"items": {"type": "array", "items": ref("TimelineEntry")}},
                    ("items",)))), (404,)),
        },
    }


def _files() -> dict[str, Any]:
    created = ("201", _json_response("The stored file.", _obj({"file": ref("File")}, ("file",)),
                                     LOCATION))
    upload = _body(ref("Upload"), media="multipart/form-data")
    errors = (400, 404, 413, 415, 422)
    return {
        "/attachments": {
            "post": operation("Upload a file for an attachments field", "uploadFile", "files",
                              created, errors, body=upload),
        },
        "/tickets/{number}/attachments": {
            "parameters": [NUMBER],
            "post": operation("Attach a file to a ticket", "attachFile", "files", created,
                              (400, 404, 409, 413, 415, 422), body=upload),
        },
        "/attachments/{public_id}": {
            "parameters": [_path_param("public_id", _string(32), "att_...")],
            "get": operation("Download a file", "downloadFile", "files", ("200", {
                "description": "The bytes, as an attachment under the original name.",
                "headers": {"Content-Disposition": {"schema": _string()}},
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}),
                (404,)),
        },
    }


def _definitions() -> dict[str, Any]:
    key = _path_param("key", _string(64), "The ticket type key.")
    return {
        "/definitions": {
            "get": operation("List ticket types", "listDefinitions", "definitions", (
                "200", _json_response("Ticket types.", _obj(
                    {"items": {"type": "array", "items": ref("DefinitionSummary")}},
                    ("items",)))), ()),
        },
        "/definitions/validate": {
            "post": operation("Validate a source", "validateDefinition", "definitions", (
                "200", _json_response("The engine's issues (none: valid).", _obj(
                    {"valid": {"type": "boolean"},
                     "issues": {"type": "array", "items": ref("Issue")}},
                    ("valid", "issues")))), (400, 413, 415, 422),
                body=_body(ref("DefinitionSource"))),
        },
        "/definitions/{key}": {
            "parameters": [key],
            "get": operation("Read a version's source", "getDefinition", "definitions", (
                "200", _json_response("The version and its source.", _obj(
                    {"definition": ref("DefinitionVersion"), "source": _string()},
                    ("definition", "source")))), (400, 404), [
                _query("version", {"type": "integer", "minimum": 1},
                       "A published version (default: the newest)."),
                _query("draft", {"type": "boolean"}, "The draft instead.")]),
        },
        "/definitions/{key}/draft": {
            "parameters": [key],
            "put": operation("Save the draft", "saveDraft", "definitions", (
                "200", _json_response("The draft and its issues.", _obj(
                    {"definition": ref("DefinitionVersion"),
                     "issues": {"type": "array", "items": ref("Issue")}},
                    ("definition", "issues")))), (400, 403, 409, 413, 415, 422),
                body=_body(ref("DefinitionSource"))),
            "delete": operation("Discard the draft (a type never published goes with it)",
                                "discardDraft", "definitions",
                                ("204", {"description": "Discarded."}), (400, 403, 404)),
        },
        "/definitions/{key}/publish": {
            "parameters": [key],
            "post": operation("Publish the draft", "publishDefinition", "definitions", (
                "200", _json_response("The version, and located warnings (e.g. teams this "
                                      "installation lacks).", _obj({
                                          "definition": ref("DefinitionVersion"),
                                          "warnings": {"type": "array",
                                                       "items": {"type": "object"}}},
                                          ("definition", "warnings")))),
                              (400, 403, 404, 409, 415, 422),
                              body=_body(_obj({}), required=False)),
        },
    }


def _accounts() -> dict[str, Any]:
    user = _obj({"user": ref("User")}, ("user",))
    return {
        "/me": {"get": operation("Who am I", "me", "accounts",
                                 ("200", _json_response("The caller.", user))),
                "patch": operation("Change my display name, e-mail address or language",
                                   "changeMe", "accounts",
                                   ("200", _json_response("The caller now.", user)),
                                   (400, 413, 415, 422), body=_body(ref("MyDetails")))},
        "/users": {
            "get": operation("List users", "listUsers", "accounts", ("200", _json_response(
                "Admins: everyone; staff: staff.", _obj(
                    {"items": {"type": "array", "items": ref("User")}}, ("items",)))), (403,)),
            "post": operation("Add a user", "createUser", "accounts",
                              ("201", _json_response("The new user.", user)),
                              (400, 403, 409, 413, 415, 422), body=_body(ref("NewUser"))),
        },
        "/users/{username}": {
            "parameters": [_path_param("username", _string(150), "The user's name.")],
            "patch": operation("Disable or enable a user, change role, teams, name, address "
                               "or language (admins; 409 `self-lockout` for disabling "
                               "oneself or giving up one's own administrator role)",
                               "changeUser", "accounts",
                               ("200", _json_response("The user now.", user)),
                               (400, 403, 404, 409, 413, 415, 422),
                               body=_body(ref("UserChange"))),
        },
        "/users/{username}/password": {
            "parameters": [_path_param("username", _string(150), "The user's name.")],
            "put": operation("Set a user's password (admins): their sessions and password "
                             "reset links end", "setPassword", "accounts",
                             ("204", {"description": "Set."}),
                             (400, 403, 404, 413, 415, 422), body=_body(ref("NewPassword"))),
        },
        "/audit": {
            "get": operation("The audit log, newest first (admins)", "auditLog", "accounts", (
                "200", _json_response("Events.", _obj({
                    "items": {"type": "array", "items": ref("AuditEntry")},
                    "next_before": {"type": ["integer", "null"]}}, ("items", "next_before")))),
                (400, 403), [
                    _query("kind", _string(40), "Only events of this kind."),
                    _query("actor", _string(150), "Only events by this user."),
                    _query("before", {"type": "integer", "minimum": 1,
                                      "maximum": 2**63 - 1},
                           "Events older than this id (the previous page's next_before)."),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 200},
                           "Page size (default 50)."),
                ]),
        },
        "/teams": {
            "get": operation("List teams", "listTeams", "accounts", ("200", _json_response(
                "The teams.", _obj({"items": {"type": "array", "items": ref("Team")}},
                                   ("items",)))), (403,)),
            "post": operation("Add a team", "createTeam", "accounts", ("201", _json_response(
                "The new team.", _obj({"team": ref("Team")}, ("team",)))),
                (400, 403, 409, 413, 415, 422), body=_body(ref("NewTeam"))),
        },
        "/tokens": {
            "get": operation("List API tokens (never their secrets)", "listTokens",
                             "accounts", (
                "200", _json_response("Tokens, newest first.", _obj(
                    {"items": {"type": "array", "items": ref("Token")}}, ("items",)))),
                (400, 404), [
                    _query("user", _string(150), "Admins: this user's tokens (default: "
                                                 "the caller's)."),
                ]),
            "post": operation("Create an API token", "createToken", "accounts", (
                "201", _json_response("The token; its secret is shown only here.", _obj(
                    {"token": ref("IssuedToken")}, ("token",)))),
                (400, 413, 415, 422), body=_body(ref("NewToken"))),
        },
        "/tokens/{token_id}": {
            "parameters": [_path_param("token_id", {"type": "integer", "minimum": 0,
                                                    "maximum": 2**63 - 1})],
            "delete": operation("Revoke a token", "revokeToken", "accounts",
                                ("204", {"description": "Revoked."}), (404,)),
        },
    }


def _agents() -> dict[str, Any]:
    agent = ("200", _json_response("The agent's routing profile.",
                                   _obj({"agent": ref("Agent")}, ("agent",))))
    return {
        "/agents/{username}": {
            "parameters": [_path_param("username", _string(150), "The agent's user name.")],
            "get": operation("An agent's routing profile", "getAgent", "routing", agent,
                             (404,)),
            "patch": operation("Change skills, capacity, schedule or away", "changeAgent",
                               "routing", agent, (400, 403, 404, 413, 415, 422),
                               body=_body(ref("AgentChange"))),
        },
        "/calendars": {
            "get": operation("List business calendars", "listCalendars", "routing", (
                "200", _json_response("Calendars by key.", _obj(
                    {"items": {"type": "array", "items": ref("Calendar")}}, ("items",)))),
                (403,)),
        },
        "/calendars/{key}": {
            "parameters": [_path_param("key", _string(64), "The calendar's key.")],
            "get": operation("A calendar and its source", "getCalendar", "routing", (
                "200", _json_response("The calendar.", _obj({
                    "calendar": ref("Calendar"), "source": _string()}, ("calendar", "source")))),
                (403, 404)),
            "put": operation("Add or change a calendar (admins)", "saveCalendar", "routing", (
                "200", _json_response("The calendar now.", _obj({"calendar": ref("Calendar")},
                                                                ("calendar",)))),
                (400, 403, 413, 415, 422), body=_body(ref("CalendarSource"))),
        },
        "/teams/{key}/lead": {
            "parameters": [_path_param("key", _string(64), "The team's key.")],
            "put": operation("Name the team lead (admins)", "setTeamLead", "routing", (
                "200", _json_response("Done.", _obj({"team": _string(),
                                                     "lead": NULLABLE_STRING},
                                                    ("team", "lead")))),
                (400, 403, 404, 413, 415, 422), body=_body(ref("TeamLead"))),
        },
    }


def _reports() -> dict[str, Any]:
    period = [
        _query("from", _string(40), f"At or after this (default: 30 days before `before`). "
                                    f"{WHEN}"),
        _query("before", _string(40), f"Before this (default: now). {WHEN}"),
        _query("type", _string(64), "Ticket type key."),
        _query("team", _string(64), "Team key."),
    ]
    counts = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0},
              "description": "Answers by score."}
    nullable_number = {"type": ["number", "null"]}
    covered = {"from": INSTANT, "before": INSTANT, "ticket_type": NULLABLE_STRING,
               "team": NULLABLE_STRING}
    summary = _obj({
        **covered, "sent": {"type": "integer", "minimum": 0},
        "answered": {"type": "integer", "minimum": 0}, "response_rate": nullable_number,
        "csat": _obj({"average": nullable_number, "satisfied": nullable_number,
                      "answers": counts}, ("average", "satisfied", "answers")),
        "nps": _obj({"score": {"type": ["integer", "null"], "minimum": -100, "maximum": 100},
                     "answers": counts}, ("score", "answers")),
        "agents": {"type": "array", "items": _obj({
            "agent": _string(), "answered": {"type": "integer"},
            "csat_average": {"type": "number"}}, ("agent", "answered", "csat_average"))},
        "comments": {"type": "array", "items": _obj({
            "number": _string(), "csat": {"type": "integer"},
            "nps": {"type": ["integer", "null"]}, "comment": _string(),
            "answered_at": INSTANT}, ("number", "csat", "nps", "comment", "answered_at"))},
    }, ("from", "before", "ticket_type", "team", "sent", "answered", "response_rate",
        "csat", "nps", "agents", "comments"))
    clock = _obj({"kind": _string(), "label": _string(), "met": {"type": "integer"},
                  "late": {"type": "integer"}, "stopped": {"type": "integer"},
                  "attainment": nullable_number},
                 ("kind", "label", "met", "late", "stopped", "attainment"))
    levels = _obj({
        **covered, "opened": {"type": "integer", "minimum": 0},
        "closed": {"type": "integer", "minimum": 0},
        "median_hours_to_close": nullable_number, "p90_hours_to_close": nullable_number,
        "clocks": {"type": "array", "items": clock},
    }, ("from", "before", "ticket_type", "team", "opened", "closed", "median_hours_to_close",
        "p90_hours_to_close", "clocks"))
    return {
        "/surveys/summary": {
            "get": operation(
                "Survey results of a period", "surveySummary", "reports",
                ("200", _json_response(
                    "The surveys sent in the period (tickets closed then) about tickets the "
                    "caller may see, summed up: CSAT average and share of 4s and 5s, NPS "
                    "(promoters minus detractors, in points), answers per agent, the latest "
                    "comments. Supervisors and administrators.", summary)),
                (400, 403), period),
        },
        "/sla/summary": {
            "get": operation(
                "Service levels of a period", "slaSummary", "reports",
                ("200", _json_response(
                    "Tickets the caller may see: opened in the period, closed in it, the "
                    "median and 90th percentile of their hours from opening to closing, and "
                    "per SLA clock of the closed ones how many were met on time, late, or "
                    "stopped unmet; attainment = on time / (on time + late). Supervisors "
                    "and administrators.", levels)),
                (400, 403), period),
        },
    }


def _surveys() -> dict[str, Any]:
    answered = ("200", _json_response("Thank you.", _obj({"answered": {"type": "boolean"}},
                                                          ("answered",))))
    answer = _body(ref("SurveyAnswer"))
    by_link = operation("Answer a survey through its one-time link", "answerSurveyByLink",
                        "surveys", answered, body=answer, public=True)
    by_link["responses"].update(_error_responses((400, 404, 409, 413, 415, 422)))
    return {
        "/surveys/{token}": {
            "parameters": [_path_param("token", _string(200), "The link's secret.")],
            "post": by_link,
        },
        "/tickets/{number}/survey": {
            "parameters": [NUMBER],
            "post": operation("The requester answers the ticket's survey", "answerSurvey",
                              "surveys", answered, (400, 403, 404, 409, 413, 415, 422),
                              body=answer),
        },
        "/tickets/{number}/survey/link": {
            "parameters": [NUMBER],
            "post": operation("A fresh one-time survey link for the requester", "surveyLink",
                              "surveys", ("201", _json_response("The link (shown once).", _obj(
                                  {"token": _string(), "path": _string(),
                                   "page": _string(description="The survey's web page "
                                                               "(no login needed).")},
                                  ("token", "path", "page")))), (404,)),
        },
    }


SCHEMAS.update({
    "TemplateSummary": _obj({
        "name": _string(), "ticket_type": _string(), "version": {"type": "integer"},
        "title": _string(), "description": NULLABLE_STRING, "number_prefix": _string(),
        "state": {"enum": ["not-installed", "current", "upgrade-available", "changed",
                           "ahead"]},
        "installed_version": {"type": ["integer", "null"]},
        "clones": {"type": "array", "items": _obj(
            {"ticket_type": _string(), "from_version": {"type": ["integer", "null"]}},
            ("ticket_type", "from_version"))},
        "golden_cases": {"type": "integer"},
    }, ("name", "ticket_type", "version", "state", "installed_version", "clones")),
    "TemplateOutcome": _obj({
        "template": _string(), "ticket_type": _string(),
        "action": _string(description="installed, upgraded, unchanged, upgrade-available, "
                                      "changed, ahead or cloned."),
        "version": {"type": "integer"}, "previous_version": {"type": ["integer", "null"]},
        "message": _string(), "calendars_added": {"type": "array", "items": _string()},
        "missing_teams": {"type": "array", "items": _string(),
                          "description": "Teams it routes to that do not exist yet."},
    }, ("template", "ticket_type", "action", "version", "message")),
    "TemplateInstall": _obj({"upgrade": {"type": "boolean", "default": False,
                                         "description": "Publish a newer bundled version."}}),
    "TemplateClone": _obj({
        "as": _string(63, pattern="^[a-z][a-z0-9_-]{0,62}$",
                      description="The new ticket type id."),
        "prefix": _string(10, pattern="^[A-Z][A-Z0-9]{0,9}$",
                          description="Its number prefix (default: from the id)."),
        "name": _obj({"en": _string(200, minLength=1), "zh": _string(200, minLength=1)}),
    }, ("as",)),
    "DefinitionDiff": _obj({
        "key": _string(), "from": {"type": "integer"}, "to": {"type": "integer"},
        "changes": {"type": "array", "items": _obj({
            "action": {"enum": ["added", "removed", "changed"]}, "area": _string(),
            "key": _string(), "attribute": NULLABLE_STRING, "before": {}, "after": {}},
            ("action", "area", "key"))},
        "text": {"type": "array", "items": _string(), "description": "One line per change."},
    }, ("key", "from", "to", "changes", "text")),
})


def _templates() -> dict[str, Any]:
    name = _path_param("name", _string(64), "The template's name, e.g. repair.")
    outcome = _obj({"result": ref("TemplateOutcome")}, ("result",))
    refused = (400, 403, 404, 409, 413, 415, 422)
    return {
        "/templates": {
            "get": operation("List the bundled templates", "listTemplates", "templates", (
                "200", _json_response("Templates and what is installed of them.", _obj(
                    {"items": {"type": "array", "items": ref("TemplateSummary")}},
                    ("items",)))), (403,)),
        },
        "/templates/{name}/install": {
            "parameters": [name],
            "post": operation("Install a template (idempotent; admins)", "installTemplate",
                              "templates", ("200", _json_response("What was done.", outcome)),
                              refused, body=_body(ref("TemplateInstall"), required=False)),
        },
        "/templates/{name}/clone": {
            "parameters": [name],
            "post": operation("Clone a template under a new id (admins)", "cloneTemplate",
                              "templates", ("201", _json_response("The clone.", outcome,
                                                                  LOCATION)),
                              refused, body=_body(ref("TemplateClone"))),
        },
        "/definitions/{key}/diff": {
            "parameters": [_path_param("key", _string(64), "The ticket type key.")],
            "get": operation("What changed between two published versions", "diffDefinition",
                             "definitions", ("200", _json_response(
                                 "The changes, as data and as lines.", ref("DefinitionDiff"))),
                             (400, 404), [
                _query("from", {"type": "integer", "minimum": 1},
                       "The earlier version (default: the one before `to`)."),
                _query("to", {"type": "integer", "minimum": 1},
                       "The later version (default: the newest).")]),
        },
    }


# --- notifications, reminders, webhooks, the outbox (runtime/api/notifications.py) -----

WEBHOOK: dict[str, Schema] = {
    "name": _string(),
    "url": _string(description="Query values (robots' access tokens) are masked."),
    "format": {"enum": ["generic", "dingtalk", "wecom", "feishu"]},
    "events": {"type": "array", "items": _string(),
               "description": "Event kinds sent; empty: all."},
    "language": {"enum": ["en", "zh"]}, "active": {"type": "boolean"},
    "has_secret": {"type": "boolean"}, "created_at": INSTANT,
}
WEBHOOK_REQUIRED = ("name", "url", "format", "events", "language", "active", "has_secret",
                    "created_at")
SCHEMAS.update({
    "Notification": _obj({
        "id": {"type": "integer"}, "kind": _string(), "title": _string(),
        "ticket": NULLABLE_STRING,
        "data": {"type": "object", "additionalProperties": True,
                 "description": "What the entry is about (who, the ticket's number and "
                                "state, an excerpt)."},
        "created_at": INSTANT, "read_at": NULLABLE_INSTANT,
    }, ("id", "kind", "title", "ticket", "data", "created_at", "read_at")),
    "NewReminder": _obj({"at": INSTANT, "note": _string(1000)}, ("at",)),
    "Reminder": _obj({"key": _string(), "ticket": _string(), "due_at": INSTANT,
                      "note": NULLABLE_STRING}, ("key", "ticket", "due_at", "note")),
    "Webhook": _obj(WEBHOOK, WEBHOOK_REQUIRED),
    "IssuedWebhook": _obj({**WEBHOOK, "secret": {
        "type": ["string", "null"],
        "description": "The signing secret: shown here and never again."}},
        (*WEBHOOK_REQUIRED, "secret")),
    "NewWebhook": _obj({
        "name": _string(64, pattern="^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
        "url": _string(2000, description="http(s)."),
        "format": {"enum": ["generic", "dingtalk", "wecom", "feishu"], "default": "generic"},
        "events": {"type": "array", "items": _string(40),
                   "description": "created, transitioned, updated, commented, attached, "
                                  "claimed, transferred, assigned, reopened, closed; "
                                  "empty or omitted: all."},
        "language": {"enum": ["en", "zh"], "default": "en"},
        "secret": _string(200, description="Generic: generated when omitted. Robots: the "
                                           "signing secret their platform shows."),
    }, ("name", "url")),
    "OutboxMessage": _obj({
        "id": {"type": "integer"}, "channel": {"enum": ["inbox", "email", "webhook"]},
        "recipient": _string(), "subject": NULLABLE_STRING,
        "state": {"enum": ["pending", "sending", "sent", "failed", "dead"]},
        "attempts": {"type": "integer"}, "next_attempt_at": INSTANT,
        "last_error": NULLABLE_STRING, "ticket": NULLABLE_STRING, "created_at": INSTANT,
        "sent_at": NULLABLE_INSTANT, "payload": {"type": "object"},
    }, ("id", "channel", "recipient", "state", "attempts", "next_attempt_at", "last_error",
        "created_at", "payload")),
})


def _notifications() -> dict[str, Any]:
    page_size = {"type": "integer", "minimum": 1}
    before = _query("before", {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                    "Entries older than this id (the previous page's next_before).")
    an_id = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
    return {
        "/notifications": {
            "get": operation("My inbox, newest first", "listNotifications", "notifications", (
                "200", _json_response("A page of notifications and the unread count.", _obj({
                    "items": {"type": "array", "items": ref("Notification")},
                    "next_before": {"type": ["integer", "null"]},
                    "unread": {"type": "integer"}}, ("items", "next_before", "unread")))),
                (400,), [_query("unread", {"type": "boolean"}, "Only unread ones."), before,
                         _query("limit", {**page_size, "maximum": 100},
                                "Page size (default 50).")]),
        },
        "/notifications/{notification_id}/read": {
            "parameters": [_path_param("notification_id", an_id)],
            "post": operation("Mark a notification read", "readNotification",
                              "notifications", ("200", _json_response(
                                  "The notification.", _obj(
                                      {"notification": ref("Notification")},
                                      ("notification",)))), (404,)),
        },
        "/tickets/{number}/reminders": {
            "parameters": [NUMBER],
            "post": operation("Remind me of this ticket later", "addReminder",
                              "notifications", ("201", _json_response(
                                  "The reminder.", _obj({"reminder": ref("Reminder")},
                                                        ("reminder",)))),
                              (400, 403, 404, 413, 415, 422), body=_body(ref("NewReminder"))),
        },
        "/webhooks": {
            "get": operation("List webhooks (admins)", "listWebhooks", "notifications", (
                "200", _json_response("Webhooks, without secrets.", _obj(
                    {"items": {"type": "array", "items": ref("Webhook")}}, ("items",)))),
                (403,)),
            "post": operation("Add a webhook (admins)", "createWebhook", "notifications", (
                "201", _json_response("The webhook and its secret (shown only here).", _obj(
                    {"webhook": ref("IssuedWebhook")}, ("webhook",)))),
                (400, 403, 409, 413, 415, 422), body=_body(ref("NewWebhook"))),
        },
        "/webhooks/{name}": {
            "parameters": [_path_param("name", _string(64), "The webhook's name.")],
            "delete": operation("Remove a webhook (admins)", "deleteWebhook", "notifications",
                                ("204", {"description": "Removed; its queued messages are "
                                                        "dead letters."}), (403, 404)),
        },
        "/outbox": {
            "get": operation("Outbox messages, newest first (admins)", "listOutbox",
                             "notifications", ("200", _json_response("Messages.", _obj({
                                 "items": {"type": "array", "items": ref("OutboxMessage")},
                                 "next_before": {"type": ["integer", "null"]}},
                                 ("items", "next_before")))), (400, 403), [
                _query("state", {"enum": ["pending", "sending", "sent", "failed", "dead"]},
                       "Only messages in this state (`dead`: the dead letters)."),
                _query("channel", {"enum": ["inbox", "email", "webhook"]},
                       "Only this channel."),
                before, _query("limit", {**page_size, "maximum": 200},
                               "Page size (default 50).")]),
        },
        "/outbox/{message_id}/retry": {
            "parameters": [_path_param("message_id", an_id)],
            "post": operation("Send a dead or failed message again (admins)", "retryMessage",
                              "notifications", ("200", _json_response(
                                  "The message, pending again.", _obj(
                                      {"message": ref("OutboxMessage")}, ("message",)))),
                              (403, 404, 409)),
        },
    }


def _document() -> dict[str, Any]:
    paths = {**_tickets(), **_files(), **_definitions(), **_accounts(), **_agents(),
             **_surveys(), **_reports(), **_templates(), **_notifications(),
             "/openapi.json": {
        "get": operation("This document", "openapi", "meta", (
            "200", _json_response("OpenAPI 3.1.", {"type": "object"})), public=True)}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ticketflow API", "version": VERSION,
                 "description": "Tickets, definitions and accounts. Every error is "
                                "`{\"error\": {\"code\", \"message\", \"details\"}}`."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer", "bearerFormat": "tf_...",
                "description": "An API token (POST /tokens, or `ticketflow token`)."}},
            "schemas": SCHEMAS,
            "responses": {f"E{status}": _json_response(text, ref("Error"))
                          for status, text in ERRORS.items()},
        },
    }


DOCUMENT = _document()


@api.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI document (public: it describes, it holds no data)."""
    return jsonify(DOCUMENT)
