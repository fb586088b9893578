"""ops-send: provider sending limits per server and mailbox; push subscriptions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The documented limits of the known providers, for servers that already exist.
KNOWN = (
    ("smtp.office365.com", 30, 60, 10_000),
    ("graph.microsoft.com", 30, 60, 10_000),
    ("smtp.gmail.com", 2_000, 86_400, 10_000),
    ("gmail.googleapis.com", 2_000, 86_400, 10_000),
)


def upgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("send_rate", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("send_rate_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("recipients_per_day", sa.Integer(), nullable=True))
    with op.batch_alter_table("outbox_items") as batch:
        batch.add_column(sa.Column("wait_reason", sa.Text(), nullable=True))
    servers = sa.table(
        "servers",
        sa.column("host", sa.String),
        sa.column("send_rate", sa.Integer),
        sa.column("send_rate_seconds", sa.Integer),
        sa.column("recipients_per_day", sa.Integer),
    )
    for host, rate, seconds, recipients in KNOWN:
        op.execute(
            servers.update()
            .where(servers.c.host == host)
            .values(send_rate=rate, send_rate_seconds=seconds, recipients_per_day=recipients)
        )
    op.create_table(
        "send_limits",
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_count", sa.Integer(), nullable=False),
        sa.Column("day_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("day_recipients", sa.Integer(), nullable=False),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tight_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_throttle", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name=op.f("fk_send_limits_mailbox_id_mailboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_limits")),
        sa.UniqueConstraint("mailbox_id", name=op.f("uq_send_limits_mailbox_id")),
    )
    op.create_table(
        "push_subscriptions",
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name=op.f("fk_push_subscriptions_mailbox_id_mailboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscriptions")),
        sa.UniqueConstraint("mailbox_id", name=op.f("uq_push_subscriptions_mailbox_id")),
    )
    op.create_index(
        op.f("ix_push_subscriptions_external_id"),
        "push_subscriptions",
        ["external_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_push_subscriptions_external_id"), table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
    op.drop_table("send_limits")
    with op.batch_alter_table("outbox_items") as batch:
        batch.drop_column("wait_reason")
    with op.batch_alter_table("servers") as batch:
        batch.drop_column("recipients_per_day")
        batch.drop_column("send_rate_seconds")
        batch.drop_column("send_rate")
