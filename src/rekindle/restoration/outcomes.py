"""Record how an attempt ended. Each function is one conditional UPDATE, so a late or repeated
call (a slow worker after the sweep, a task delivered twice) changes nothing.

An attempt of a batch also moves one count on its batch's row (`batch_counts.move_attempt`), in the same
transaction and after every other row it locks, so that the batch's live progress is read from
its row (`events.batch_progress`) instead of counted over its attempts on every event (issue 16).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import BindParameter, ColumnElement, Table, Update, bindparam, case, select, update
from sqlalchemy.orm import Session

from rekindle.batch_counts import move_attempt
from rekindle.credits.ledger import charge_reference, refund
from rekindle.db import utcnow
from rekindle.models import AttemptStatus, Photo, PhotoStatus, RestoreAttempt

UNFINISHED = (AttemptStatus.PENDING, AttemptStatus.PROCESSING)
ATTEMPTS_TABLE = cast(Table, RestoreAttempt.__table__)
PHOTOS_TABLE = cast(Table, Photo.__table__)
# The worker's hot path names the tables' columns, not the mapped attributes: a statement that
# mentions an ORM attribute is run through the ORM's bulk-update machinery (issue 16).
ATTEMPTS = ATTEMPTS_TABLE.c
PHOTOS = PHOTOS_TABLE.c


# The worker's hot path runs statements built once, with bound parameters: building a statement
# and its cache key on every call cost more CPU than running it (issue 16, docs/benchmarks.md,
# tenth pass). Binds are typed by their column: SQLite stores a UUID or a datetime as text
# through the column's type.
def _bind(name: str, column: ColumnElement[Any]) -> BindParameter[Any]:
    return bindparam(name, type_=column.type)


def _transition(old: str, new: str, **values: object) -> Update:
    """The conditional UPDATE of attempt `:attempt_id` from status `old` to `new`."""
    return (
        update(ATTEMPTS_TABLE)
        .where(ATTEMPTS.id == bindparam("attempt_id"), ATTEMPTS.status == old)
        .values(status=new, **values)
    )


_MARK_PROCESSING = _transition(
    AttemptStatus.PENDING, AttemptStatus.PROCESSING, started_at=_bind("now", ATTEMPTS.started_at)
).returning(ATTEMPTS.batch_id)
_MARK_COMPLETED = _transition(
    AttemptStatus.PROCESSING,
    AttemptStatus.COMPLETED,
    model=_bind("model", ATTEMPTS.model),
    params=_bind("params", ATTEMPTS.params),
    s3_key=_bind("result_key", ATTEMPTS.s3_key),
    thumbnail_key=_bind("thumbnail_key", ATTEMPTS.thumbnail_key),
    finished_at=_bind("now", ATTEMPTS.finished_at),
)


def _photo_ready(chosen: bool) -> Update:
    """The photo's UPDATE when an attempt completes: `ready`, its storage counted, and this result
    selected when the request asked for it (`chosen`) or when nothing was selected yet."""
    result_key = _bind("result_key", PHOTOS.processed_key)
    attempt_id = _bind("attempt_id", PHOTOS.selected_restore_id)
    unchosen = PHOTOS.selected_restore_id.is_(None)
    return (
        update(PHOTOS_TABLE)
        .where(PHOTOS.id == bindparam("photo_id"))
        .values(
            status=PhotoStatus.READY,
            processed_key=result_key
            if chosen
            else case((unchosen, result_key), else_=PHOTOS.processed_key),
            selected_restore_id=attempt_id
            if chosen
            else case((unchosen, attempt_id), else_=PHOTOS.selected_restore_id),
            updated_at=_bind("now", PHOTOS.updated_at),
            # The result and its thumbnail count against the owner's storage quota.
            stored_bytes=PHOTOS.stored_bytes + _bind("stored_bytes", PHOTOS.stored_bytes),
        )
    )


_PHOTO_READY = {chosen: _photo_ready(chosen) for chosen in (False, True)}


def mark_processing(session: Session, attempt_id: uuid.UUID) -> bool:
    """pending -> processing (a Core UPDATE: no ORM bookkeeping on the worker's hot path), and its
    batch's count (`batch_counts.move_attempt`). False when the attempt was not pending (already taken,
    finished, failed by the sweep, or deleted with its photo)."""
    taken = session.execute(
        _MARK_PROCESSING, {"attempt_id": attempt_id, "now": utcnow()}
    ).one_or_none()
    if taken is None:
        return False
    if taken.batch_id is not None:
        move_attempt(session, taken.batch_id, AttemptStatus.PENDING, AttemptStatus.PROCESSING)
    return True


def _stored_bytes(params: dict[str, object]) -> int:
    value = params.get("stored_bytes")
    return value if isinstance(value, int) and value > 0 else 0


@dataclass(frozen=True)
class ClaimedAttempt:
    """What the claim read of an attempt it marked processing, for its finish (`mark_completed`)
    to need no read-back: its photo, its batch, and its params as they stand (the claim's, plus
    the provider's job reference once the worker recorded it: nothing else writes the params of
    a processing attempt)."""

    photo_id: uuid.UUID
    batch_id: uuid.UUID | None
    params: dict[str, object]


def mark_completed(
    session: Session,
    attempt_id: uuid.UUID,
    *,
    model: str,
    params: dict[str, object],
    result_key: str,
    thumbnail_key: str,
    claimed: ClaimedAttempt | None = None,
) -> bool:
    """processing -> completed, and the photo becomes `ready` with this result selected (then its
    batch's count, `batch_counts.move_attempt`). `params` are merged over the attempt's; `claimed`
    spares the read of the attempt's photo, batch and params (None: one SELECT).

    Returns False when the attempt is no longer processing (the caller then removes its objects).
    """
    if claimed is None:
        row = session.execute(
            select(ATTEMPTS.params, ATTEMPTS.photo_id, ATTEMPTS.batch_id).where(
                ATTEMPTS.id == attempt_id
            )
        ).one_or_none()
        if row is None:
            return False
        claimed = ClaimedAttempt(row.photo_id, row.batch_id, row.params)
    now = utcnow()
    done = session.execute(
        _MARK_COMPLETED,
        {
            "attempt_id": attempt_id,
            "model": model,
            "params": {**claimed.params, **params},
            "result_key": result_key,
            "thumbnail_key": thumbnail_key,
            "now": now,
        },
    ).rowcount  # type: ignore[attr-defined]
    if not done:
        return False
    # The new result becomes the chosen one when the request asked for it, or when nothing was
    # chosen yet; otherwise the person's choice stands (they pick with `selected-restore`).
    request = claimed.params.get("request")
    chosen = isinstance(request, dict) and bool(request.get("select"))
    session.execute(
        _PHOTO_READY[chosen],
        {
            "photo_id": claimed.photo_id,
            "result_key": result_key,
            "attempt_id": attempt_id,
            "now": now,
            "stored_bytes": _stored_bytes(params),
        },
    )
    if claimed.batch_id is not None:
        move_attempt(session, claimed.batch_id, AttemptStatus.PROCESSING, AttemptStatus.COMPLETED)
    return True


def record_remote_job(session: Session, attempt_id: uuid.UUID, ref: dict[str, object]) -> bool:
    """Keep the provider's job reference (`{"prompt_id"}`, `{"job_id"}`) in the params of an attempt
    still processing, as `params["remote"]`, so that the stuck-attempt sweep can cancel the job if
    the worker dies. Returns False when the attempt is no longer processing."""
    attempt = session.scalars(
        select(RestoreAttempt).where(RestoreAttempt.id == attempt_id)
    ).one_or_none()
    if attempt is None or attempt.status != AttemptStatus.PROCESSING:
        return False
    return bool(
        session.execute(
            update(RestoreAttempt)
            .where(
                RestoreAttempt.id == attempt_id,
                RestoreAttempt.status == AttemptStatus.PROCESSING,
            )
            .values(params={**attempt.params, "remote": dict(ref)})
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    )


def mark_failed(
    session: Session,
    attempt_id: uuid.UUID,
    *,
    code: str,
    message: str,
    detail: str | None = None,
    params: dict[str, object] | None = None,
) -> bool:
    """pending/processing -> failed with a code and message; the credits it was charged are
    refunded (once: the refund's reference is unique) and the photo returns to the status it had
    before the attempt, and its batch's count moves (`batch_counts.move_attempt`). Returns False when the
    attempt had already ended (nothing changes). The attempt's row is locked when it is read, so
    that the status it leaves (pending or processing) is the one its batch counted.

    Every failure goes through here (worker failure, dispatch failure, the stuck-attempt sweep), so
    the refund happens only when this conditional update is the one that failed the attempt."""
    attempt = session.scalars(
        select(RestoreAttempt)
        .where(RestoreAttempt.id == attempt_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if attempt is None or attempt.status not in UNFINISHED:
        return False
    previous = attempt.status
    failed = session.execute(
        update(RestoreAttempt)
        .where(RestoreAttempt.id == attempt_id, RestoreAttempt.status.in_(UNFINISHED))
        .values(
            status=AttemptStatus.FAILED,
            error_code=code,
            error_message=message[:255],
            error_detail=detail[:4000] if detail else None,
            params={**attempt.params, **(params or {})},
            finished_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not failed:
        return False
    # Before the photo row: the user row is locked before the photo row (docs/credits.md).
    refund(session, charge_reference(attempt_id), reason=f"Restoration failed: {code}")
    session.execute(
        update(Photo)
        .where(Photo.id == attempt.photo_id, Photo.status == PhotoStatus.PROCESSING)
        .values(status=attempt.photo_status_before, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if attempt.batch_id is not None:
        move_attempt(session, attempt.batch_id, previous, AttemptStatus.FAILED)
    return True
