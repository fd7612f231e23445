"""`deleted_subjects`: the tombstone of every deleted account, so that its tokens stop working.

A token stays valid until it expires, and an identity provider keeps issuing tokens for a
subject whatever Rekindle did with its account. So deleting an account records the SHA-256 of its
subject (`sub`) here; `users.ensure_user` refuses such a subject (401 `account_deleted`) instead of
creating the account anew. Only the hash is kept: the tombstone recognises the subject without
storing it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from rekindle.db import Base, UTCDateTime, utcnow


def subject_hash(subject: str) -> str:
    """The hex SHA-256 of a token subject (UTF-8), the tombstone's key."""
    return hashlib.sha256(subject.encode()).hexdigest()


class DeletedSubject(Base):
    __tablename__ = "deleted_subjects"

    subject_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
