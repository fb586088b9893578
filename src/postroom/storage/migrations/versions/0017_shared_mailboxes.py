"""shared-mailboxes: how a mailbox is reached (own, shared app-only, shared via a delegate)
and how a delegate sends from it (send as, send on behalf)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailboxes") as batch:
        batch.add_column(
            sa.Column("access", sa.String(length=20), server_default="own", nullable=False)
        )
        batch.add_column(sa.Column("send_mode", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mailboxes") as batch:
        batch.drop_column("send_mode")
        batch.drop_column("access")
