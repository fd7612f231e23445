"""scans.display_key

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 22:00:00

A JPEG display copy of each scan, so that the crop editor shows HEIC and TIFF scans too, and a
large scan is not sent whole to the page (issue 16). Earlier scans have none (NULL).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("display_key", sa.String(512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("display_key")
