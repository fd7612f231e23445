"""`payment_events`: payment provider events that granted (or would have granted) credits.

`event_id` is unique (a redelivered event changes nothing) and so is `session_id` (two events for
one Checkout Session grant once). Only events that pay for credits are recorded.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from rekindle.db import Base, UTCDateTime, utcnow


class PaymentEvent(Base):
    __tablename__ = "payment_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    provider: Mapped[str] = mapped_column(String(16), default="stripe")
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    """Stripe's event id (`evt_...`)."""
    event_type: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    """The Checkout Session paid for (`cs_...`); unique, so one session grants once."""
    user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    """The buyer (no FK: anonymised like the ledger when the account is deleted)."""
    pack: Mapped[str | None] = mapped_column(String(64))
    credits: Mapped[int] = mapped_column(Integer, default=0)
    """Credits the payment bought."""
    amount_total: Mapped[int | None] = mapped_column(Integer)
    """What was paid, in the currency's minor unit (Stripe's `amount_total`)."""
    currency: Mapped[str | None] = mapped_column(String(3))
    outcome: Mapped[str] = mapped_column(String(16))
    """`granted`, or `no_user` when the buyer's account no longer exists (nothing granted)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
