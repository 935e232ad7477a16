"""Templates and configuration that travels: where a ticket type came from (template and
version), configuration documents (business calendars) by stable key, and the
fingerprint of a ticket's repeat-detection key with its index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("definitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin_template", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("origin_version", sa.Integer(), nullable=True))
    op.create_table(
        "config_documents",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", ID, nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"],
                                name=op.f("fk_config_documents_updated_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_documents")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_config_documents_kind")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repeat_key", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_tickets_repeat_key", ["repeat_key", "created_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_repeat_key")
        batch_op.drop_column("repeat_key")
    op.drop_table("config_documents")
    with op.batch_alter_table("definitions", schema=None) as batch_op:
        batch_op.drop_column("origin_version")
        batch_op.drop_column("origin_template")
