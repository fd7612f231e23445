"""`restore_attempts` (seeds 002/004): every restoration of a photo, kept whatever its outcome."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rekindle.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from rekindle.models.photo import Photo


class AttemptStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class RestoreAttempt(Base):
    __tablename__ = "restore_attempts"
    __table_args__ = (Index("ix_restore_attempts_status_created", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    photo_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("photos.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=AttemptStatus.PENDING)
    engine: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(128))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Request settings (denoise, colorize, prompt), engine metadata, timings, `preprocessed`."""
    s3_key: Mapped[str | None] = mapped_column(String(512))
    thumbnail_key: Mapped[str | None] = mapped_column(String(512))
    batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    """The batch restoration (`restore_batches.id`) that accepted this attempt, or None; its live
    progress event counts the batch's attempts by this column (issue 16)."""
    mask_key: Mapped[str | None] = mapped_column(String(512))
    """The user-painted damage mask (PNG) sent with the request, or None; lives as long as the row."""
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(255))
    error_detail: Mapped[str | None] = mapped_column(Text)
    photo_status_before: Mapped[str] = mapped_column(String(16))
    """The photo's status when this attempt was accepted; restored if the attempt fails."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    photo: Mapped[Photo] = relationship(back_populates="restore_attempts")
