"""`events` and `event_tickets`: the embedded live-event log and the stream's one-time tickets.

With `REDIS_URL` set, live events travel over Redis pub/sub instead and these tables stay empty
(see `rekindle.events`). The log is short-lived: rows older than an hour are pruned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from rekindle.db import Base, UTCDateTime, utcnow


class Event(Base):
    """One live event for one user; `id` is the SSE event id (`Last-Event-ID` replays after it)."""

    __tablename__ = "events"
    # AUTOINCREMENT on SQLite: ids never go back, even after every row is pruned.
    __table_args__ = (
        Index("ix_events_user_id_id", "user_id", "id"),
        {"sqlite_autoincrement": True},
    )

    # BIGINT on PostgreSQL, INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements there).
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class EventTicket(Base):
    """A one-time, short-lived ticket that opens one event stream (embedded mode).

    Only the SHA-256 of the ticket is kept; redeeming deletes the row."""

    __tablename__ = "event_tickets"

    ticket_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
