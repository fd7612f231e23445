"""`pending_signups`: sign-ups waiting for their emailed verification link to be opened.

No `users` row exists until the link is opened, so an unverified address holds no account and
cannot sign in. Only the SHA-256 of the link's token is kept.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from rekindle.db import Base, UTCDateTime, utcnow


class PendingSignup(Base):
    __tablename__ = "pending_signups"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), index=True)
    """Lower-case, as `normalize_email` stores it."""
    password_hash: Mapped[str] = mapped_column(String(255))
    """Argon2id PHC string, moved to the account when the link is opened."""
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the link activated the account (a second click then just says "verified")."""
