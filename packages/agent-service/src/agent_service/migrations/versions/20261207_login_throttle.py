"""Failed logins per account and per client address (login throttling across replicas).

Revision ID: 20261207_login_throttle
Revises: 20261207_run_webhooks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import agent_service.db

revision: str = "20261207_login_throttle"
down_revision: str | None = "20261207_run_webhooks"
branch_labels: str | None = None
depends_on: str | None = None

UTC = agent_service.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UTC, nullable=False),
        sa.Column("blocked_until", UTC, nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
