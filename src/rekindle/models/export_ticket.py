"""`export_tickets`: one-time, short-lived tickets that download one ZIP export without a token.

A browser cannot send the bearer token with a plain link, so the page asks for a ticket (with its
token) and then navigates to the ticket's URL: the browser streams the ZIP to disk itself instead
of holding it in memory. Only the SHA-256 of the ticket is kept; redeeming deletes the row.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from rekindle.db import Base, UTCDateTime, utcnow


class ExportTicket(Base):
    __tablename__ = "export_tickets"

    ticket_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    photo_ids: Mapped[list[str]] = mapped_column(JSON)
    """The photos to export, in order (ownership is checked again when it is redeemed)."""
    originals: Mapped[bool] = mapped_column(Boolean, default=False)
    animations: Mapped[bool] = mapped_column(Boolean, default=False)
    filename: Mapped[str] = mapped_column(String(255))
    """The ZIP's file name offered to the browser (`Content-Disposition`)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    def photo_uuids(self) -> list[uuid.UUID]:
        """`photo_ids` as UUIDs."""
        return [uuid.UUID(value) for value in self.photo_ids]
