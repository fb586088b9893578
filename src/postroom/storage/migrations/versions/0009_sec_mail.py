"""sec-mail: idempotency keys scoped to who used them; same-domain threading per workflow

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Keys used before this revision keep no scope: no caller's key matches them any more.
    with op.batch_alter_table("outbox_items") as batch:
        batch.add_column(sa.Column("idempotency_scope", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("idempotency_digest", sa.String(length=64), nullable=True))
        batch.drop_constraint("uq_outbox_items_idempotency_key", type_="unique")
        batch.create_unique_constraint(
            "uq_outbox_items_idempotency_scope", ["idempotency_scope", "idempotency_key"]
        )
    with op.batch_alter_table("workflows") as batch:
        batch.add_column(
            sa.Column("thread_same_domain", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("workflows") as batch:
        batch.drop_column("thread_same_domain")
    with op.batch_alter_table("outbox_items") as batch:
        batch.drop_constraint("uq_outbox_items_idempotency_scope", type_="unique")
        batch.create_unique_constraint("uq_outbox_items_idempotency_key", ["idempotency_key"])
        batch.drop_column("idempotency_digest")
        batch.drop_column("idempotency_scope")
