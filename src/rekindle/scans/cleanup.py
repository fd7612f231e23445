"""Delete a scan with the last photo cut from it (called from photo deletion; imports no upper
layer)."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rekindle.models import Photo, Scan
from rekindle.storage import ObjectStore, StorageError

log = logging.getLogger(__name__)


def release_if_unused(session: Session, store: ObjectStore, scan_id: uuid.UUID | None) -> None:
    """Delete the scan (object, then row) when no live photo is cut from it any more: called
    after a photo is deleted. A storage failure leaves the scan for a later delete (logged)."""
    if scan_id is None:
        return
    remaining = session.scalar(
        select(func.count())
        .select_from(Photo)
        .where(Photo.source_scan_id == scan_id, Photo.deleted_at.is_(None))
    )
    if remaining:
        return
    scan = session.get(Scan, scan_id)
    if scan is None:
        return
    try:
        store.delete_many(scan.stored_keys())
    except StorageError:
        log.warning("could not delete scan %s; it stays until its owner is deleted", scan_id)
        return
    session.delete(scan)
    session.flush()
