"""ops-observe: metrics tokens, doctor notices, mailbox gaps

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metrics_tokens",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metrics_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_metrics_tokens_token_hash")),
    )
    op.create_table(
        "doctor_notices",
        sa.Column("finding", sa.String(length=300), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_doctor_notices")),
        sa.UniqueConstraint("finding", name=op.f("uq_doctor_notices_finding")),
    )
    op.create_table(
        "mailbox_gaps",
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("on_server", sa.Integer(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("missing_keys", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name=op.f("fk_mailbox_gaps_mailbox_id_mailboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailbox_gaps")),
        sa.UniqueConstraint("mailbox_id", name=op.f("uq_mailbox_gaps_mailbox_id")),
    )


def downgrade() -> None:
    op.drop_table("mailbox_gaps")
    op.drop_table("doctor_notices")
    op.drop_table("metrics_tokens")
