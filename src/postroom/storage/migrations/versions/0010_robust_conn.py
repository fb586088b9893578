"""robust connections: receive and send health apart, POP3 LOGIN-DELAY, a mailbox warning,
after-import actions retried per email, and quarantine of emails that cannot be fetched

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("send_state", sa.String(length=20), nullable=False, server_default="new")
        )
        batch_op.add_column(sa.Column("send_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("send_error_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("send_success_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("login_delay", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("warning", sa.Text(), nullable=True))
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.alter_column("send_state", server_default=None)
    op.create_table(
        "pending_actions",
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("remote_key", sa.String(length=1000), nullable=False),
        sa.Column("action", sa.String(length=300), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name=op.f("fk_pending_actions_mailbox_id_mailboxes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_pending_actions_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_actions")),
        sa.UniqueConstraint("mailbox_id", "remote_key", name=op.f("uq_pending_actions_mailbox_id")),
    )
    with op.batch_alter_table("pending_actions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_actions_message_id"), ["message_id"], unique=False
        )
    op.create_table(
        "fetch_failures",
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("remote_key", sa.String(length=1000), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name=op.f("fk_fetch_failures_mailbox_id_mailboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fetch_failures")),
        sa.UniqueConstraint("mailbox_id", "remote_key", name=op.f("uq_fetch_failures_mailbox_id")),
    )


def downgrade() -> None:
    op.drop_table("fetch_failures")
    with op.batch_alter_table("pending_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_actions_message_id"))
    op.drop_table("pending_actions")
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        for column in (
            "warning",
            "login_delay",
            "send_success_at",
            "send_error_at",
            "send_error",
            "send_state",
            "last_error_at",
        ):
            batch_op.drop_column(column)
