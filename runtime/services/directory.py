"""Read-only account queries: who am I, the users and the teams, as each caller may see
them (the policy decides; rows never leave with their password hashes)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, or_, select

from runtime import policy
from runtime.context import Request
from runtime.db import Database
from runtime.models import Membership, Role, Team, User
from runtime.services.errors import Forbidden, NotFound

MAX_LISTED = 1000


@dataclass(frozen=True)
class UserInfo:
    username: str
    display_name: str
    role: str
    email: str | None
    language: str
    active: bool
    teams: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TeamInfo:
    key: str
    name: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def user_info(user: User) -> UserInfo:
    """A user row as the API shows it (never the password hash)."""
    return UserInfo(user.username, user.display_name, user.role, user.email, user.language,
                    user.active, sorted(team.key for team in user.teams))


def team_info(team: Team) -> TeamInfo:
    """A team row as the API shows it."""
    return TeamInfo(team.key, team.name)


def me(db: Database, request: Request) -> UserInfo:
    """The calling user."""
    with db.read() as session:
        user = session.get(User, request.actor.user_id)
        assert user is not None  # the identity was loaded from this row a moment ago
        return user_info(user)


def user_named(db: Database, request: Request, username: str) -> UserInfo:
    """One user, for an administrator (others: as if it did not exist)."""
    if not policy.can_manage_users(request.actor):
        raise NotFound(f"there is no user '{username}'")
    with db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"there is no user '{username}'")
        return user_info(user)


def list_users(db: Database, request: Request) -> list[UserInfo]:
    """Admins see everyone; agents and supervisors see the staff (to transfer, mention
    and filter by assignee); requesters see nobody."""
    if not policy.can_list_users(request.actor):
        raise Forbidden("only staff may list users")
    query = select(User).order_by(User.username).limit(MAX_LISTED)
    if not policy.sees_every_user(request.actor):
        query = query.where(User.role != str(Role.REQUESTER), User.active)
    with db.read() as session:
        return [user_info(user) for user in session.scalars(query)]


def team_names(db: Database) -> dict[str, str]:
    """Every team's name by key, for pages that name a ticket's team (its key is what
    events and views carry). Not a listing: only keys a reader was already shown are
    looked up in it."""
    with db.read() as session:
        return {key: name for key, name in session.execute(select(Team.key, Team.name))}


def display_names(db: Database, usernames: Iterable[str] | None = None) -> dict[str, str]:
    """Display names by user name, for pages that name people (events and views carry
    user names): those of `usernames`, or of every member of staff when None. Like
    `team_names`, not a listing: only names a reader was already shown are looked up."""
    query = select(User.username, User.display_name)
    query = (query.where(User.role != str(Role.REQUESTER)) if usernames is None
             else query.where(User.username.in_(list(usernames))))
    with db.read() as session:
        return {username: shown or username for username, shown in session.execute(query)}


def list_teams(db: Database, request: Request) -> list[TeamInfo]:
    """The teams, for staff (requesters never route tickets)."""
    if not policy.can_list_teams(request.actor):
        raise Forbidden("only staff may list teams")
    with db.read() as session:
        return [team_info(team) for team in
                session.scalars(select(Team).order_by(Team.key).limit(MAX_LISTED))]


@dataclass(frozen=True)
class UserPage:
    items: list[UserInfo]
    next_after: str | None  # the page's last user name, when more follow


def find_users(db: Database, request: Request, *, text: str | None = None,
               role: Role | None = None, after: str | None = None,
               limit: int = 50) -> UserPage:
    """Users for an administrator, by user name (keyset: after the user name `after`):
    those whose user name, display name or address contains `text` (in any case), of
    `role` when given."""
    if not policy.can_manage_users(request.actor):
        raise Forbidden("only administrators may look users up")
    query = select(User).order_by(User.username)
    if text:
        wanted = text.lower()
        query = query.where(or_(*(func.lower(column).contains(wanted, autoescape=True)
                                  for column in (User.username, User.display_name,
                                                 User.email))))
    if role is not None:
        query = query.where(User.role == str(role))
    if after is not None:
        query = query.where(User.username > after)
    with db.read() as session:
        rows = [user_info(user) for user in session.scalars(query.limit(limit + 1))]
    more = len(rows) > limit
    return UserPage(rows[:limit], rows[limit - 1].username if more else None)


@dataclass(frozen=True)
class TeamOverview:
    key: str
    name: str
    lead: str | None
    members: int


def team_overview(db: Database, request: Request) -> list[TeamOverview]:
    """Every team with its lead's user name and how many people belong to it
    (administrators)."""
    if not policy.can_manage_users(request.actor):
        raise Forbidden("only administrators may manage teams")
    members = (select(func.count()).where(Membership.team_id == Team.id)
               .correlate(Team).scalar_subquery())
    lead = select(User.username).where(User.id == Team.lead_id).correlate(Team).scalar_subquery()
    with db.read() as session:
        return [TeamOverview(key, name, lead_name, count) for key, name, lead_name, count in
                session.execute(select(Team.key, Team.name, lead, members)
                                .order_by(Team.key).limit(MAX_LISTED))]
