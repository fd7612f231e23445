"""albums, scans and batch restorations

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 03:40:00

Albums (a photo may be in several), scans kept while a photo cut from them lives
(`photos.source_scan_id`), and the stored answers of batch restorations for their idempotency keys.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rekindle.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "albums",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_albums_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_albums")),
    )
    op.create_index("ix_albums_owner_created", "albums", ["owner_id", "created_at", "id"])
    op.create_table(
        "album_photos",
        sa.Column("album_id", sa.Uuid(), nullable=False),
        sa.Column("photo_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["album_id"],
            ["albums.id"],
            name=op.f("fk_album_photos_album_id_albums"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["photo_id"],
            ["photos.id"],
            name=op.f("fk_album_photos_photo_id_photos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("album_id", "photo_id", name=op.f("pk_album_photos")),
    )
    op.create_index(op.f("ix_album_photos_photo_id"), "album_photos", ["photo_id"])
    op.create_table(
        "scans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.String(length=255), nullable=False),
        sa.Column("object_key", sa.String(length=512), nullable=False),
        sa.Column("mime_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=True),
        sa.Column("detected", sa.JSON(), nullable=False),
        sa.Column("created_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_scans_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scans")),
    )
    op.create_index(op.f("ix_scans_owner_id"), "scans", ["owner_id"])
    op.create_table(
        "restore_batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.String(length=255), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_restore_batches_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restore_batches")),
        sa.UniqueConstraint(
            "owner_id", "idempotency_key", name=op.f("uq_restore_batches_owner_id_idempotency_key")
        ),
    )
    op.create_index(op.f("ix_restore_batches_owner_id"), "restore_batches", ["owner_id"])
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_scan_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_photos_source_scan_id"), ["source_scan_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_photos_source_scan_id_scans"),
            "scans",
            ["source_scan_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_photos_source_scan_id_scans"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_photos_source_scan_id"))
        batch_op.drop_column("source_scan_id")
    op.drop_index(op.f("ix_restore_batches_owner_id"), table_name="restore_batches")
    op.drop_table("restore_batches")
    op.drop_index(op.f("ix_scans_owner_id"), table_name="scans")
    op.drop_table("scans")
    op.drop_index(op.f("ix_album_photos_photo_id"), table_name="album_photos")
    op.drop_table("album_photos")
    op.drop_index("ix_albums_owner_created", table_name="albums")
    op.drop_table("albums")
