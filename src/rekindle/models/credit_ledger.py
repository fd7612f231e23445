"""`credit_ledger`: every change of a user's credit balance, one row each, append-only.

`users.credit_balance` is kept alongside in the same transaction as each row (see
`rekindle.credits.ledger`). `reference` is unique, so replaying a grant, charge, refund or purchase
changes nothing. There is no foreign key to `users`: the rows outlive a deleted account, with
`user_id` replaced by an anonymous id (`rekindle.credits.ledger.anonymous_id`).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from rekindle.db import Base, UTCDateTime, utcnow


class LedgerKind(enum.StrEnum):
    GRANT = "grant"
    """Free credits: the signup grant, an operator's `rekindle credits grant`."""
    CHARGE = "charge"
    """A request's price, taken when it is accepted (negative delta)."""
    REFUND = "refund"
    """A charge given back because its work failed (once per charge)."""
    PURCHASE = "purchase"
    """Credits bought through Stripe Checkout."""
    ADJUSTMENT = "adjustment"
    """A manual correction by an operator."""


class CreditLedgerEntry(Base):
    __tablename__ = "credit_ledger"
    __table_args__ = (Index("ix_credit_ledger_user_created", "user_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[str] = mapped_column(String(255))
    """The user (no FK: kept, anonymised, when the account is deleted)."""
    delta: Mapped[int] = mapped_column(Integer)
    """Credits added (positive) or taken (negative)."""
    balance_after: Mapped[int] = mapped_column(Integer)
    """The user's balance right after this row, credits."""
    kind: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(255), unique=True)
    """Idempotency key: `signup:{user}`, `charge:{attempt}`, `refund:{attempt}`,
    `stripe:{checkout session}`, `admin:{uuid}` ..."""
    reason: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
