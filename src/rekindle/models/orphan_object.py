"""`orphan_objects`: stored objects that belong to no row and are waiting to be removed.

A clean-up that storage refused (`storage.discard` returned keys) records its keys here
(`storage.orphans.remember`); the sweep deletes them once storage answers again
(`storage.orphans.remove_orphaned_objects`) and drops their rows. The table is normally empty.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from rekindle.db import Base, UTCDateTime, utcnow


class OrphanObject(Base):
    __tablename__ = "orphan_objects"

    key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    """The object's key in the store (S3 allows up to 1024 bytes)."""
    noted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    """When the clean-up first failed (the sweep removes the oldest first)."""
    reason: Mapped[str | None] = mapped_column(String(255))
    """What left it behind, for operators (e.g. "upload failed: storage_unavailable")."""
