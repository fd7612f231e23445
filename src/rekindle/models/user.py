"""`users`: one row per auth subject, created on first sight of a valid token."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from rekindle.db import Base, UTCDateTime, utcnow


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # A local account's email (stored lower-case) signs it in, so it is unique among them.
        Index(
            "ix_users_local_email",
            "email",
            unique=True,
            sqlite_where=text("password_hash IS NOT NULL"),
            postgresql_where=text("password_hash IS NOT NULL"),
        ),
        # Credits: the balance can never go negative, whatever the code above the database does.
        CheckConstraint("credit_balance >= 0", name="credit_balance_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    """The token's `sub` claim (e.g. `auth0|abc`, a Supabase UUID, or a local user id)."""
    email: Mapped[str | None] = mapped_column(String(320))
    credit_balance: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """Argon2id hash (PHC string) for a local account (`rekindle users create`); None otherwise."""
    uploads_day: Mapped[date | None] = mapped_column(Date)
    """The UTC day `uploads_today` counts (issue 12's daily upload limit)."""
    uploads_today: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Photos uploaded on `uploads_day` (deleting them does not give the count back)."""
