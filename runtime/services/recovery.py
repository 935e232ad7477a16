"""Forgotten passwords: a one-time link by e-mail, and an administrator's reset.

Anyone may ask, by user name or e-mail address. The answer never says whether an account
matched (nobody can probe for accounts with it), and asking is throttled per name and per
address, as logging in is. For each matching account — active, with a password (portal
guests have none and never log in) and an e-mail address — an e-mail is queued. Its link
is issued when the worker sends it, as survey links are, so the outbox never holds a
usable secret; only the link's hash is stored. A link works once, for `LINK_LIFETIME`;
issuing one ends the user's earlier links. Choosing the new password ends every session
of the user (and any failed-login lock) and logs this browser in.

An administrator may also set a password outright (the operator too, from the command
line): the same ending of sessions and links, recorded as done by them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from runtime import policy
from runtime.context import Actor, Request
from runtime.db import Database
from runtime.hashing import secret_digest
from runtime.models import (
    Channel,
    EventKind,
    LoginThrottle,
    NoticeKind,
    PasswordReset,
    Role,
    User,
    UserSession,
)
from runtime.services import accounts, notify
from runtime.services.errors import Forbidden, NotFound, TooManyRequests
from runtime.services.events import record

LINK_LIFETIME = timedelta(hours=1)
# One e-mail address may belong to several accounts (a person with a staff and a
# customer account): each gets its own e-mail, up to this many.
MAX_ACCOUNTS_PER_ADDRESS = 5
MAX_IDENTIFIER = 254
# Who asks for a reset is not logged in: events name nobody, only the address.
_SOMEONE = Actor(0, "", Role.REQUESTER)


@dataclass(frozen=True)
class ResetLink:
    """What the page of a live link shows: whose password it changes."""

    username: str
    display_name: str



def request_reset(db: Database, identifier: str, *, now: datetime,
                  address: str | None) -> None:
    """Queue a reset e-mail for each account `identifier` (a user name or an e-mail
    address) names; nothing at all for one it does not. The same answer either way,
    except `TooManyRequests` once the name or the address asked too often."""
    wanted = identifier.strip()[:MAX_IDENTIFIER]
    keys = [accounts.throttle_key("reset", wanted)] + (
        [accounts.throttle_key("reset-addr", address)] if address else [])
    with db.write() as session:
        if accounts.throttled(session, keys, now):
            raise TooManyRequests("too many requests; wait a few minutes and try again",
                                  code="reset-throttled")
        accounts.count_attempt(session, keys, now)
        for user in _accounts_named(session, wanted):
            reset = PasswordReset(user_id=user.id, requested_at=now, requested_from=address)
            session.add(reset)
            session.flush()
            assert user.email is not None  # _accounts_named only finds addressable ones
            notify.enqueue(session, channel=Channel.EMAIL, recipient=user.email, payload={
                "kind": str(NoticeKind.PASSWORD_RESET), "params": {"username": user.username},
                "reset": reset.id}, now=now, language=user.language)
            record(session, Request(_SOMEONE, now, address), EventKind.PASSWORD_RESET_REQUESTED,
                   {"username": user.username})


def _accounts_named(session: Session, wanted: str) -> list[User]:
    if not wanted:
        return []
    return list(session.scalars(
        select(User).where(or_(User.username == wanted,
                               func.lower(User.email) == wanted.lower()),
                           User.active.is_(True), User.password_hash.is_not(None),
                           User.email.is_not(None))
        .order_by(User.id).limit(MAX_ACCOUNTS_PER_ADDRESS)))


def issue_link(db: Database, reset_id: int, now: datetime) -> str | None:
    """The secret of a reset's link, issued as its e-mail goes out (again at a retry:
    the earlier one stops working). None when the reset was used or ended meanwhile, or
    the account was disabled: the e-mail must not go."""
    with db.write() as session:
        reset = session.get(PasswordReset, reset_id)
        if reset is None or reset.used_at is not None or reset.ended_at is not None:
            return None
        user = session.get(User, reset.user_id)
        if user is None or not user.active or user.password_hash is None:
            return None
        _end_links(session, user.id, now, keep=reset.id)
        token = secrets.token_urlsafe(32)
        reset.token_hash = secret_digest(token)
        reset.issued_at, reset.expires_at = now, now + LINK_LIFETIME
        return token


def _end_links(session: Session, user_id: int, now: datetime, keep: int | None = None) -> None:
    ended = update(PasswordReset).where(PasswordReset.user_id == user_id,
                                        PasswordReset.used_at.is_(None),
                                        PasswordReset.ended_at.is_(None))
    if keep is not None:
        ended = ended.where(PasswordReset.id != keep)
    session.execute(ended.values(ended_at=now))


def _live(session: Session, token: str, now: datetime) -> tuple[PasswordReset, User]:
    found = session.execute(
        select(PasswordReset, User).join(User, User.id == PasswordReset.user_id)
        .where(PasswordReset.token_hash == secret_digest(token))).first()
    if found is not None:
        reset, user = found
        if (reset.used_at is None and reset.ended_at is None and reset.expires_at is not None
                and now < reset.expires_at and user.active):
            return reset, user
    # Unknown, used, ended, expired: one answer, which says what to do.
    raise NotFound("this link has expired or was already used; ask for a new one",
                   code="reset-link-invalid")


def link(db: Database, token: str, now: datetime) -> ResetLink:
    """Whose password a live link changes (`NotFound` for any other link)."""
    with db.read() as session:
        _reset, user = _live(session, token, now)
        return ResetLink(user.username, user.display_name)


def reset_with_link(db: Database, token: str, new_password: str, *, now: datetime,
                    address: str | None) -> accounts.Login:
    """Choose the new password through a live link: every session of the user ends, and
    a new one opens for this browser."""
    accounts.check_new_password(new_password)
    with db.write() as session:
        reset, user = _live(session, token, now)
        reset.used_at = now
        _set_password(session, user, new_password, now)
        session_id = secrets.token_urlsafe(32)
        session.add(UserSession(id=session_id, user_id=user.id, created_at=now))
        record(session, Request(accounts.actor_for(user), now, address),
               EventKind.PASSWORD_RESET, {"username": user.username, "via": "link"})
        return accounts.Login(user.id, session_id)


def set_password(db: Database, request: Request, username: str, new_password: str) -> None:
    """An administrator sets a user's password: their sessions and reset links end."""
    if not policy.can_manage_users(request.actor):
        raise Forbidden("only administrators may set other people's passwords")
    accounts.check_new_password(new_password)
    with db.write() as session:
        user = accounts.find_user(session, username)
        if user is None:
            raise NotFound(f"there is no user '{username}'")
        _set_password(session, user, new_password, request.now)
        record(session, request, EventKind.PASSWORD_RESET,
               {"username": user.username, "via": "administrator"})


def _set_password(session: Session, user: User, new_password: str, now: datetime) -> None:
    user.password_hash = accounts.hash_password(new_password)
    _end_links(session, user.id, now)
    accounts.revoke_sessions(session, user.id, now)
    # Locked out by failed logins? The new password opens the door again.
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.key == accounts.login_key(user.username)))
