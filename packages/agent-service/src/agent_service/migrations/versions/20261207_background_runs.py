"""Runs record their assistant (id and version), a completion webhook and the schedule that
started them; schedules of background runs.

Revision ID: 20261207_background_runs
Revises: 20261207_login_throttle
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import agent_service.db

revision: str = "20261207_background_runs"
down_revision: str | None = "20261207_login_throttle"
branch_labels: str | None = None
depends_on: str | None = None

UTC = agent_service.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("assistant_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("assistant_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("webhook", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("schedule_id", sa.Uuid(), nullable=True))
    op.create_index("ix_run_schedule_id", "run", ["schedule_id"], unique=False)
    op.create_table(
        "schedule",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("assistant_id", sa.String(length=64), nullable=False),
        sa.Column("cron", sa.String(length=120), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("webhook", sa.String(length=2000), nullable=True),
        sa.Column("next_run_at", UTC, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_schedule_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule")),
    )
    op.create_index("ix_schedule_next_run_at", "schedule", ["next_run_at"], unique=False)
    op.create_index("ix_schedule_user_id", "schedule", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_schedule_user_id", table_name="schedule")
    op.drop_index("ix_schedule_next_run_at", table_name="schedule")
    op.drop_table("schedule")
    op.drop_index("ix_run_schedule_id", table_name="run")
    with op.batch_alter_table("run") as batch:
        batch.drop_column("schedule_id")
        batch.drop_column("webhook")
        batch.drop_column("assistant_version")
        batch.drop_column("assistant_id")
