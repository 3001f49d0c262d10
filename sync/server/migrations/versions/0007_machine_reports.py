"""machine reports: the player's version, its readiness summary and how often the test window was left

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable or with a server default: attempts in progress when the server is upgraded keep working, and their
    # players fill these in with their next heartbeat (a player from before them reports nothing: none, 0).
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("app_version", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("readiness", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("left_window_count", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        for column in ("left_window_count", "readiness", "app_version"):
            batch_op.drop_column(column)
