"""restore_batches: progress counters and their sequence

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 01:00:00

How many of a batch's attempts are pending, processing, completed and failed, kept on the batch's
row by the transactions that change an attempt's status (`restoration.outcomes`), with
`progress_seq` counting those changes; a batch's live event reads them instead of a GROUP BY over
its attempts on every event, and carries `progress_seq` so that a late event never replaces a
later one (`published_seq`, the highest sequence the database bus published) (issue 16). Earlier
batches are counted from their attempts once, here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = ("pending", "processing", "completed", "failed")


def upgrade() -> None:
    with op.batch_alter_table("restore_batches") as batch:
        for status in COUNTERS:
            batch.add_column(
                sa.Column(f"attempts_{status}", sa.Integer(), nullable=False, server_default="0")
            )
        batch.add_column(
            sa.Column("progress_seq", sa.BigInteger(), nullable=False, server_default="1")
        )
        batch.add_column(
            sa.Column("published_seq", sa.BigInteger(), nullable=False, server_default="0")
        )
    counts = ", ".join(
        f"attempts_{status} = (SELECT count(*) FROM restore_attempts a"
        f" WHERE a.batch_id = restore_batches.id AND a.status = '{status}')"
        for status in COUNTERS
    )
    op.execute(f"UPDATE restore_batches SET {counts}")


def downgrade() -> None:
    with op.batch_alter_table("restore_batches") as batch:
        for column in ("published_seq", "progress_seq", *(f"attempts_{s}" for s in COUNTERS)):
            batch.drop_column(column)
