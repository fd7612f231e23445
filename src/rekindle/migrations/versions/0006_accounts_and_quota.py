"""accounts: token revocation, storage quota

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:40:00

- `deleted_subjects`: tombstones (SHA-256 of the token subject) of deleted accounts.
- `photos.stored_bytes`: bytes of all the photo's stored objects, for the storage quota. Existing
  photos start from their original's size; their thumbnails and results were never measured (a
  photo's derived objects are small beside it, and the count only grows from here).
- `users.uploads_day` / `users.uploads_today`: the daily upload count.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rekindle.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deleted_subjects",
        sa.Column("subject_sha256", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject_sha256", name=op.f("pk_deleted_subjects")),
    )
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stored_bytes", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.execute("UPDATE photos SET stored_bytes = size_bytes")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uploads_day", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("uploads_today", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("uploads_today")
        batch_op.drop_column("uploads_day")
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_column("stored_bytes")
    op.drop_table("deleted_subjects")
