"""Routing and SLA state: agents' skills, capacity, schedule and away flag; team leads
and round-robin pointers; each ticket's SLA clocks (the computed due instants with
their why) and the instants they depend on.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("skills", JSON, nullable=True))
        users.add_column(sa.Column("capacity", sa.Integer(), nullable=True))
        users.add_column(sa.Column("schedule", JSON, nullable=True))
        users.add_column(sa.Column("away", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("teams") as teams:
        teams.add_column(sa.Column("lead_id", ID, nullable=True))
        teams.create_foreign_key(op.f("fk_teams_lead_id_users"), "users", ["lead_id"], ["id"],
                                 ondelete="SET NULL")
    op.create_table(
        "team_rotations",
        sa.Column("team_id", ID, nullable=False),
        sa.Column("last_user_id", ID, nullable=True),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE",
                                name=op.f("fk_team_rotations_team_id_teams")),
        sa.ForeignKeyConstraint(["last_user_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_team_rotations_last_user_id_users")),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_team_rotations")),
    )
    with op.batch_alter_table("tickets") as tickets:
        tickets.add_column(sa.Column("first_response_at", INSTANT, nullable=True))
        tickets.add_column(sa.Column("customer_replied_at", INSTANT, nullable=True))
        tickets.add_column(sa.Column("responded_at", INSTANT, nullable=True))
        tickets.add_column(sa.Column("sla", JSON, nullable=True))
        tickets.add_column(sa.Column("sla_due_at", INSTANT, nullable=True))
        tickets.create_index("ix_tickets_sla_due_at", ["sla_due_at"])
        # Routing counts each candidate's open tickets: from the index alone, without
        # visiting the rows of their closed history.
        tickets.create_index("ix_tickets_assignee_open", ["assignee_id", "closed_at"])
        # The queue sorted by last change walks this backwards and stops after a page.
        tickets.create_index("ix_tickets_updated_at_id", ["updated_at", "id"])


def downgrade() -> None:
    with op.batch_alter_table("tickets") as tickets:
        tickets.drop_index("ix_tickets_updated_at_id")
        tickets.drop_index("ix_tickets_assignee_open")
        tickets.drop_index("ix_tickets_sla_due_at")
        for column in ("sla_due_at", "sla", "responded_at", "customer_replied_at",
                       "first_response_at"):
            tickets.drop_column(column)
    op.drop_table("team_rotations")
    with op.batch_alter_table("teams") as teams:
        teams.drop_constraint(op.f("fk_teams_lead_id_users"), type_="foreignkey")
        teams.drop_column("lead_id")
    with op.batch_alter_table("users") as users:
        for column in ("away", "schedule", "capacity", "skills"):
            users.drop_column(column)
