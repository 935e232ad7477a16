"""Who is calling: a browser session (flask-login, backed by a session row) or an API
token (`Authorization: Bearer tf_...`). Both resolve to the same `Actor`."""

from __future__ import annotations

from flask import Flask, request
from flask_login import LoginManager, UserMixin

from runtime.context import Actor
from runtime.services import accounts
from runtime.web.context import runtime

login_manager = LoginManager()


class Identity(UserMixin):
    """The logged-in user as flask-login sees it. `get_id` is the session row's id, so
    revoking that row (logout, disable, password change) ends this login everywhere."""

    def __init__(self, caller: accounts.Caller, session_id: str | None,
                 via_token: bool = False) -> None:
        self.actor: Actor = caller.actor
        self.session_id = session_id
        self.via_token = via_token
        self.display_name = caller.display_name

    def get_id(self) -> str | None:
        return self.session_id


@login_manager.user_loader
def _load_session(session_id: str) -> Identity | None:
    caller = accounts.caller_for_session(runtime().db, session_id)
    return Identity(caller, session_id) if caller is not None else None


@login_manager.request_loader
def _load_token(_request: object) -> Identity | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    caller = accounts.caller_for_token(runtime().db, token.strip(), runtime().clock())
    return Identity(caller, None, via_token=True) if caller is not None else None


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the login page explains itself, in either language
    # Session protection is done by the session rows; "strong" would also drop sessions
    # on an address change, which breaks phones moving between networks.
    login_manager.session_protection = None
