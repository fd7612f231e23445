"""export_tickets

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:45:00

One-time download tickets for ZIP exports, so that the page's "Download all" is a plain link the
browser streams to disk (issue 16).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rekindle.db import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "export_tickets",
        sa.Column("ticket_sha256", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(255),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("photo_ids", sa.JSON(), nullable=False),
        sa.Column("originals", sa.Boolean(), nullable=False),
        sa.Column("animations", sa.Boolean(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_export_tickets_user_id", "export_tickets", ["user_id"])
    op.create_index("ix_export_tickets_expires_at", "export_tickets", ["expires_at"])


def downgrade() -> None:
    op.drop_table("export_tickets")
