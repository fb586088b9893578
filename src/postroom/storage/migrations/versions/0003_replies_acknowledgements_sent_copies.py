"""replies, acknowledgements and Sent-folder copies

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflows") as batch:
        batch.add_column(sa.Column("acknowledgement_subject", sa.Text(), nullable=True))
        batch.add_column(sa.Column("acknowledgement_body", sa.Text(), nullable=True))
    with op.batch_alter_table("mailboxes") as batch:
        batch.add_column(sa.Column("sent_folder", sa.String(length=500), nullable=True))
    with op.batch_alter_table("outbox_items") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=20), nullable=False, server_default="email")
        )
        batch.add_column(sa.Column("sent_copy", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("sent_copy_error", sa.Text(), nullable=True))
        batch.create_index("ix_outbox_items_sent_copy", ["sent_copy"])
    with op.batch_alter_table("outbox_recipients") as batch:
        batch.create_index("ix_outbox_recipients_address", ["address"])


def downgrade() -> None:
    with op.batch_alter_table("outbox_recipients") as batch:
        batch.drop_index("ix_outbox_recipients_address")
    with op.batch_alter_table("outbox_items") as batch:
        batch.drop_index("ix_outbox_items_sent_copy")
        batch.drop_column("sent_copy_error")
        batch.drop_column("sent_copy")
        batch.drop_column("kind")
    with op.batch_alter_table("mailboxes") as batch:
        batch.drop_column("sent_folder")
    with op.batch_alter_table("workflows") as batch:
        batch.drop_column("acknowledgement_body")
        batch.drop_column("acknowledgement_subject")
