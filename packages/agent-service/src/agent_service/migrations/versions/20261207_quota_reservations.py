"""Token reservations: the tokens held by a user's admitted runs that have not settled yet.

Revision ID: 20261207_quota_reservations
Revises: 20261207_background_runs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_quota_reservations"
down_revision: str | None = "20261207_background_runs"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("token_usage") as batch:
        batch.add_column(sa.Column("reserved", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("token_usage") as batch:
        batch.drop_column("reserved")
