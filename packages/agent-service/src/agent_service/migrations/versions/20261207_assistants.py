"""Assistants as data: the mutable head and its immutable versions.

Revision ID: 20261207_assistants
Revises: 20261201_idempotency
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import agent_service.db

revision: str = "20261207_assistants"
down_revision: str | None = "20261201_idempotency"
branch_labels: str | None = None
depends_on: str | None = None

UTC = agent_service.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "assistant",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_assistant_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant")),
    )
    op.create_index(
        "ix_assistant_user_id_created_at", "assistant", ["user_id", "created_at"], unique=False
    )
    op.create_table(
        "assistant_version",
        sa.Column("assistant_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["assistant_id"],
            ["assistant.id"],
            name=op.f("fk_assistant_version_assistant_id_assistant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("assistant_id", "version", name=op.f("pk_assistant_version")),
    )


def downgrade() -> None:
    op.drop_table("assistant_version")
    op.drop_index("ix_assistant_user_id_created_at", table_name="assistant")
    op.drop_table("assistant")
