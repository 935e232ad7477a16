"""Account endpoints: who am I, users, teams, API tokens.

A new token's secret is in the 201 response and nowhere else (only its hash is kept).
"""

from __future__ import annotations

from flask import Response, jsonify

from runtime.api.blueprint import api, db
from runtime.api.inputs import Members, bounded_int, json_body, query, text_parameter
from runtime.models import Role
from runtime.services import accounts, audit, directory, recovery
from runtime.web.context import service_request

USERNAME, TEAM_KEY = accounts.USERNAME, accounts.TEAM_KEY
LANGUAGES = ("en", "zh")
ROLES = tuple(str(role) for role in Role)
MAX_ID = 2**63 - 1


@api.get("/me")
def me() -> Response:
    """The calling user."""
    return jsonify({"user": directory.me(db(), service_request()).to_dict()})


DETAILS = ("display_name", "email", "language")


def _details(members: Members) -> accounts.Details:
    """The display name, e-mail address (null: none) and language members of a body."""
    details = accounts.Details(
        display_name=members.string("display_name", max_length=accounts.MAX_DISPLAY_NAME),
        email=members.string("email", max_length=accounts.MAX_EMAIL),
        clear_email="email" in members.body and members.body["email"] is None,
        language=members.choice("language", LANGUAGES))
    for found in details.problems():
        members.add(found["field"], found["code"], found["message"])
    return details


@api.patch("/me")
def change_me() -> Response:
    """Change one's own display name, e-mail address or language."""
    service = service_request()
    members = Members(json_body(), DETAILS)
    details = _details(members)
    members.done()
    accounts.change_details(db(), service, service.actor.username, details)
    return jsonify({"user": directory.me(db(), service).to_dict()})


@api.get("/users")
def list_users() -> Response:
    """Admins: every user; agents and supervisors: the staff; requesters: 403."""
    users = directory.list_users(db(), service_request())
    return jsonify({"items": [user.to_dict() for user in users]})


@api.post("/users")
def create_user() -> tuple[Response, int]:
    """Add a user (admins)."""
    service = service_request()
    members = Members(json_body(), ("username", "role", "password", "display_name", "email",
                                    "language", "teams"))
    username = members.text("username", max_length=150, pattern=USERNAME,
                            hint="letters, digits, '.', '_' or '-'")
    role = members.choice("role", ROLES, required=True)
    password = members.string("password", max_length=200)
    display_name = members.string("display_name", max_length=200)
    email = members.string("email", max_length=254)
    language = members.choice("language", LANGUAGES) or "en"
    teams = members.strings("teams")
    members.done()
    user = accounts.create_user(db(), service, username=username, role=Role(str(role)),
                                password=password, display_name=display_name, email=email,
                                language=language, teams=tuple(teams))
    return jsonify({"user": directory.user_info(user).to_dict()}), 201


@api.patch("/users/<username>")
def change_user(username: str) -> Response:
    """Disable or re-enable a user, change their role, teams, display name, e-mail
    address or language (admins); recorded."""
    service = service_request()
    members = Members(json_body(), ("active", "role", "teams", *DETAILS))
    active = members.boolean("active")
    role = members.choice("role", ROLES)
    teams = members.strings("teams") if "teams" in members.body else None
    details = _details(members)
    members.done()
    accounts.change_user(db(), service, username, active=active,
                         role=Role(str(role)) if role is not None else None,
                         teams=tuple(teams) if teams is not None else None, details=details)
    return jsonify({"user": directory.user_named(db(), service, username).to_dict()})


@api.put("/users/<username>/password")
def set_password(username: str) -> tuple[str, int]:
    """Set a user's password (admins): a forgotten one, without e-mail. Every session of
    the user and every reset link of theirs ends."""
    service = service_request()
    members = Members(json_body(), ("password",))
    password = members.text("password", max_length=200)
    members.done()
    recovery.set_password(db(), service, username, password)
    return "", 204


@api.get("/audit")
def audit_log() -> Response:
    """Every event, newest first (admins): changes, logins, publications, role changes."""
    parameters = query({"kind": text_parameter(40), "actor": text_parameter(150),
                        "before": bounded_int(1, MAX_ID), "limit": bounded_int(1, 200)})
    page = audit.entries(db(), service_request(), kind=parameters.get("kind"),
                         actor=parameters.get("actor"), before=parameters.get("before"),
                         limit=parameters.get("limit") or 50)
    return jsonify({"items": [entry.to_dict() for entry in page.items],
                    "next_before": page.next_cursor})


@api.get("/teams")
def list_teams() -> Response:
    """The teams (staff)."""
    teams = directory.list_teams(db(), service_request())
    return jsonify({"items": [team.to_dict() for team in teams]})


@api.post("/teams")
def create_team() -> tuple[Response, int]:
    """Add a team (admins)."""
    service = service_request()
    members = Members(json_body(), ("key", "name"))
    key = members.text("key", max_length=63, pattern=TEAM_KEY,
                       hint="lower case letters, digits, '_' or '-', starting with a letter")
    name = members.text("name", max_length=200)
    members.done()
    team = accounts.create_team(db(), service, key, name)
    return jsonify({"team": directory.team_info(team).to_dict()}), 201


@api.get("/tokens")
def list_tokens() -> Response:
    """The caller's API tokens, newest first, revoked and expired ones included; admins:
    `?user=NAME` for another user's. Never the secrets."""
    parameters = query({"user": text_parameter(150)})
    tokens = accounts.list_tokens(db(), service_request(), parameters.get("user"))
    return jsonify({"items": [token.to_dict() for token in tokens]})


@api.post("/tokens")
def create_token() -> tuple[Response, int]:
    """A new API token for the caller; the secret is shown in this response only."""
    service = service_request()
    members = Members(json_body(), ("name", "expires_at"))
    name = members.text("name", max_length=100)
    expires_at = members.instant("expires_at")
    if expires_at is not None and expires_at <= service.now:
        members.add("expires_at", "in-the-past", "'expires_at' must be in the future")
    members.done()
    issued = accounts.create_token(db(), service, name, expires_at=expires_at)
    return jsonify({"token": {
        "id": issued.id, "name": issued.name, "token": issued.token,
        "expires_at": issued.expires_at.isoformat() if issued.expires_at else None}}), 201


@api.delete(f"/tokens/<int(max={MAX_ID}):token_id>")
def revoke_token(token_id: int) -> tuple[str, int]:
    """Revoke one of the caller's tokens (admins: anyone's)."""
    accounts.revoke_token(db(), service_request(), token_id)
    return "", 204
