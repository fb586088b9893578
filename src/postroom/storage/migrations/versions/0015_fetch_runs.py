"""fetch runs (Fetch now, failed fetches) and messages a day: the health chart

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fetch_runs",
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=320), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name=op.f("fk_fetch_runs_mailbox_id_mailboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fetch_runs")),
    )
    op.create_index("ix_fetch_runs_mailbox_state", "fetch_runs", ["mailbox_id", "state"])
    # The health chart counts a mailbox's messages a day: a range of one mailbox's rows.
    op.create_index("ix_messages_mailbox_received", "messages", ["mailbox_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_mailbox_received", table_name="messages")
    op.drop_index("ix_fetch_runs_mailbox_state", table_name="fetch_runs")
    op.drop_table("fetch_runs")
