"""`auth_sessions`: sign-in sessions behind the HttpOnly refresh cookie (docs/web.md, Sessions).

The cookie holds a random token (`secrets.token_urlsafe(32)`, 256 bits); only its SHA-256 is kept
here, so a copy of the table signs nobody in. Each refresh rotates the token; the previous hash is
kept for a short grace period so two tabs refreshing at once both succeed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from rekindle.db import Base, UTCDateTime, utcnow


class AuthSession(Base):
    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """Hex SHA-256 of the cookie's current token."""
    previous_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    """Hex SHA-256 of the token before the last rotation (accepted until `rotated_at` + grace)."""
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
