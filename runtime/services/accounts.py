"""Accounts: users, teams, passwords, browser sessions and API tokens.

Passwords are hashed with scrypt (memory-hard). API tokens are random, shown once and
stored as SHA-256 (a random 256-bit secret needs no slow hash). Browser sessions are rows:
logging out, disabling a user or changing a password revokes them, so an old cookie
replayed later finds nothing. Failed logins are counted per user name and per address in
the database, so the limit holds across processes; an unknown user and a wrong password
get the same answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine.values import is_email
from runtime import policy
from runtime.context import Actor, Request
from runtime.db import Database
from runtime.hashing import secret_digest
from runtime.models import (
    ApiToken,
    EventKind,
    LoginThrottle,
    Membership,
    Role,
    Team,
    User,
    UserSession,
)
from runtime.prepared import Prepared
from runtime.services.errors import Conflict, Forbidden, Invalid, NotFound, TooManyRequests
from runtime.services.events import record

log = logging.getLogger(__name__)

SCRYPT = {"n": 2**14, "r": 8, "p": 1}
TOKEN_PREFIX = "tf_"
# A token's last use is written at most this often: enough to tell a stale token from a
# live one, without a write on every API call.
TOKEN_USE_RESOLUTION = timedelta(hours=1)
MAX_TOKENS_LISTED = 1000
MAX_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD = 8
# One rule for every channel (API, command line, pages). No "@" in a user name: it
# starts an @mention. Team keys are those a definition can route to.
USERNAME = re.compile(r"[A-Za-z0-9_.-]{1,150}")
TEAM_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
TEAM_KEY_RULE = ("a team key has up to 63 lower-case letters, digits, '_' or '-', "
                 "starting with a letter")
# Verifying against this keeps an unknown user as slow as a wrong password.
_DUMMY_HASH = None


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    encode = base64.b64encode
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${encode(salt).decode()}$" \
           f"{encode(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    global _DUMMY_HASH
    if stored is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_hex(8))
        stored, password = _DUMMY_HASH, password + "\x00never"
    try:
        _, n, r, p, salt, digest = stored.split("$")
        computed = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), dklen=32,
                                  n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, base64.b64decode(digest))


def actor_for(user: User, team_ids: Iterable[int] | None = None) -> Actor:
    """The policy's view of a user (`team_ids` when the caller read them already, so the
    `teams` relationship need not be loaded)."""
    teams = frozenset(t.id for t in user.teams) if team_ids is None else frozenset(team_ids)
    return Actor(user.id, user.username, Role(user.role), teams, user.language)


_TOO_SHORT = {"field": "password", "code": "too-short",
              "message": f"a password needs at least {MIN_PASSWORD} characters"}


def check_new_password(password: str) -> None:
    """Refuse a password too short to keep (`Invalid`, located at `password`)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise Invalid(_TOO_SHORT["message"], details=[dict(_TOO_SHORT)])


def create_user(db: Database, request: Request | None, *, username: str, role: Role,
                password: str | None, display_name: str | None = None,
                email: str | None = None, language: str = "en",
                teams: tuple[str, ...] = (), now: datetime | None = None) -> User:
    """Add a user (admins only, or the CLI/demo with `request=None`)."""
    if request is not None and not policy.can_manage_users(request.actor):
        raise Forbidden("only administrators may add users")
    problems = Details(display_name=display_name, email=email, language=language).problems()
    if not USERNAME.fullmatch(username):
        problems.insert(0, {"field": "username", "code": "bad-format", "message":
                            "a user name has 1 to 150 letters, digits, '.', '_' or '-'"})
    if password is not None and len(password) < MIN_PASSWORD:
        problems.append(dict(_TOO_SHORT))
    if problems:  # every one at once
        raise Invalid("the user has problems; nothing was saved", details=problems)
    moment = request.now if request is not None else now
    assert moment is not None
    with db.write() as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise Conflict(f"the user name '{username}' is taken", code="user-exists")
        user = User(username=username, display_name=display_name or username, email=email,
                    role=str(role), language=language, active=True, created_at=moment,
                    password_hash=hash_password(password) if password else None)
        session.add(user)
        session.flush()
        _join_teams(session, user.id, teams)
        if request is not None:
            record(session, request, EventKind.USER_CREATED,
                   {"username": username, "role": str(role), "teams": list(teams)})
        session.flush()
        session.refresh(user)
        return user


def create_team(db: Database, request: Request | None, key: str, name: str,
                now: datetime | None = None) -> Team:
    if request is not None and not policy.can_manage_users(request.actor):
        raise Forbidden("only administrators may add teams")
    if not TEAM_KEY.fullmatch(key):
        raise Invalid(TEAM_KEY_RULE, details=[
            {"field": "key", "code": "bad-format", "message": TEAM_KEY_RULE}])
    if not name.strip():
        raise Invalid("a team needs a name", details=[
            {"field": "name", "code": "required", "message": "a team needs a name"}])
    moment = request.now if request is not None else now
    assert moment is not None
    with db.write() as session:
        if session.scalar(select(Team.id).where(Team.key == key)) is not None:
            raise Conflict(f"the team '{key}' exists", code="team-exists")
        team = Team(key=key, name=name, created_at=moment)
        session.add(team)
        session.flush()
        if request is not None:
            record(session, request, EventKind.TEAM_CHANGED, {"team": key, "created": True})
        return team


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def _existing_user(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"there is no user '{username}'")
    return user


def _join_teams(session: Session, user_id: int, keys: tuple[str, ...]) -> None:
    for key in keys:
        team = session.scalar(select(Team).where(Team.key == key))
        if team is None:
            raise Invalid(f"there is no team '{key}'")
        session.add(Membership(user_id=user_id, team_id=team.id))


@dataclass(frozen=True)
class Login:
    user_id: int
    session_id: str


_MAX_THROTTLE_KEY = 200  # the column's length


def throttle_key(kind: str, value: str) -> str:
    """The throttle's key for `value` of `kind` ("user", "addr", "reset" ...). A value
    too long for the column (a pasted paragraph in the user-name box) is hashed: the
    database would refuse it, and the attempt must still count."""
    value = value.lower()
    if len(kind) + 1 + len(value) <= _MAX_THROTTLE_KEY:
        return f"{kind}:{value}"
    return f"{kind}#{hashlib.sha256(value.encode()).hexdigest()}"


def login_key(username: str) -> str:
    """The throttle's key for guesses at one user's password."""
    return throttle_key("user", username)


def throttled(session: Session, keys: list[str], now: datetime) -> bool:
    """Whether any of `keys` (a user name, an address) used up its attempts in the
    current window."""
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).all()
    return any(row.failures >= MAX_FAILURES and now - row.window_start < THROTTLE_WINDOW
               for row in rows)


def count_attempt(session: Session, keys: list[str], now: datetime) -> None:
    """Count one attempt against each of `keys` (a failed login, a reset asked for)."""
    for key in keys:
        row = session.get(LoginThrottle, key)
        if row is None:
            session.add(LoginThrottle(key=key, window_start=now, failures=1))
        elif now - row.window_start >= THROTTLE_WINDOW:
            row.window_start, row.failures = now, 1
        else:
            row.failures += 1


def log_in(db: Database, username: str, password: str, *, now: datetime,
           address: str | None) -> Login:
    """Check a user name and password and open a browser session.

    The same error for an unknown user, a disabled one and a wrong password.
    """
    keys = [login_key(username)] + ([throttle_key("addr", address)] if address else [])
    with db.write() as session:
        if throttled(session, keys, now):
            raise TooManyRequests("too many failed attempts; wait a few minutes and try again",
                                  code="login-throttled")
        user = find_user(session, username)
        ok = verify_password(password, user.password_hash if user else None)
        if ok and user is not None and user.active:
            session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
            session_id = secrets.token_urlsafe(32)
            session.add(UserSession(id=session_id, user_id=user.id, created_at=now))
            record(session, Request(actor_for(user), now, address), EventKind.LOGIN, {})
            return Login(user.id, session_id)
        # The failure is counted (this transaction commits) and then refused.
        count_attempt(session, keys, now)
    raise Forbidden("the user name or password is wrong", code="bad-credentials")


def log_out(db: Database, request: Request, session_id: str) -> None:
    with db.write() as session:
        session.execute(update(UserSession).where(UserSession.id == session_id,
                                                  UserSession.revoked_at.is_(None))
                        .values(revoked_at=request.now))
        record(session, request, EventKind.LOGOUT, {})


@dataclass(frozen=True)
class Caller:
    """Who is behind a request: the actor, and the name pages greet them with."""

    actor: Actor
    display_name: str


# Every request resolves its caller: one prepared Core query each, one row per team the
# user belongs to (or one row with no team).
_CALLER_COLUMNS = (User.id, User.username, User.role, User.language, User.display_name,
                   Membership.team_id)
_SESSION_CALLER = Prepared(
    select(*_CALLER_COLUMNS).join(UserSession, UserSession.user_id == User.id)
    .outerjoin(Membership, Membership.user_id == User.id)
    .where(UserSession.id == bindparam("session_id"), UserSession.revoked_at.is_(None),
           User.active.is_(True)))
_TOKEN_CALLER = Prepared(
    select(*_CALLER_COLUMNS, ApiToken.id.label("token_id"), ApiToken.expires_at,
           ApiToken.last_used_at).join(ApiToken, ApiToken.user_id == User.id)
    .outerjoin(Membership, Membership.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None),
           User.active.is_(True)))


def _caller(rows: list[Any]) -> Caller:
    row = rows[0]
    teams = frozenset(r.team_id for r in rows if r.team_id is not None)
    return Caller(Actor(row.id, row.username, Role(row.role), teams, row.language),
                  row.display_name)


def caller_for_session(db: Database, session_id: str) -> Caller | None:
    """The active user behind a live browser session, or None."""
    with db.driver_connection() as connection:
        rows = _SESSION_CALLER.rows(connection, {"session_id": session_id})
    return _caller(rows) if rows else None


def caller_for_token(db: Database, token: str, now: datetime) -> Caller | None:
    """The active user an unexpired, unrevoked API token belongs to, or None. Notes the
    token's use when its last noted use is older than `TOKEN_USE_RESOLUTION`."""
    with db.driver_connection() as connection:
        rows = _TOKEN_CALLER.rows(connection, {"token_hash": secret_digest(token)})
    if not rows or (rows[0].expires_at is not None and rows[0].expires_at <= now):
        return None
    last_used = rows[0].last_used_at
    if last_used is None or last_used <= now - TOKEN_USE_RESOLUTION:
        _note_token_use(db, rows[0].token_id, now)
    return _caller(rows)


def _note_token_use(db: Database, token_id: int, now: datetime) -> None:
    # Bookkeeping, not part of what the caller asked for: a database too busy to take
    # the write (or read-only) must not turn the call away. The next call tries again.
    try:
        with db.write() as session:
            session.execute(update(ApiToken).where(
                ApiToken.id == token_id,
                or_(ApiToken.last_used_at.is_(None),
                    ApiToken.last_used_at <= now - TOKEN_USE_RESOLUTION))
                .values(last_used_at=now))
    except OperationalError as error:
        log.warning("the last use of API token %s was not noted: %s", token_id, error.orig)


def revoke_sessions(session: Session, user_id: int, now: datetime) -> None:
    """End every browser session of the user (a replayed old cookie finds nothing)."""
    session.execute(update(UserSession).where(UserSession.user_id == user_id,
                                              UserSession.revoked_at.is_(None))
                    .values(revoked_at=now))


def change_password(db: Database, request: Request, current: str, new: str) -> str:
    """Change the actor's password; every other session ends. Returns a fresh session id."""
    check_new_password(new)
    # Guessing the current password here is throttled like guessing it at the login.
    keys = [login_key(request.actor.username)]
    with db.write() as session:
        if throttled(session, keys, request.now):
            raise TooManyRequests("too many failed attempts; wait a few minutes and try again",
                                  code="login-throttled")
        user = session.get(User, request.actor.user_id)
        assert user is not None
        if verify_password(current, user.password_hash):
            user.password_hash = hash_password(new)
            revoke_sessions(session, user.id, request.now)
            session_id = secrets.token_urlsafe(32)
            session.add(UserSession(id=session_id, user_id=user.id, created_at=request.now))
            record(session, request, EventKind.PASSWORD_CHANGED, {"username": user.username})
            return session_id
        count_attempt(session, keys, request.now)  # committed, then refused
    raise Forbidden("the current password is wrong", code="bad-credentials")


def change_user(db: Database, request: Request, username: str, *,
                active: bool | None = None, role: Role | None = None,
                teams: tuple[str, ...] | None = None, details: Details | None = None) -> None:
    """An administrator's change to a user, in one transaction (all of it or none):
    disabling ends their sessions and tokens at once; role, team and detail changes are
    recorded."""
    if not policy.can_manage_users(request.actor):
        raise Forbidden("only administrators may change users")
    if policy.locks_self_out(request.actor, username, active=active, role=role):
        raise Conflict("you cannot disable yourself or give up your own administrator role",
                       code="self-lockout")
    if details is not None and details.problems():
        raise Invalid("the change has problems; nothing was saved", details=details.problems())
    with db.write() as session:
        user = _existing_user(session, username)
        if details is not None:
            _apply_details(session, request, user, details)
        if active is not None:
            user.active = active
            if not active:
                revoke_sessions(session, user.id, request.now)
            record(session, request, EventKind.USER_CHANGED,
                   {"username": username, "active": active})
        if role is not None or teams is not None:
            before = user.role
            user.role = str(role or before)
            if teams is not None:
                session.execute(delete(Membership).where(Membership.user_id == user.id))
                _join_teams(session, user.id, teams)
            record(session, request, EventKind.ROLE_CHANGED, {
                "username": username, "from": before, "to": user.role,
                "teams": list(teams) if teams is not None else None})


MAX_DISPLAY_NAME = 200
MAX_EMAIL = 254


def is_display_name(value: object) -> bool:
    """What a person may be called: 1 to `MAX_DISPLAY_NAME` characters, not all blank
    (accounts, and the portal's contact)."""
    return isinstance(value, str) and 0 < len(value.strip()) and len(value) <= MAX_DISPLAY_NAME


def is_address(value: object) -> bool:
    """An e-mail address we can write to (accounts, and the portal's contact)."""
    return isinstance(value, str) and len(value) <= MAX_EMAIL and is_email(value.strip())


@dataclass(frozen=True)
class Details:
    """A change to what a user is called, where they are written to and in which
    language: each member None to keep it (`clear_email` removes the address)."""

    display_name: str | None = None
    email: str | None = None
    clear_email: bool = False
    language: str | None = None

    def problems(self) -> list[dict[str, Any]]:
        """Every problem with the change (located at its member)."""
        found = []
        if self.display_name is not None and not is_display_name(self.display_name):
            found.append({"field": "display_name", "code": "bad-length",
                          "message": f"a name has 1 to {MAX_DISPLAY_NAME} characters"})
        if self.email is not None and not is_address(self.email):
            found.append({"field": "email", "code": "bad-email",
                          "message": "this is not an e-mail address"})
        if self.language is not None and self.language not in LANGUAGES:
            found.append({"field": "language", "code": "not-allowed-value",
                          "message": f"the language is one of {', '.join(LANGUAGES)}"})
        return found


def change_details(db: Database, request: Request, username: str, details: Details) -> None:
    """Change a user's display name, e-mail address or language: one's own, or
    (administrators) anyone's. Recorded with the names of the members changed (the values
    are personal data the audit log need not keep)."""
    if not policy.can_manage_account(request.actor, username):
        raise NotFound(f"there is no user '{username}'")  # as `user_named` answers
    problems = details.problems()
    if problems:
        raise Invalid("the change has problems; nothing was saved", details=problems)
    with db.write() as session:
        _apply_details(session, request, _existing_user(session, username), details)


def _apply_details(session: Session, request: Request, user: User, details: Details) -> None:
    changed = []
    if details.display_name is not None:
        user.display_name = details.display_name.strip()
        changed.append("display_name")
    if details.email is not None or details.clear_email:
        user.email = details.email.strip() if details.email is not None else None
        changed.append("email")
    if details.language is not None:
        user.language = details.language
        changed.append("language")
    if changed:
        record(session, request, EventKind.USER_CHANGED,
               {"username": user.username, "changed": changed})


def set_active(db: Database, request: Request, username: str, active: bool) -> None:
    """Disable (or re-enable) a user."""
    change_user(db, request, username, active=active)


@dataclass(frozen=True)
class IssuedToken:
    id: int
    name: str
    token: str  # shown once; only its hash is kept
    expires_at: datetime | None



def create_token(db: Database, request: Request, name: str, *,
                 expires_at: datetime | None = None, for_user: str | None = None
                 ) -> IssuedToken:
    """A new API token for the actor (admins: for any user)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.write() as session:
        user_id = request.actor.user_id
        if for_user is not None and for_user != request.actor.username:
            if not policy.can_manage_users(request.actor):
                raise Forbidden("only administrators may create tokens for others")
            user = find_user(session, for_user)
            if user is None:
                raise NotFound(f"there is no user '{for_user}'")
            user_id = user.id
        row = ApiToken(user_id=user_id, name=name, prefix=token[:10],
                       token_hash=secret_digest(token), created_at=request.now,
                       expires_at=expires_at)
        session.add(row)
        session.flush()
        record(session, request, EventKind.TOKEN_CREATED, {"token": row.id, "name": name})
        return IssuedToken(row.id, name, token, expires_at)


class TokenStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class TokenInfo:
    """An API token as its owner and administrators see it: never the secret, only its
    first characters (`prefix`) to recognise it by."""

    id: int
    name: str
    prefix: str
    user: str
    status: TokenStatus
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None  # to within `TOKEN_USE_RESOLUTION`

    def to_dict(self) -> dict[str, Any]:
        def instant(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {"id": self.id, "name": self.name, "prefix": self.prefix, "user": self.user,
                "status": str(self.status), "created_at": instant(self.created_at),
                "expires_at": instant(self.expires_at),
                "revoked_at": instant(self.revoked_at),
                "last_used_at": instant(self.last_used_at)}


def _token_status(row: ApiToken, now: datetime) -> TokenStatus:
    if row.revoked_at is not None:
        return TokenStatus.REVOKED
    if row.expires_at is not None and row.expires_at <= now:
        return TokenStatus.EXPIRED
    return TokenStatus.ACTIVE


def list_tokens(db: Database, request: Request | None, username: str | None = None, *,
                now: datetime | None = None) -> list[TokenInfo]:
    """API tokens, newest first, revoked and expired ones included (at most
    `MAX_TOKENS_LISTED`): the actor's own, or `username`'s (administrators only; others
    get the same 404 as for a user that does not exist). Without a request (the operator
    at the command line), `username`'s or, with None, everyone's."""
    now = request.now if request is not None else now
    assert now is not None, "list_tokens needs the request or the time"
    with db.read() as session:
        query = (select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
                 .order_by(ApiToken.id.desc()).limit(MAX_TOKENS_LISTED))
        if request is not None and username is None:
            query = query.where(ApiToken.user_id == request.actor.user_id)
        elif username is not None:
            if request is not None and not policy.can_manage_account(request.actor, username):
                raise NotFound(f"there is no user '{username}'")
            query = query.where(User.id == _existing_user(session, username).id)
        return [TokenInfo(row.id, row.name, row.prefix, owner, _token_status(row, now),
                          row.created_at, row.expires_at, row.revoked_at, row.last_used_at)
                for row, owner in session.execute(query)]


def revoke_token(db: Database, request: Request, token_id: int) -> None:
    """Revoke a token of the actor's (administrators: anyone's); revoking a revoked token
    changes nothing."""
    with db.write() as session:
        row = session.get(ApiToken, token_id)
        if row is None or not policy.can_revoke_token(request.actor, row.user_id):
            raise NotFound("there is no such token")
        if row.revoked_at is None:
            row.revoked_at = request.now
            record(session, request, EventKind.TOKEN_REVOKED, {"token": token_id})


def user_for_token(db: Database, token: str, now: datetime) -> User | None:
    """The active user an unexpired, unrevoked token belongs to, or None."""
    caller = caller_for_token(db, token, now)
    if caller is None:
        return None
    with db.read() as session:
        return session.get(User, caller.actor.user_id)


LANGUAGES = ("en", "zh")


def set_language(db: Database, request: Request, language: str) -> None:
    """The actor's own UI language (also the language of definition labels they see)."""
    if language not in LANGUAGES:
        raise Invalid(f"the language must be one of {', '.join(LANGUAGES)}", details=[
            {"field": "language", "code": "not-an-option",
             "message": f"the language must be one of {', '.join(LANGUAGES)}"}])
    with db.write() as session:
        user = session.get(User, request.actor.user_id)
        assert user is not None  # the caller was loaded from this row
        if user.language != language:
            user.language = language
            record(session, request, EventKind.USER_CHANGED,
                   {"username": user.username, "language": language})
