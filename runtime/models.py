"""Typed SQLAlchemy 2 models. Models are data: they never commit, read config or a clock.

Conventions: every instant is stored in UTC (`UtcDateTime`); JSON is JSONB on
PostgreSQL; ids are integers; stable keys (team keys, ticket-type keys, user names)
are what travels between installations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")
IdType = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    # SQLite keeps instants as text. SQLAlchemy gets there in two steps (this decorator,
    # then the dialect's formatting with a %-template and parsing with a regex); every
    # ticket created binds about twenty instants, so on SQLite one step each way does it,
    # with the very same text: `YYYY-MM-DD HH:MM:SS.ffffff`, naive UTC.

    def bind_processor(self, dialect: Any) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        return _sqlite_text

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def from_text(value: str | datetime | None) -> datetime | None:
            if value is None:
                return None
            found = datetime.fromisoformat(value) if isinstance(value, str) else value
            return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)

        return from_text


# The instant bound last on SQLite, with its text: creating a ticket binds the request's
# `now` about a dozen times, in many columns. One tuple swapped whole, so a thread never
# sees a half-written pair; it holds the datetime itself, so its identity is never reused.
_last_bound: tuple[datetime | None, str] = (None, "")


def _sqlite_text(value: datetime | None) -> str | None:
    """An aware instant as SQLite keeps it: naive UTC text (see `UtcDateTime`)."""
    global _last_bound
    if value is None:
        return None
    seen = _last_bound
    if value is seen[0]:
        return seen[1]
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    _last_bound = (value, text)
    return text


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Role(StrEnum):
    """Account roles. Agents and supervisors act within their teams."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    REQUESTER = "requester"


class VersionStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class EventKind(StrEnum):
    """What an event records. Ticket events and admin events share one append-only table."""

    CREATED = "created"
    TRANSITIONED = "transitioned"
    UPDATED = "updated"
    COMMENTED = "commented"
    ATTACHED = "attached"
    CLAIMED = "claimed"
    TRANSFERRED = "transferred"
    ASSIGNED = "assigned"
    REOPENED = "reopened"
    CLOSED = "closed"
    SURVEY_ANSWERED = "survey_answered"
    DEFINITION_SAVED = "definition_saved"
    DEFINITION_PUBLISHED = "definition_published"
    DEFINITION_DRAFT_DISCARDED = "definition_draft_discarded"
    USER_CREATED = "user_created"
    USER_CHANGED = "user_changed"
    ROLE_CHANGED = "role_changed"
    TEAM_CHANGED = "team_changed"
    AGENT_CHANGED = "agent_changed"
    CALENDAR_SAVED = "calendar_saved"
    TOKEN_CREATED = "token_created"
    TOKEN_REVOKED = "token_revoked"
    LOGIN = "login"
    LOGOUT = "logout"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET_REQUESTED = "password_reset_requested"
    PASSWORD_RESET = "password_reset"
    DATA_EXPORTED = "data_exported"
    TEMPLATE_INSTALLED = "template_installed"
    TEMPLATE_UPGRADED = "template_upgraded"
    TEMPLATE_CLONED = "template_cloned"
    DEFINITIONS_EXPORTED = "definitions_exported"
    DEFINITIONS_IMPORTED = "definitions_imported"
    # The scheduler and the notifications (see runtime/services/timers.py and notify.py).
    TIMER_FIRED = "timer_fired"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    ESCALATED = "escalated"
    WEBHOOK_CREATED = "webhook_created"
    WEBHOOK_DELETED = "webhook_deleted"
    DELIVERY_RETRIED = "delivery_retried"


class ConfigKind(StrEnum):
    """Kinds of configuration documents kept by stable key (exported and imported with
    the definitions that refer to them)."""

    CALENDAR = "calendar"


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Told when a ticket waits in the team queue because nobody qualifies.
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL",
                                                           use_alter=True))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(8), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Routing: skill tags, the most open tickets the agent takes (None: no limit), the
    # working schedule (engine.calendar_compile.compile_schedule's document, leave
    # included; None: always on shift) and the agent's own "away" switch.
    skills: Mapped[list[str] | None] = mapped_column(JsonType)
    capacity: Mapped[int | None] = mapped_column(Integer)
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    away: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    teams: Mapped[list[Team]] = relationship(secondary="memberships", lazy="selectin")


class Membership(Base):
    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"),
                                         primary_key=True)


class UserSession(Base):
    """A browser login. Logging out, disabling the user or changing the password revokes
    rows here, so a replayed old cookie finds its session gone."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # When a request last came with it, to the nearest `accounts.TOKEN_USE_RESOLUTION`:
    # what tells an administrator which tokens are stale and safe to revoke.
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class PasswordReset(Base):
    """A forgotten password's way back: asked for by user name or e-mail address, its
    one-time link issued when the e-mail goes out (only the link's hash is kept), usable
    once within `expires_at`. Issuing a link ends the user's other links (`ended_at`)."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    requested_from: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LoginThrottle(Base):
    """Failed login attempts per key (user name or address) in the current window."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0)


class Definition(Base):
    """A ticket type, by its stable key; its content lives in versions."""

    __tablename__ = "definitions"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    number_prefix: Mapped[str] = mapped_column(String(10))
    next_number: Mapped[int] = mapped_column(BigInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The bundled template (and its version) this type was installed or cloned from.
    origin_template: Mapped[str | None] = mapped_column(String(64))
    origin_version: Mapped[int | None] = mapped_column(Integer)

    versions: Mapped[list[DefinitionVersion]] = relationship(
        back_populates="definition", order_by="DefinitionVersion.version"
    )


class DefinitionVersion(Base):
    """One version of a definition's source. Published versions never change."""

    __tablename__ = "definition_versions"
    __table_args__ = (UniqueConstraint("definition_id", "version"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(Text)
    source_format: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    definition: Mapped[Definition] = relationship(back_populates="versions")


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_type_state_id", "ticket_type", "state", "id"),
        Index("ix_tickets_team_id", "team_id", "id"),
        Index("ix_tickets_assignee_id", "assignee_id", "id"),
        Index("ix_tickets_assignee_open", "assignee_id", "closed_at"),
        Index("ix_tickets_updated_at_id", "updated_at", "id"),
        # The board: one type's tickets, last changed first, read until a page is full.
        Index("ix_tickets_type_updated_id", "ticket_type", "updated_at", "id"),
        Index("ix_tickets_requester_id", "requester_id", "id"),
        # Repeat detection: earlier tickets with the same key values, within a window.
        Index("ix_tickets_repeat_key", "repeat_key", "created_at"),
        # Reports and exports over a period: tickets opened in it, tickets closed in it
        # (only closed ones are in that index, so opening a ticket does not touch it).
        Index("ix_tickets_created_at", "created_at"),
        Index("ix_tickets_closed_at", "closed_at",
              sqlite_where=text("closed_at IS NOT NULL"),
              postgresql_where=text("closed_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    ticket_type: Mapped[str] = mapped_column(String(64))
    definition_version_id: Mapped[int] = mapped_column(ForeignKey("definition_versions.id"))
    state: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column(JsonType)
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    # SLA: when staff first answered, the customer's latest reply and the staff's latest
    # response (a reply after the response starts the next-response clock), the
    # computed clocks (due instants with their why) and the earliest breach instant
    # still to come (what breach views sort and filter on).
    first_response_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    customer_replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    sla: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    sla_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    # Fingerprint of the key values of a type's `duplicate_check` (engine.duplicates).
    repeat_key: Mapped[str | None] = mapped_column(String(64))

    __mapper_args__ = {"version_id_col": version}


class TeamRotation(Base):
    """A team's round-robin pointer, kept in the database so that restarts and several
    processes continue one rotation (updated in the assigning ticket's transaction)."""

    __tablename__ = "team_rotations"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"),
                                         primary_key=True)
    last_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Event(Base):
    """Append-only: the table refuses UPDATE and DELETE (a trigger on both databases)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_ticket_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    client_address: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JsonType)


class ConfigDocument(Base):
    """A configuration document (e.g. a business calendar) by kind and stable key, kept as
    the text an admin wrote or imported."""

    __tablename__ = "config_documents"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Todo(Base):
    """Something a user should look at, e.g. an @mention."""

    __tablename__ = "todos"
    __table_args__ = (Index("ix_todos_user_open", "user_id", "done_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    kind: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Attachment(Base):
    """A file attached to a ticket. The bytes live outside the database, by content hash."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255))
    original_name: Mapped[str] = mapped_column(String(255))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Survey(Base):
    """The satisfaction survey sent on close; answered once through a secret link."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    csat: Mapped[int | None] = mapped_column(Integer)
    nps: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)


class PortalLink(Base):
    """A secret link that lets a customer follow one ticket without an account. Only the
    hash of the link's secret is kept; revoking a link sets `revoked_at`."""

    __tablename__ = "portal_links"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


# --- the scheduler and the notification outbox -----------------------------------------


class TimerKind(StrEnum):
    """What a timer does when it comes due; each kind has one handler
    (`runtime.services.timers.handler`). The SLA kinds are fired by handlers the SLA
    module registers."""

    REMIND = "remind"
    NOTIFY = "notify"
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    ESCALATION = "escalation"
    SLA_STUCK = "sla_stuck"  # in one state longer than an escalation step allows


class TimerState(StrEnum):
    PENDING = "pending"
    LEASED = "leased"  # claimed by a worker until lease_expires_at
    FIRED = "fired"  # terminal: a fired key is never re-armed
    CANCELLED = "cancelled"
    FAILED = "failed"  # its handler failed on every attempt; kept for the administrators


class Channel(StrEnum):
    INBOX = "inbox"
    EMAIL = "email"
    WEBHOOK = "webhook"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a worker until lease_expires_at
    SENT = "sent"
    FAILED = "failed"  # the last attempt failed; retried at next_attempt_at
    DEAD = "dead"  # given up (too many failures, or refused for good); an admin may retry


class NoticeKind(StrEnum):
    """What a notification (inbox entry, e-mail) tells its reader; each has a title and
    a text in every UI language (runtime/delivery/messages.py)."""

    MENTION = "mention"
    ASSIGNED = "assigned"  # a ticket was passed to you
    TEAM_ASSIGNED = "team_assigned"  # a ticket was passed to your team
    ROUTED = "routed"  # the assignment rules gave you a new ticket
    QUEUED = "queued"  # to a team lead: nobody qualified, the ticket waits in the queue
    POOL = "pool"  # to a team: a new ticket in the claim pool, first claim wins
    REPLY = "reply"  # to the requester: staff answered on their ticket
    CLOSED = "closed"  # to the requester, with the survey link
    REMINDER = "reminder"
    NOTICE = "notice"  # free text, e.g. from a `notify` timer
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    ESCALATION = "escalation"
    PASSWORD_RESET = "password_reset"  # e-mail only: the link to choose a new password


class WebhookFormat(StrEnum):
    GENERIC = "generic"
    DINGTALK = "dingtalk"
    WECOM = "wecom"
    FEISHU = "feishu"


class Timer(Base):
    """A due instant. `key` names the firing (e.g. `sla:REP-000123:resolution:breach:v3`):
    unique, so the same firing can never be scheduled, or fire, twice."""

    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timers_state_due_at", "state", "due_at"),
        Index("ix_timers_state_lease", "state", "lease_expires_at"),
        Index("ix_timers_ticket_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    state: Mapped[str] = mapped_column(String(16))
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OutboxMessage(Base):
    """A message to deliver, written in the transaction of the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_outbox_state_lease", "state", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    language: Mapped[str] = mapped_column(String(8), default="en")
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    caused_by: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Notification(Base):
    """An entry in a user's in-app inbox."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Webhook(Base):
    """A subscription: ticket events go to `url` in `format`. The secret signs every
    delivery; the API shows it once, when the webhook is created."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str | None] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(16))
    events: Mapped[list[str]] = mapped_column(JsonType)  # event kinds; empty: every kind
    language: Mapped[str] = mapped_column(String(8), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
