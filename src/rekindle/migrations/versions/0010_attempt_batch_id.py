"""restore_attempts.batch_id

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 18:30:00

The batch restoration that accepted an attempt, indexed: a batch's live progress counts its
attempts with one indexed query instead of reading the batch's stored answer (issue 16). Attempts
of earlier batches get it from `params["batch_id"]`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("restore_attempts") as batch:
        batch.add_column(sa.Column("batch_id", sa.Uuid(), nullable=True))
        batch.create_index("ix_restore_attempts_batch_id", ["batch_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE restore_attempts SET batch_id = (params->>'batch_id')::uuid"
            " WHERE params->>'batch_id' IS NOT NULL"
        )
    else:  # SQLite keeps a UUID as 32 hex digits
        op.execute(
            "UPDATE restore_attempts"
            " SET batch_id = replace(json_extract(params, '$.batch_id'), '-', '')"
            " WHERE json_extract(params, '$.batch_id') IS NOT NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("restore_attempts") as batch:
        batch.drop_index("ix_restore_attempts_batch_id")
        batch.drop_column("batch_id")
