"""Batch restoration (`POST /photos/restore-batch`): many photos, one price, all or nothing.

The whole batch is priced up front (`PRICE_RESTORE` × photos that can be restored) and accepted
in one transaction: when the balance cannot cover it, 402 with the total and nothing is created.
Photos that cannot be restored now are skipped with a reason (not found, already processing,
archived), never charged. With an `Idempotency-Key` header the first answer is stored
(`restore_batches`) and a retry with the same key and body gets it back without a second charge;
the same key with another body is refused (422 `idempotency_key_reused`). The attempts then run
like single restorations, each through its engine's provider budget in the worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from typing import Any

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rekindle.albums.schemas import MAX_IDS
from rekindle.albums.service import album_photo_ids
from rekindle.config import Settings
from rekindle.credits.ledger import balance, charge_many, charge_reference
from rekindle.db import utcnow
from rekindle.errors import (
    AppError,
    BadRequest,
    PaymentRequired,
    ServiceUnavailable,
    Unprocessable,
)
from rekindle.events import publish_batch_progress
from rekindle.models import Photo, PhotoStatus, RestoreAttempt, RestoreBatch
from rekindle.photos.schemas import RestoreAttemptOut, RestoreOptions
from rekindle.photos.service import (
    RESTORABLE,
    new_attempt,
    owned_photos_query,
    request_restore,
    validate_restore,
)
from rekindle.photos.views import attempt_out
from rekindle.restoration.runner import dispatch_restore, pending_change
from rekindle.runtime import Runtime


class BatchRestoreIn(BaseModel):
    """Body of `POST /photos/restore-batch`: `photo_ids` or `album_id`, and the options every
    attempt uses (no `mask`: a mask belongs to one photo)."""

    photo_ids: list[uuid.UUID] | None = Field(None, min_length=1, max_length=MAX_IDS)
    album_id: uuid.UUID | None = None
    options: RestoreOptions = Field(default_factory=RestoreOptions)

    @model_validator(mode="after")
    def _one_source(self) -> BatchRestoreIn:
        if (self.photo_ids is None) == (self.album_id is None):
            raise ValueError("give either photo_ids or album_id")
        return self


class BatchItem(BaseModel):
    photo_id: uuid.UUID
    status: str = Field(description="accepted or skipped")
    attempt: RestoreAttemptOut | None = None
    code: str | None = Field(None, description="Why it was skipped: photo_not_found, ...")
    message: str | None = None


class BatchOut(BaseModel):
    batch_id: uuid.UUID
    total_credits: int = Field(description="Credits charged for the accepted photos")
    accepted: int
    skipped: int
    items: list[BatchItem] = Field(description="One per photo, in the order asked")


def _skip_reason(status: str | None) -> tuple[str, str]:
    if status is None:
        return "photo_not_found", "No such photo."
    if status == "processing":
        return "restore_in_progress", "A restoration of this photo is already running."
    if status == "archived":
        return "photo_archived", "The photo is archived; unarchive it to restore it."
    return "photo_not_restorable", f"A photo that is {status} cannot be restored."


def _request_hash(body: BatchRestoreIn) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _stored(session: Session, owner_id: str, key: str, request_hash: str) -> dict[str, Any] | None:
    found = session.scalars(
        select(RestoreBatch).where(
            RestoreBatch.owner_id == owner_id, RestoreBatch.idempotency_key == key
        )
    ).one_or_none()
    if found is None:
        return None
    if found.request_hash != request_hash:
        raise Unprocessable(
            "This Idempotency-Key was used for a different batch; use a new key.",
            code="idempotency_key_reused",
        )
    return found.response


class _Raced(Exception):
    """A photo of the batch changed status since it was read (another request restored it)."""


def _accept_at_once(
    session: Session,
    settings: Settings,
    owner_id: str,
    photos: list[Photo],
    options: RestoreOptions,
    engine: str,
    batch_id: uuid.UUID,
) -> list[RestoreAttempt]:
    """Accept every photo of `photos` (read in this transaction, each restorable) in a constant
    number of statements (issue 16): the charges (`credits.ledger.charge_many`, the user row
    first, as docs/credits.md orders locks), one conditional UPDATE of the photos per status they
    were read in, one multi-row INSERT of the pending attempts. The same rows as
    `photos.service.request_restore` per photo. Raises _Raced when a photo's status changed since
    it was read (the caller rolls back to its savepoint and goes one by one), PaymentRequired.
    Returns the attempts (not in the session)."""
    price = settings.price_restore
    now = utcnow()
    attempts = [
        new_attempt(
            uuid.uuid4(),
            photo.id,
            engine,
            options,
            price=price,
            photo_status_before=photo.status,
            batch_id=batch_id,
        )
        for photo in photos
    ]
    if price > 0:
        charge_many(
            session,
            owner_id,
            price,
            [(charge_reference(a.id), f"Restoration of photo {a.photo_id}") for a in attempts],
        )
    by_status: dict[str, list[uuid.UUID]] = {}
    for photo in photos:
        by_status.setdefault(photo.status, []).append(photo.id)
    for seen, ids in by_status.items():
        switched = session.scalars(
            update(Photo)
            .where(
                Photo.owner_id == owner_id,
                Photo.id.in_(ids),
                Photo.status == seen,
                Photo.deleted_at.is_(None),
            )
            .values(status=PhotoStatus.PROCESSING, updated_at=now)
            .returning(Photo.id)
            .execution_options(synchronize_session=False)
        ).all()
        if len(switched) != len(ids):
            raise _Raced
    columns = (
        "id",
        "photo_id",
        "status",
        "engine",
        "params",
        "photo_status_before",
        "batch_id",
        "mask_key",
        "created_at",
    )
    session.execute(
        insert(RestoreAttempt.__table__),  # type: ignore[arg-type]
        [{name: getattr(a, name) for name in columns} for a in attempts],
    )
    return attempts


def restore_batch(
    runtime: Runtime,
    session: Session,
    owner_id: str,
    body: BatchRestoreIn,
    *,
    idempotency_key: str | None,
    base_url: str,
) -> dict[str, Any]:
    """Accept a batch and queue its attempts; returns the answer (`BatchOut` as JSON).

    Raises PaymentRequired (402 `insufficient_credits`, `required` = the batch's total), NotFound
    (`album_not_found`), BadRequest (`mask_not_allowed`, `unknown_engine`), Unprocessable
    (`option_unsupported`, `idempotency_key_reused`). Commits."""
    settings = runtime.settings
    request_hash = _request_hash(body)
    if idempotency_key is not None:
        replay = _stored(session, owner_id, idempotency_key, request_hash)
        if replay is not None:
            return replay
    if body.options.mask is not None:
        raise BadRequest(
            "A mask belongs to one photo; restore it on its own.", code="mask_not_allowed"
        )
    validated = validate_restore(settings, body.options)
    if body.photo_ids is not None:
        asked = body.photo_ids
    else:
        assert body.album_id is not None  # the schema requires one of the two
        asked = album_photo_ids(session, owner_id, body.album_id)
    wanted = list(dict.fromkeys(asked))
    photos = {
        photo.id: photo
        for photo in session.scalars(owned_photos_query(owner_id).where(Photo.id.in_(wanted)))
    }
    restorable = [pid for pid in wanted if pid in photos and photos[pid].status in RESTORABLE]
    total = settings.price_restore * len(restorable)
    have = balance(session, owner_id)
    if total > have:
        raise PaymentRequired(
            f"This batch costs {total} credits and your balance is {have}; buy credits or "
            "choose fewer photos.",
            extra={"required": total, "balance": have},
        )
    batch_id = uuid.uuid4()
    conflicts: dict[uuid.UUID, tuple[str, str]] = {}
    accepted: list[RestoreAttempt] | None = []
    if restorable:
        try:
            with session.begin_nested():
                accepted = _accept_at_once(
                    session,
                    settings,
                    owner_id,
                    [photos[pid] for pid in restorable],
                    body.options,
                    validated[0],
                    batch_id,
                )
        except _Raced:
            accepted = None  # a photo changed since it was read: one by one, each with its reason
    if accepted is None:
        accepted = []
        for photo_id in restorable:
            try:
                with session.begin_nested():
                    attempt = request_restore(
                        session,
                        settings,
                        owner_id,
                        photo_id,
                        body.options,
                        validated=validated,
                        batch_id=batch_id,
                    )
            except AppError as exc:
                if exc.status != 409:
                    raise  # a 402 here (the balance changed meanwhile) refuses the whole batch
                conflicts[photo_id] = (exc.code, exc.message)
                continue
            accepted.append(attempt)
        session.flush()
    by_photo = {attempt.photo_id: attempt for attempt in accepted}
    items: list[BatchItem] = []
    for photo_id in wanted:
        if photo_id in by_photo:
            attempt_item = attempt_out(by_photo[photo_id], runtime.store, base_url)
            items.append(BatchItem(photo_id=photo_id, status="accepted", attempt=attempt_item))
            continue
        if photo_id in conflicts:
            code, message = conflicts[photo_id]
        else:
            photo = photos.get(photo_id)
            code, message = _skip_reason(photo.status if photo else None)
        items.append(BatchItem(photo_id=photo_id, status="skipped", code=code, message=message))
    answer = BatchOut(
        batch_id=batch_id,
        total_credits=settings.price_restore * len(accepted),
        accepted=len(accepted),
        skipped=len(items) - len(accepted),
        items=items,
    ).model_dump(mode="json")
    session.add(
        RestoreBatch(
            id=batch_id,
            owner_id=owner_id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            response=answer,
            attempts_pending=len(accepted),  # its live progress (`batch_counts`)
        )
    )
    try:
        session.commit()
    except IntegrityError:
        # The same key won a race in another request: its answer stands, this one is undone.
        session.rollback()
        replay = _stored(session, owner_id, idempotency_key or "", request_hash)
        if replay is None:
            raise
        return replay
    for attempt in accepted:
        # A queue outage fails (and refunds) that attempt; the others still run.
        with contextlib.suppress(ServiceUnavailable):
            dispatch_restore(runtime, attempt.id, pending_change(owner_id, attempt))
    if accepted:  # one progress event for the whole batch, not one per attempt
        publish_batch_progress(runtime, owner_id, batch_id)
    return answer
