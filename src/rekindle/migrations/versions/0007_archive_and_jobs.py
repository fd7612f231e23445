"""archived photos, seed 004 job fields, engine options

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 03:40:00

Issue 13: `photos.archived_from` (the status an archived photo returns to when unarchived) and
`restore_attempts.mask_key` (the user-painted damage mask stored with an attempt). Seed 004's
`latest_animation_id` needs no column: it is the photo's newest animation attempt.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archived_from", sa.String(length=16), nullable=True))
    with op.batch_alter_table("restore_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mask_key", sa.String(length=512), nullable=True))
    # A photo archived before this column existed (none could be through the API) returns to
    # `ready` when it has a selected result, else `uploaded`.
    photos = sa.table(
        "photos",
        sa.column("status", sa.String()),
        sa.column("archived_from", sa.String()),
        sa.column("selected_restore_id", sa.Uuid()),
    )
    op.execute(
        photos.update()
        .where(photos.c.status == "archived")
        .values(
            archived_from=sa.case(
                (photos.c.selected_restore_id.is_not(None), "ready"), else_="uploaded"
            )
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("restore_attempts", schema=None) as batch_op:
        batch_op.drop_column("mask_key")
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_column("archived_from")
