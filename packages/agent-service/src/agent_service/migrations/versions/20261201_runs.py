"""Runs: a chat turn as a stored resource with its events (durable runs).

Revision ID: 20261201_runs
Revises: 20261122_github_deliveries
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import agent_service.db

revision: str = "20261201_runs"
down_revision: str | None = "20261122_github_deliveries"
branch_labels: str | None = None
depends_on: str | None = None

UTC = agent_service.db.UTCDateTime(timezone=True)
RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    op.create_table(
        "run",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("usage", sa.JSON(), nullable=True),
        sa.Column("pending_tool_calls", sa.JSON(), nullable=True),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("stream", sa.Boolean(), nullable=False),
        sa.Column("first_position", sa.Integer(), nullable=True),
        sa.Column("effects", sa.JSON(), nullable=True),
        sa.Column("owner", sa.String(length=120), nullable=True),
        sa.Column("heartbeat_at", UTC, nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_run_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_run_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run")),
    )
    op.create_index("ix_run_conversation_id_created_at", "run", ["conversation_id", "created_at"])
    op.create_index("ix_run_status", "run", ["status"])
    op.create_index(
        "uq_run_running_conversation",
        "run",
        ["conversation_id"],
        unique=True,
        sqlite_where=RUNNING,
        postgresql_where=RUNNING,
    )
    op.create_table(
        "run_event",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name=op.f("fk_run_event_run_id_run"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "seq", name=op.f("pk_run_event")),
    )
    with op.batch_alter_table("conversation") as batch:
        batch.add_column(sa.Column("session_key", sa.String(length=200), nullable=True))
        batch.create_unique_constraint(op.f("uq_conversation_user_id"), ["user_id", "session_key"])


def downgrade() -> None:
    with op.batch_alter_table("conversation") as batch:
        batch.drop_constraint(op.f("uq_conversation_user_id"), type_="unique")
        batch.drop_column("session_key")
    op.drop_table("run_event")
    op.drop_index("uq_run_running_conversation", table_name="run")
    op.drop_index("ix_run_status", table_name="run")
    op.drop_index("ix_run_conversation_id_created_at", table_name="run")
    op.drop_table("run")
