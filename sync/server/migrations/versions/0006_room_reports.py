"""room reports: what a player says of itself for the room view (name, progress, sound, restarts, its item)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sync.server.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # All nullable (or with a server default): attempts in progress when the server is upgraded keep working, and
    # their players fill these in with their next heartbeat.
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("item_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("machine_name", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("answered_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("question_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("audio", sa.String(length=20), server_default="not_checked", nullable=False))
        batch_op.add_column(sa.Column("resumed_at", sync.server.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        for column in ("resumed_at", "audio", "question_count", "answered_count", "machine_name", "item_id"):
            batch_op.drop_column(column)
