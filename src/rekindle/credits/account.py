"""The account's own data: profile and balance, the ledger, a full export, and deletion.

Functions take a Session and never commit (the request owns the transaction).
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from rekindle.credits import ledger
from rekindle.errors import NotFound, ServiceUnavailable
from rekindle.models import (
    Album,
    AlbumPhoto,
    CreditLedgerEntry,
    DeletedSubject,
    PaymentEvent,
    Photo,
    Scan,
    User,
)
from rekindle.models.deleted_subject import subject_hash
from rekindle.photos.service import owned_photos_query, photo_object_keys
from rekindle.storage import ObjectStore, StorageError

log = logging.getLogger(__name__)

RECENT_ENTRIES = 10


def get_user(session: Session, user_id: str, *, lock: bool = False) -> User:
    """The user, read fresh from the database; with `lock`, its row is locked (FOR UPDATE) until
    the transaction ends. Raises NotFound (`user_not_found`)."""
    query = select(User).where(User.id == user_id).execution_options(populate_existing=True)
    user = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    return user


def all_entries(session: Session, user_id: str) -> list[CreditLedgerEntry]:
    """The user's whole ledger, oldest first."""
    return list(
        session.scalars(
            select(CreditLedgerEntry)
            .where(CreditLedgerEntry.user_id == user_id)
            .order_by(CreditLedgerEntry.created_at, CreditLedgerEntry.id)
        )
    )


def payments(session: Session, user_id: str) -> list[PaymentEvent]:
    return list(
        session.scalars(
            select(PaymentEvent)
            .where(PaymentEvent.user_id == user_id)
            .order_by(PaymentEvent.created_at, PaymentEvent.id)
        )
    )


def owned_photos(session: Session, user_id: str) -> list[Photo]:
    """The user's photos, oldest first, with their attempts."""
    return list(
        session.scalars(
            owned_photos_query(user_id)
            .order_by(Photo.created_at, Photo.id)
            .options(selectinload(Photo.restore_attempts), selectinload(Photo.animation_attempts))
        )
    )


def owned_albums(session: Session, user_id: str) -> list[tuple[Album, list[uuid.UUID]]]:
    """The user's albums, oldest first, each with its live photos' ids in the order added."""
    albums = list(
        session.scalars(
            select(Album).where(Album.owner_id == user_id).order_by(Album.created_at, Album.id)
        )
    )
    members: dict[uuid.UUID, list[uuid.UUID]] = {album.id: [] for album in albums}
    rows = session.execute(
        select(AlbumPhoto.album_id, AlbumPhoto.photo_id)
        .join(Photo, Photo.id == AlbumPhoto.photo_id)
        .where(AlbumPhoto.album_id.in_(members), Photo.deleted_at.is_(None))
        .order_by(AlbumPhoto.added_at, AlbumPhoto.photo_id)
    )
    for album_id, photo_id in rows:
        members[album_id].append(photo_id)
    return [(album, members[album.id]) for album in albums]


def owned_scans(session: Session, user_id: str) -> list[Scan]:
    """The user's stored scans (confirmed or previews), oldest first."""
    return list(
        session.scalars(
            select(Scan).where(Scan.owner_id == user_id).order_by(Scan.created_at, Scan.id)
        )
    )


def delete_account(session: Session, store: ObjectStore, user_id: str) -> None:
    """Delete the account: every stored object of its photos and scans (batch delete) first, then
    the photos and their attempts, then the user row (scans go with it). Ledger rows and payment
    records are kept for accounting, with `user_id` replaced by `ledger.anonymous_id(user_id)`;
    the signup reference (the only one that names the user) is rewritten the same way.

    If storage is down, ServiceUnavailable (`storage_unavailable`) is raised and nothing is deleted,
    so no object is ever left without the row that points at it. Raises NotFound (`user_not_found`).
    A restoration still running finds its attempt gone and removes what it stores. The subject is
    tombstoned (`deleted_subjects`): its tokens get 401 `account_deleted` from then on.
    """
    # The user row first, as every transaction that touches both (docs/credits.md): no deadlock
    # with a restore being accepted, and none is accepted while the keys are collected.
    get_user(session, user_id, lock=True)
    photos = list(session.scalars(select(Photo).where(Photo.owner_id == user_id)))
    keys = [key for photo in photos for key in photo_object_keys(photo)]
    # Scans are stored apart from the photos cut from them (an abandoned preview has none); their
    # rows go with the user row (ON DELETE CASCADE), their objects must go here.
    keys += [key for scan in owned_scans(session, user_id) for key in scan.stored_keys()]
    try:
        store.delete_many(keys)
    except StorageError as exc:
        raise ServiceUnavailable(
            "Storage is unavailable; the account was not deleted. Please retry.",
            code="storage_unavailable",
        ) from exc
    for photo in photos:
        session.delete(photo)  # attempts go with it (ORM cascade and ON DELETE CASCADE)
    session.flush()
    anonymous = ledger.anonymous_id(user_id)
    session.execute(
        update(CreditLedgerEntry)
        .where(CreditLedgerEntry.reference == ledger.signup_reference(user_id))
        .values(reference=ledger.signup_reference(anonymous))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(CreditLedgerEntry)
        .where(CreditLedgerEntry.user_id == user_id)
        .values(user_id=anonymous)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(PaymentEvent)
        .where(PaymentEvent.user_id == user_id)
        .values(user_id=anonymous)
        .execution_options(synchronize_session=False)
    )
    # The tombstone, in the same transaction as the deletion: from its commit on, the account's
    # tokens get 401 and nothing creates it again (rekindle.users.ensure_user).
    session.add(DeletedSubject(subject_sha256=subject_hash(user_id)))
    session.flush()
    session.execute(
        delete(User).where(User.id == user_id).execution_options(synchronize_session=False)
    )
    session.expunge_all()
    log.info("account deleted (%d photos, %d objects) as %s", len(photos), len(keys), anonymous)
