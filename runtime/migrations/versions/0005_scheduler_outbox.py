"""The scheduler and the notification outbox: timers (due instants claimed by workers
under a lease), the outbox (messages written with the change that caused them), the
in-app inbox (notifications) and webhook subscriptions. Events stay append-only (0001's
triggers are untouched).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 04:55:17.602208
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _instant(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        _instant("created_at", nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_webhooks_created_by_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
        sa.UniqueConstraint("name", name=op.f("uq_webhooks_name")),
    )
    op.create_table(
        "timers",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        _instant("due_at", nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        _instant("lease_expires_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        _instant("fired_at"),
        _instant("created_at", nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_timers_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timers")),
        sa.UniqueConstraint("key", name=op.f("uq_timers_key")),
    )
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.create_index("ix_timers_state_due_at", ["state", "due_at"], unique=False)
        batch_op.create_index("ix_timers_state_lease", ["state", "lease_expires_at"],
                              unique=False)
        batch_op.create_index("ix_timers_ticket_id", ["ticket_id"], unique=False)

    op.create_table(
        "notifications",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=True),
        sa.Column("event_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("data", JSON, nullable=False),
        _instant("created_at", nullable=False),
        _instant("read_at"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"],
                                name=op.f("fk_notifications_event_id_events")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_notifications_ticket_id_tickets")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_notifications_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_user_id", ["user_id", "id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _instant("next_attempt_at", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        _instant("lease_expires_at"),
        sa.Column("ticket_id", ID, nullable=True),
        sa.Column("caused_by", ID, nullable=True),
        _instant("created_at", nullable=False),
        _instant("sent_at"),
        sa.ForeignKeyConstraint(["caused_by"], ["events.id"],
                                name=op.f("fk_outbox_caused_by_events")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_outbox_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_state_lease", ["state", "lease_expires_at"],
                              unique=False)
        batch_op.create_index("ix_outbox_state_next_attempt_at", ["state", "next_attempt_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_state_next_attempt_at")
        batch_op.drop_index("ix_outbox_state_lease")
    op.drop_table("outbox")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_id")
    op.drop_table("notifications")
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index("ix_timers_ticket_id")
        batch_op.drop_index("ix_timers_state_lease")
        batch_op.drop_index("ix_timers_state_due_at")
    op.drop_table("timers")
    op.drop_table("webhooks")
