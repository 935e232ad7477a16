"""Portal links: a secret link per ticket that lets a customer follow it without an
account (only the hash of the secret is stored).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 05:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
# The lead re-chains this after 0002 (another branch) is merged.
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_portal_links_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_links_token_hash")),
    )
    with op.batch_alter_table("portal_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_links_ticket_id"), ["ticket_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("portal_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_links_ticket_id"))
    op.drop_table("portal_links")
