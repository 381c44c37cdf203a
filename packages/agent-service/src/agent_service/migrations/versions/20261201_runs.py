"""Runs: a chat turn as a stored resource with its events (durable runs).

Revision ID: 20261201_runs
Revises: 20261122_github_deliveries
"""

from __future__ import annotations

revision: str = "20261201_runs"
down_revision: str | None = "20261122_github_deliveries"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
