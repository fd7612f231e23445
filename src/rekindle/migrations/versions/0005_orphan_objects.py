"""orphan objects (objects whose clean-up storage refused, waiting for the sweep)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 13:41:39.877620

Replaces the `orphan_keys` entry that failed restore attempts kept in their params: those entries
(at most a day old, since the sweep only looked that far back) are copied into the table, so no
object they name is forgotten by the upgrade.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rekindle.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    orphans = op.create_table(
        "orphan_objects",
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("noted_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_orphan_objects")),
    )
    with op.batch_alter_table("orphan_objects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orphan_objects_noted_at"), ["noted_at"], unique=False)
    assert orphans is not None
    _copy_attempt_orphan_keys(orphans)


def _copy_attempt_orphan_keys(orphans: sa.Table) -> None:
    attempts = sa.table(
        "restore_attempts",
        sa.column("id", sa.Uuid()),
        sa.column("status", sa.String()),
        sa.column("params", sa.JSON()),
    )
    bind = op.get_bind()
    rows: dict[str, dict[str, object]] = {}
    now = rekindle.db.utcnow()
    for attempt_id, params in bind.execute(
        sa.select(attempts.c.id, attempts.c.params).where(attempts.c.status == "failed")
    ):
        for key in (params or {}).get("orphan_keys") or []:
            reason = f"restore attempt {attempt_id} failed"
            rows.setdefault(key, {"key": key, "noted_at": now, "reason": reason})
    if rows:
        op.bulk_insert(orphans, list(rows.values()))


def downgrade() -> None:
    # Keys still recorded are lost with the table (they are logged when recorded).
    with op.batch_alter_table("orphan_objects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orphan_objects_noted_at"))
    op.drop_table("orphan_objects")
