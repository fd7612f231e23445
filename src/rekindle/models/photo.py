"""`photos` (seed 002): an uploaded original and where its restoration stands."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rekindle.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from rekindle.models.animation_attempt import AnimationAttempt
    from rekindle.models.restore_attempt import RestoreAttempt


class PhotoStatus(enum.StrEnum):
    """Seed 002: uploaded -> processing -> ready; a failed restoration returns to the status before;
    ready -> archived -> deleted."""

    UPLOADED = "uploaded"
    PROCESSING = "processing"
    READY = "ready"
    ARCHIVED = "archived"
    DELETED = "deleted"


class Photo(Base):
    __tablename__ = "photos"
    __table_args__ = (Index("ix_photos_owner_created", "owner_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    original_key: Mapped[str] = mapped_column(String(512))
    processed_key: Mapped[str | None] = mapped_column(String(512))
    thumbnail_key: Mapped[str | None] = mapped_column(String(512))
    display_key: Mapped[str | None] = mapped_column(String(512))
    """JPEG display copy of the original (long side <= DISPLAY_MAX_SIDE, upright, sRGB); None for
    photos uploaded before display copies existed."""
    status: Mapped[str] = mapped_column(String(16), default=PhotoStatus.UPLOADED, index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Bytes of every stored object of the photo (original, thumbnail, each restoration's result
    and thumbnail, animations): what it counts against its owner's `STORAGE_QUOTA_BYTES`. Whatever
    stores an object of the photo adds its size here, in the transaction that records its key."""
    mime_type: Mapped[str] = mapped_column(String(64))
    checksum_sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    original_filename: Mapped[str | None] = mapped_column(String(255))
    metadata_json: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # No foreign key: photos and attempts would reference each other; the service keeps it valid.
    selected_restore_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # The scan this photo was cut from (issue 16); the scan is deleted with its last photo.
    source_scan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("scans.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_from: Mapped[str | None] = mapped_column(String(16))
    """While archived: the status the photo had (uploaded or ready), which unarchive restores."""
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    restore_attempts: Mapped[list[RestoreAttempt]] = relationship(
        back_populates="photo",
        order_by="RestoreAttempt.created_at",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    animation_attempts: Mapped[list[AnimationAttempt]] = relationship(
        back_populates="photo",
        order_by="AnimationAttempt.created_at",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
