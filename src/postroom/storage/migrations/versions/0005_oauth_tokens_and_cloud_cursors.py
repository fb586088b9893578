"""OAuth2 sign-in flows, token bookkeeping on mailboxes, cloud cursors

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 11:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_flows",
        sa.Column("state", sa.String(length=100), nullable=False),
        sa.Column("oauth_app_id", sa.Integer(), nullable=False),
        sa.Column("code_verifier", sa.LargeBinary(), nullable=False),
        sa.Column("actor_label", sa.String(length=320), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_is_admin", sa.Boolean(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("system", sa.Boolean(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["oauth_app_id"],
            ["oauth_apps.id"],
            name=op.f("fk_oauth_flows_oauth_app_id_oauth_apps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_oauth_flows_actor_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_flows")),
        sa.UniqueConstraint("state", name=op.f("uq_oauth_flows_state")),
    )
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("oauth_account", sa.String(length=320), nullable=True))
        batch_op.add_column(
            sa.Column("oauth_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("oauth_refresh_lease", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("fetch_cursors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fetch_cursors", schema=None) as batch_op:
        batch_op.drop_column("token")
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.drop_column("oauth_refresh_lease")
        batch_op.drop_column("oauth_expires_at")
        batch_op.drop_column("oauth_account")
    op.drop_table("oauth_flows")
