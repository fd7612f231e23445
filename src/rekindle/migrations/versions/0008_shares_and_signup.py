"""share links, sign-up, sessions, display renditions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 03:40:00

Issue 15: `photos.display_key` (the JPEG display copy of the original; NULL for older photos,
which fall back to the original where a browser can show it), `auth_sessions` (refresh-cookie
sessions), `pending_signups` (sign-ups waiting for their emailed link) and `share_links`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rekindle.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_key", sa.String(length=512), nullable=True))

    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=True),
        sa.Column("rotated_at", rekindle.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", rekindle.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_auth_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_sessions_token_hash")),
    )
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_sessions_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_auth_sessions_previous_hash"), ["previous_hash"], unique=False
        )

    op.create_table(
        "pending_signups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", rekindle.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_signups")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_pending_signups_token_hash")),
    )
    with op.batch_alter_table("pending_signups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_signups_email"), ["email"], unique=False)

    op.create_table(
        "share_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("photo_id", sa.Uuid(), nullable=False),
        sa.Column("restore_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", rekindle.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["photo_id"],
            ["photos.id"],
            name=op.f("fk_share_links_photo_id_photos"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["restore_id"],
            ["restore_attempts.id"],
            name=op.f("fk_share_links_restore_id_restore_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_share_links_token_hash")),
    )
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_links_photo_id"), ["photo_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_share_links_restore_id"), ["restore_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_links_restore_id"))
        batch_op.drop_index(batch_op.f("ix_share_links_photo_id"))
    op.drop_table("share_links")
    with op.batch_alter_table("pending_signups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_signups_email"))
    op.drop_table("pending_signups")
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_sessions_previous_hash"))
        batch_op.drop_index(batch_op.f("ix_auth_sessions_user_id"))
    op.drop_table("auth_sessions")
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_column("display_key")
