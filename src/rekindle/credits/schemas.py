"""Bodies of the account (`/me`) and billing (`/billing`) endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from rekindle.photos.schemas import PhotoOut


class LedgerEntryOut(BaseModel):
    id: uuid.UUID
    delta: int = Field(description="Credits added (positive) or taken (negative)")
    balance_after: int = Field(description="Balance right after this entry, credits")
    kind: str = Field(description="grant, charge, refund, purchase or adjustment")
    reference: str = Field(
        description="Unique key of the operation (`charge:{attempt_id}`, `refund:{attempt_id}`, "
        "`stripe:{checkout_session_id}`, `signup:{user_id}`, ...)"
    )
    reason: str
    created_at: datetime


class Prices(BaseModel):
    restore: int = Field(description="Credits per restoration")
    animation: int = Field(description="Credits per animation")
    hd: int = Field(description="Credits per HD animation result")


class StorageOut(BaseModel):
    used_bytes: int = Field(
        description="Bytes your photos occupy: originals, thumbnails, restorations, animations"
    )
    quota_bytes: int = Field(
        description="The most they may occupy (`STORAGE_QUOTA_BYTES`); 0: no limit"
    )
    uploads_today: int = Field(description="Photos uploaded today (UTC)")
    uploads_per_day: int = Field(description="Photos one may upload per UTC day; 0: no limit")


class MeOut(BaseModel):
    id: str
    email: str | None
    credit_balance: int = Field(description="Credits available")
    created_at: datetime
    prices: Prices
    recent_ledger: list[LedgerEntryOut] = Field(description="The newest ledger entries (up to 10)")
    storage: StorageOut = Field(description="Storage used and the upload limits")


class LedgerPage(BaseModel):
    credit_balance: int
    items: list[LedgerEntryOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class ProfileOut(BaseModel):
    id: str
    email: str | None
    credit_balance: int
    created_at: datetime


class PaymentOut(BaseModel):
    provider: str
    event_id: str
    event_type: str
    session_id: str | None
    pack: str | None
    credits: int
    amount_total: int | None = Field(description="Amount paid, in the currency's minor unit")
    currency: str | None
    outcome: str
    created_at: datetime


class AlbumRecord(BaseModel):
    id: uuid.UUID
    name: str
    photo_ids: list[uuid.UUID] = Field(description="Its photos, in the order they were added")
    created_at: datetime


class ScanRecord(BaseModel):
    id: uuid.UUID
    original_filename: str | None
    scan_url: str = Field(description="Signed download URL of the scan as uploaded")
    width: int = Field(description="Pixels")
    height: int = Field(description="Pixels")
    prints: list[dict[str, Any]] = Field(description="The prints detected in it")
    created_at: datetime


class AccountExport(BaseModel):
    """Everything the service keeps about an account (`GET /me/export`)."""

    exported_at: datetime
    profile: ProfileOut
    photos: list[PhotoOut] = Field(description="Every photo with its attempts and signed URLs")
    albums: list[AlbumRecord]
    scans: list[ScanRecord] = Field(
        description="Every stored scan of several prints, including previews never cut"
    )
    ledger: list[LedgerEntryOut] = Field(description="The whole credit ledger, oldest first")
    payments: list[PaymentOut]


class CheckoutRequest(BaseModel):
    pack: str = Field(description="A credit pack from `GET /billing/packs`", max_length=64)


class CheckoutOut(BaseModel):
    session_id: str = Field(description="The Stripe Checkout Session (`cs_...`)")
    url: str = Field(description="Send the buyer here to pay")
    pack: str
    credits: int


class PackOut(BaseModel):
    id: str
    name: str
    credits: int


class PacksOut(BaseModel):
    enabled: bool = Field(description="Whether checkout is configured on this server")
    packs: list[PackOut]


class WebhookOut(BaseModel):
    received: bool = True
    outcome: str = Field(description="granted, duplicate or ignored")
