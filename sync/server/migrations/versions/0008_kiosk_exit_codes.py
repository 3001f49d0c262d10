"""kiosk exit codes: one-time codes that let one machine leave kiosk mode (only their keyed hash is kept)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sync.server.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kiosk_exit_codes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.String(length=36), nullable=False),
        sa.Column("machine_id", sa.String(length=160), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=True),
        sa.Column("staff_name", sa.String(length=200), nullable=False),
        sa.Column("sitting_id", sa.String(length=36), nullable=True),
        sa.Column("allocation_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sync.server.models.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sync.server.models.UTCDateTime(), nullable=False),
        sa.Column("used_at", sync.server.models.UTCDateTime(), nullable=True),
        sa.Column("replaced_at", sync.server.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kiosk_exit_codes", schema=None) as batch_op:
        batch_op.create_index("ix_kiosk_exit_codes_machine", ["machine_id", "created_at"], unique=False)
        batch_op.create_index("ix_kiosk_exit_codes_school_id", ["school_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kiosk_exit_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_kiosk_exit_codes_school_id")
        batch_op.drop_index("ix_kiosk_exit_codes_machine")
    op.drop_table("kiosk_exit_codes")
