"""Agents as routing sees them: skill tags, capacity, working schedule (shifts, time
zone, leave) and an "away" switch; team leads. Assignment reads these through
`candidates`; people change them here.

Who may change what (runtime.policy): an administrator anyone's; a supervisor the
agents of their teams; an agent only their own away switch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.calendar import AgentSchedule
from engine.calendar_compile import compile_schedule
from engine.errors import DefinitionError
from runtime import policy
from runtime.context import Request
from runtime.db import Database
from runtime.models import EventKind, Role, Team, User
from runtime.services.errors import Forbidden, Invalid, NotFound
from runtime.services.events import record

SKILL = re.compile(r"[^\s,]{1,64}")
MAX_SKILLS = 50
MAX_CAPACITY = 10_000
UNSET: Any = object()  # "leave as it is", distinct from None ("clear it")


@dataclass(frozen=True)
class AgentProfile:
    """What routing knows about one agent."""

    username: str
    role: str
    teams: list[str]
    skills: list[str]
    capacity: int | None
    schedule: dict[str, Any] | None
    away: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _profile(user: User) -> AgentProfile:
    return AgentProfile(user.username, user.role, sorted(team.key for team in user.teams),
                        list(user.skills or ()), user.capacity, user.schedule, user.away)


def _staff_member(session: Session, request: Request, username: str) -> User:
    """The agent or supervisor `username`, if the actor may see them (404 otherwise)."""
    user = session.scalar(select(User).where(User.username == username))
    if (user is None or user.role not in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
            or not policy.can_list_users(request.actor)):
        raise NotFound(f"there is no agent '{username}'")
    return user


def profile(db: Database, request: Request, username: str) -> AgentProfile:
    """One agent's routing profile (staff only)."""
    with db.read() as session:
        return _profile(_staff_member(session, request, username))


def check_skills(skills: Any) -> list[str]:
    """Skill tags, each a word without spaces or commas, duplicates dropped in order."""
    if not isinstance(skills, list) or len(skills) > MAX_SKILLS or not all(
            isinstance(skill, str) and SKILL.fullmatch(skill) for skill in skills):
        raise Invalid("skills are a list of at most 50 tags without spaces or commas",
                      details=[{"field": "skills", "code": "bad-skills",
                                "message": "each skill is 1 to 64 characters, no spaces "
                                           "or commas"}])
    return list(dict.fromkeys(skills))


def check_capacity(capacity: Any) -> int | None:
    """The most open tickets an agent takes; None means no limit."""
    if capacity is not None and (not isinstance(capacity, int) or isinstance(capacity, bool)
                                 or not 0 <= capacity <= MAX_CAPACITY):
        raise Invalid("capacity is a whole number of open tickets from 0 up, or null",
                      details=[{"field": "capacity", "code": "bad-capacity",
                                "message": f"between 0 and {MAX_CAPACITY}, or null"}])
    return capacity


def check_schedule(schedule: Any) -> dict[str, Any] | None:
    """A schedule document the engine compiles (every problem listed), or None."""
    if schedule is None:
        return None
    try:
        compile_schedule(schedule)
    except DefinitionError as error:
        raise Invalid("the schedule has problems; nothing was changed",
                      details=[{"field": "schedule", **issue.to_dict()}
                               for issue in error.issues]) from None
    return dict(schedule)


def set_profile(db: Database, request: Request, username: str, *, skills: Any = UNSET,
                capacity: Any = UNSET, schedule: Any = UNSET, away: Any = UNSET
                ) -> AgentProfile:
    """Change an agent's routing profile; only the parts given change, all or none."""
    changes: dict[str, Any] = {}
    if skills is not UNSET:
        changes["skills"] = check_skills(skills)
    if capacity is not UNSET:
        changes["capacity"] = check_capacity(capacity)
    if schedule is not UNSET:
        changes["schedule"] = check_schedule(schedule)
    if away is not UNSET:
        if not isinstance(away, bool):
            raise Invalid("away is true or false")
        changes["away"] = away
    with db.write() as session:
        user = _staff_member(session, request, username)
        team_ids = frozenset(team.id for team in user.teams)
        only_away = set(changes) <= {"away"}
        if not (policy.can_manage_agent(request.actor, team_ids)
                or (only_away and user.id == request.actor.user_id)):
            raise Forbidden(f"you may not change {username}'s routing profile")
        for name, value in changes.items():
            setattr(user, name, value)
        record(session, request, EventKind.AGENT_CHANGED,
               {"username": username, "changed": sorted(changes)})
        return _profile(user)


def set_team_lead(db: Database, request: Request, team_key: str, username: str | None
                  ) -> None:
    """Name the member who is told when a ticket waits in the team's queue (None: nobody)."""
    if not policy.can_manage_users(request.actor):
        raise Forbidden("only administrators may name team leads")
    with db.write() as session:
        team = session.scalar(select(Team).where(Team.key == team_key))
        if team is None:
            raise NotFound(f"there is no team '{team_key}'")
        lead = None
        if username is not None:
            lead = session.scalar(select(User).where(User.username == username))
            if lead is None or team not in lead.teams:
                raise Invalid(f"'{username}' is not a member of team '{team_key}'",
                              details=[{"field": "lead", "code": "not-a-member",
                                        "message": "a team lead is one of its members"}])
        team.lead_id = lead.id if lead else None
        record(session, request, EventKind.TEAM_CHANGED, {"team": team_key, "lead": username})


def compiled_schedule(schedule: Mapping[str, Any] | None) -> AgentSchedule | None:
    """The engine's schedule for a stored document (None: the agent has no schedule and
    counts as always on shift). Stored documents were checked when they were saved."""
    if schedule is None:
        return None
    return _compile_schedule_text(json.dumps(schedule, sort_keys=True, ensure_ascii=False))


@lru_cache(maxsize=1024)
def _compile_schedule_text(text: str) -> AgentSchedule:
    # Routing looks at every candidate for every new ticket: compile each distinct
    # schedule once per process (it is derived data; the row stays the truth).
    return compile_schedule(json.loads(text))
