"""hand marks: scores given by hand to extended-text answers, every mark kept

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sync.server.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A table of its own rather than columns on results: an answer may be marked again (by another marker too),
    # and the marks it had are its history; the stored automatic marks stay as marking made them.
    op.create_table(
        "hand_marks",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("result_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("score_hundredths", sa.Integer(), nullable=False),
        sa.Column("max_hundredths", sa.Integer(), nullable=False),
        sa.Column("marker", sa.String(length=200), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=True),
        sa.Column("marked_at", sync.server.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["result_id"], ["results.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("hand_marks", schema=None) as batch_op:
        batch_op.create_index("ix_hand_marks_result_item", ["result_id", "item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hand_marks", schema=None) as batch_op:
        batch_op.drop_index("ix_hand_marks_result_item")
    op.drop_table("hand_marks")
