"""`/api/v1/me`: the signed-in user's account, credits, export and deletion (thin endpoints)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from rekindle.api.deps import BaseUrl, CurrentUser, RuntimeDep, SessionDep
from rekindle.api.openapi import ERRORS
from rekindle.api.routing import TransactionalRoute
from rekindle.credits import account, ledger
from rekindle.credits.schemas import (
    AccountExport,
    AlbumRecord,
    LedgerEntryOut,
    LedgerPage,
    MeOut,
    PaymentOut,
    Prices,
    ProfileOut,
    ScanRecord,
    StorageOut,
)
from rekindle.db import utcnow
from rekindle.photos import quota
from rekindle.photos.views import photo_out

router = APIRouter(route_class=TransactionalRoute, prefix="/me", tags=["account"], responses=ERRORS)


@router.get("", response_model=MeOut)
def me(runtime: RuntimeDep, session: SessionDep, user: CurrentUser) -> MeOut:
    """The signed-in user: id, email, credit balance, prices, the newest ledger entries, and the
    storage used against the quota and today's uploads against the daily limit."""
    fresh = account.get_user(session, user.id)
    recent, _ = ledger.entries(session, user.id, limit=account.RECENT_ENTRIES)
    settings = runtime.settings
    return MeOut(
        id=fresh.id,
        email=fresh.email,
        credit_balance=fresh.credit_balance,
        created_at=fresh.created_at,
        prices=Prices(
            restore=settings.price_restore,
            animation=settings.price_animation,
            hd=settings.price_hd,
        ),
        recent_ledger=[LedgerEntryOut.model_validate(e, from_attributes=True) for e in recent],
        storage=StorageOut.model_validate(
            quota.usage(session, settings, user.id), from_attributes=True
        ),
    )


@router.get("/credits", response_model=LedgerPage)
def my_credits(
    session: SessionDep,
    user: CurrentUser,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> LedgerPage:
    """The credit ledger, newest first (cursor pagination), with the current balance."""
    rows, next_cursor = ledger.entries(session, user.id, cursor=cursor, limit=limit)
    return LedgerPage(
        credit_balance=ledger.balance(session, user.id),
        items=[LedgerEntryOut.model_validate(e, from_attributes=True) for e in rows],
        next_cursor=next_cursor,
    )


@router.get("/export", response_model=AccountExport)
def export_account(
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    base_url: BaseUrl,
    response: Response,
) -> AccountExport:
    """Everything kept about the account, as JSON: profile, photos with their attempts and signed
    URLs, albums, scans (signed URLs), the credit ledger and payments."""
    fresh = account.get_user(session, user.id)
    response.headers["Content-Disposition"] = 'attachment; filename="rekindle-account.json"'
    return AccountExport(
        exported_at=utcnow(),
        profile=ProfileOut.model_validate(fresh, from_attributes=True),
        photos=[
            photo_out(p, runtime.store, base_url) for p in account.owned_photos(session, user.id)
        ],
        albums=[
            AlbumRecord(id=a.id, name=a.name, photo_ids=ids, created_at=a.created_at)
            for a, ids in account.owned_albums(session, user.id)
        ],
        scans=[
            ScanRecord(
                id=s.id,
                original_filename=s.original_filename,
                scan_url=runtime.store.download_url(
                    s.object_key, base_url=base_url, filename=s.original_filename
                ),
                width=s.width,
                height=s.height,
                prints=s.detected,
                created_at=s.created_at,
            )
            for s in account.owned_scans(session, user.id)
        ],
        ledger=[
            LedgerEntryOut.model_validate(e, from_attributes=True)
            for e in account.all_entries(session, user.id)
        ],
        payments=[
            PaymentOut.model_validate(p, from_attributes=True)
            for p in account.payments(session, user.id)
        ],
    )


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
def delete_me(runtime: RuntimeDep, session: SessionDep, user: CurrentUser) -> Response:
    """Delete the account: every photo, stored object and personal field. Credit ledger rows are
    kept, anonymised, for accounting. 503 (`storage_unavailable`) when storage is down: retry."""
    account.delete_account(session, runtime.store, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
