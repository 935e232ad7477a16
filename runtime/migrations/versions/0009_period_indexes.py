"""Indexes for reports and exports over a period: tickets by when they were opened, and
closed tickets by when they closed.

Without them the supervisor's service levels read every stored ticket to find a month's:
about 0.25 s for the closed ones with 100,000 stored, and 25 ms to count the opened ones.
Only closed tickets enter the second index (a partial index), so opening a ticket adds
one entry, at the end of the first.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 07:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CLOSED = sa.text("closed_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_tickets_closed_at", ["closed_at"], unique=False,
                              sqlite_where=CLOSED, postgresql_where=CLOSED)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_closed_at")
        batch_op.drop_index("ix_tickets_created_at")
