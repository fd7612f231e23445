"""Objects that belong to no row: recorded when a clean-up fails, removed by the sweep.

"No orphan objects" (docs/reliability.md) means every stored object belongs to a row. Whenever an
operation that stored objects cannot complete, they are removed at once (`storage.discard`); if
storage refuses that too (it is down), the keys are recorded in `orphan_objects` by `remember`, in a
short transaction of their own, since the operation's row may not exist (a failed upload) or may be
rolled back. The sweep (`rekindle worker --beat`, every `SWEEP_INTERVAL_SECONDS`) calls
`remove_orphaned_objects`, which deletes them once storage answers and drops their rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload, sessionmaker

from rekindle.db import session_scope, utcnow
from rekindle.models import OrphanObject, Photo
from rekindle.storage import keys as key_layout
from rekindle.storage.base import ObjectStore, StorageError, discard

if TYPE_CHECKING:
    from rekindle.runtime import Runtime

log = logging.getLogger(__name__)

SWEEP_BATCH = 1000
"""Keys per `delete_many` call and per transaction of the sweep (S3 DeleteObjects' limit)."""
MAX_BATCHES_PER_SWEEP = 10
"""At most this many batches per sweep, so one sweep stays short; the rest waits for the next."""


def remember(sessions: sessionmaker[Session], keys: Iterable[str], reason: str) -> bool:
    """Record `keys` (objects storage refused to delete) in `orphan_objects` for the sweep.

    Runs its own short transaction, so it works whether or not the caller's transaction survives.
    Idempotent on the key: a key recorded again keeps one row, with `noted_at` (UTC) and `reason`
    (truncated to 255 characters) updated. Never raises: if the database is unreachable too, the
    keys are logged at ERROR level (nothing else can remember them) and False is returned; True once
    recorded, or when `keys` is empty."""
    unique = sorted(set(keys))
    if not unique:
        return True
    now = utcnow()
    rows = [{"key": key, "noted_at": now, "reason": reason[:255]} for key in unique]
    try:
        with session_scope(sessions) as session:
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            statement = insert(OrphanObject).values(rows)
            # Upsert: a newer `noted_at` tells a sweep that read the key earlier to keep its row.
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[OrphanObject.key],
                    set_={"noted_at": statement.excluded.noted_at, "reason": reason[:255]},
                )
            )
    except Exception:
        log.error(
            "could not record orphaned objects %s (%s); they stay in storage until removed by hand",
            unique,
            reason,
            exc_info=True,
        )
        return False
    log.warning(
        "recorded %d orphaned object(s) for the sweep (%s): %s", len(unique), reason, unique
    )
    return True


def discard_or_remember(
    store: ObjectStore, sessions: sessionmaker[Session], keys: list[str], *, reason: str
) -> list[str]:
    """Best-effort removal of objects written for an operation that did not complete
    (`storage.discard`); whatever storage refuses to delete is `remember`ed for the sweep.
    Returns the keys left in storage (empty when all were removed). Never raises."""
    leftover = discard(store, keys)
    if leftover:
        remember(sessions, leftover, reason)
    return leftover


def forget(session: Session, keys: Iterable[str]) -> None:
    """Drop the records of `keys`, in the caller's transaction: for a key that is about to be
    written again and owned by a row (an HD result asked for again after a failure), so the sweep
    does not delete the new object."""
    wanted = list(keys)
    if wanted:
        session.execute(
            delete(OrphanObject)
            .where(OrphanObject.key.in_(wanted))
            .execution_options(synchronize_session=False)
        )


def remove_orphaned_objects(runtime: Runtime) -> int:
    """Delete the recorded orphaned objects, oldest first, in batches of `SWEEP_BATCH` keys (at most
    `MAX_BATCHES_PER_SWEEP` batches), and drop the rows of those deleted. Returns how many objects
    were deleted. Storage still down changes nothing (a warning is logged; the next sweep retries).

    A recorded key that a row references again (found through the photo id in the key) is not
    deleted; only its record is dropped. Raises what the database raises (the sweep's caller
    handles an unreachable database)."""
    removed = 0
    for _ in range(MAX_BATCHES_PER_SWEEP):
        read_at = utcnow()
        with session_scope(runtime.sessions) as session:
            batch = list(
                session.scalars(
                    select(OrphanObject.key)
                    .order_by(OrphanObject.noted_at, OrphanObject.key)
                    .limit(SWEEP_BATCH)
                )
            )
            owned = _referenced(session, batch)
        if not batch:
            break
        if owned:
            log.warning("orphan records of %d object(s) a row now owns dropped", len(owned))
        doomed = [key for key in batch if key not in owned]
        try:
            runtime.store.delete_many(doomed)  # missing keys are not an error
        except StorageError:
            log.warning(
                "storage still refuses to remove %d orphaned object(s); the next sweep retries",
                len(doomed),
            )
            break
        with session_scope(runtime.sessions) as session:
            _drop_records(session, batch, read_at)
        removed += len(doomed)
        if len(batch) < SWEEP_BATCH:
            break
    if removed:
        log.info("removed %d orphaned object(s)", removed)
    return removed


def _drop_records(session: Session, batch: list[str], read_at: datetime) -> None:
    # A key recorded again after the batch was read (its object may have been stored again since
    # the delete) keeps its row for the next sweep.
    session.execute(
        delete(OrphanObject)
        .where(OrphanObject.key.in_(batch), OrphanObject.noted_at <= read_at)
        .execution_options(synchronize_session=False)
    )


def _referenced(session: Session, candidates: list[str]) -> set[str]:
    """Those of `candidates` that a photo or attempt row points at. Looked up by the photo ids in
    the keys (primary key and indexed foreign keys), not by scanning the key columns."""
    photo_ids = {key_layout.photo_id_of(key) for key in candidates} - {None}
    if not photo_ids:
        return set()
    photos = session.scalars(
        select(Photo)
        .where(Photo.id.in_(photo_ids))
        .options(selectinload(Photo.restore_attempts), selectinload(Photo.animation_attempts))
    )
    owned: set[str | None] = set()
    for photo in photos:
        owned |= {photo.original_key, photo.thumbnail_key, photo.processed_key}
        for attempt in photo.restore_attempts:
            owned |= {attempt.s3_key, attempt.thumbnail_key, attempt.mask_key}
        for animation in photo.animation_attempts:
            owned |= {animation.preview_key, animation.thumbnail_key, animation.result_key}
    return set(candidates) & {key for key in owned if key}
