"""`restore_batches`: the answer given to a batch restoration, kept for its idempotency key, and
its live progress (how many of its attempts are in each status, kept by `rekindle.batch_counts`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from rekindle.db import Base, UTCDateTime, utcnow


class RestoreBatch(Base):
    __tablename__ = "restore_batches"
    __table_args__ = (
        UniqueConstraint(
            "owner_id", "idempotency_key", name="uq_restore_batches_owner_id_idempotency_key"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # How many of the batch's attempts are in each status, changed (with `progress_seq`) in the
    # transaction that changes an attempt's status, with this row locked (issue 16).
    attempts_pending: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempts_processing: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempts_completed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempts_failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    progress_seq: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    """1 + how many times the counters changed since the batch was accepted: a batch event's
    `seq`, higher for a later state (above `published_seq`'s 0 from the first)."""
    published_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """The highest `progress_seq` the database event bus published (the Redis bus keeps its own)."""
