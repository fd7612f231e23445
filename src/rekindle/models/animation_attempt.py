"""`animation_attempts` (seed 004): every animation of a photo, with its preview and HD result."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rekindle.db import Base, UTCDateTime, utcnow
from rekindle.models.restore_attempt import AttemptStatus

if TYPE_CHECKING:
    from rekindle.models.photo import Photo


class AnimationAttempt(Base):
    """The preview has `status`; the paid HD result, once asked for, has `hd_status`. Both move
    pending -> processing -> completed | failed, like restore attempts."""

    __tablename__ = "animation_attempts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    photo_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("photos.id", ondelete="CASCADE"), index=True
    )
    source_restore_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    """The restore attempt animated; None when the original was (no restoration yet)."""
    source_key: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default=AttemptStatus.PENDING, index=True)
    engine: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(128))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    preview_key: Mapped[str | None] = mapped_column(String(512))
    thumbnail_key: Mapped[str | None] = mapped_column(String(512))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(255))
    error_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    is_hd: Mapped[bool] = mapped_column(default=False)
    """True once the HD result is stored."""
    hd_status: Mapped[str | None] = mapped_column(String(16), index=True)
    result_key: Mapped[str | None] = mapped_column(String(512))
    hd_error_code: Mapped[str | None] = mapped_column(String(64))
    hd_error_message: Mapped[str | None] = mapped_column(String(255))
    hd_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hd_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hd_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    photo: Mapped[Photo] = relationship(back_populates="animation_attempts")
