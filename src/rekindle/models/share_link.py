"""`share_links`: public, revocable links to one photo's before/after (docs/web.md, Sharing).

The URL carries a random token (`secrets.token_urlsafe(32)`, 256 bits); only its SHA-256 is kept.
Rows go with their photo or restore attempt (ON DELETE CASCADE).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from rekindle.db import Base, UTCDateTime, utcnow


class ShareLink(Base):
    __tablename__ = "share_links"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    photo_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("photos.id", ondelete="CASCADE"), index=True
    )
    restore_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("restore_attempts.id", ondelete="CASCADE"), index=True
    )
    """The result shown on the "after" side."""
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
