"""Idempotency keys and per-user daily token usage.

Revision ID: 20261201_idempotency
Revises: 20261201_runs
"""

from __future__ import annotations

revision: str = "20261201_idempotency"
down_revision: str | None = "20261201_runs"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
