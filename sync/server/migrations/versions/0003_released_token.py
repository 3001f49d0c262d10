"""released token: the released machine may still hand in results

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("released_token_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_attempts_released_token_hash", ["released_token_hash"])


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_attempts_released_token_hash", type_="unique")
        batch_op.drop_column("released_token_hash")
