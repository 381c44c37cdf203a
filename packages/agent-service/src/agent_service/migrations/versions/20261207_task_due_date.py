"""A task's due date (optional), set and changed on the Tasks page or by the assistant.

Revision ID: 20261207_task_due_date
Revises: 20261207_quota_reservations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_task_due_date"
down_revision: str | None = "20261207_quota_reservations"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("due_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.drop_column("due_date")
