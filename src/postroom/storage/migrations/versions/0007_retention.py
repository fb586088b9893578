"""retention of held mail: how many days each held reason is kept

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_settings",
        sa.Column("reason", sa.String(length=50), nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(length=320), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_settings")),
        sa.UniqueConstraint("reason", name=op.f("uq_retention_settings_reason")),
    )
    # Purging finds old held mail by reason and age; without this it would scan every message.
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_held_retention", ["status", "held_reason", "received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_held_retention")
    op.drop_table("retention_settings")
