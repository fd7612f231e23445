"""Album business rules. Functions take a Session and never commit (the caller owns the unit of
work); every read is scoped to the owner, so another user's album is NotFound everywhere."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from rekindle.errors import NotFound
from rekindle.models import Album, AlbumPhoto, Photo
from rekindle.pagination import newest_first_page
from rekindle.photos.service import owned_photos_query


def get_album(session: Session, owner_id: str, album_id: uuid.UUID) -> Album:
    """The owner's album. Raises NotFound (`album_not_found`), also for another user's album."""
    album = session.scalars(
        select(Album).where(Album.id == album_id, Album.owner_id == owner_id)
    ).one_or_none()
    if album is None:
        raise NotFound("No such album.", code="album_not_found")
    return album


def create_album(session: Session, owner_id: str, name: str) -> Album:
    """A new, empty album named `name` (1-200 characters, checked by the schema)."""
    album = Album(owner_id=owner_id, name=name.strip() or name)
    session.add(album)
    session.flush()
    return album


def photo_counts(session: Session, album_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Live photos in each album, by album id (albums without photos are absent)."""
    if not album_ids:
        return {}
    rows = session.execute(
        select(AlbumPhoto.album_id, func.count())
        .join(Photo, Photo.id == AlbumPhoto.photo_id)
        .where(AlbumPhoto.album_id.in_(album_ids), Photo.deleted_at.is_(None))
        .group_by(AlbumPhoto.album_id)
    )
    return {album_id: count for album_id, count in rows}


def list_albums(
    session: Session, owner_id: str, *, cursor: str | None, limit: int
) -> tuple[list[Album], str | None]:
    """A page of the owner's albums, newest first, and the next page's cursor (or None)."""
    query = select(Album).where(Album.owner_id == owner_id)
    return newest_first_page(session, query, Album, cursor=cursor, limit=limit)


def album_photos(
    session: Session, owner_id: str, album_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[Photo], str | None]:
    """A page of the album's photos, newest first (the cursor of `/photos`). Raises NotFound."""
    get_album(session, owner_id, album_id)
    query = (
        owned_photos_query(owner_id)
        .join(AlbumPhoto, AlbumPhoto.photo_id == Photo.id)
        .where(AlbumPhoto.album_id == album_id)
    )
    return newest_first_page(session, query, Photo, cursor=cursor, limit=limit)


def album_photo_ids(session: Session, owner_id: str, album_id: uuid.UUID) -> list[uuid.UUID]:
    """Every live photo id of the owner's album, oldest first (the order an album was filled in).
    Raises NotFound (`album_not_found`), also for another user's album."""
    return album_with_photo_ids(session, owner_id, album_id)[1]


def album_with_photo_ids(
    session: Session, owner_id: str, album_id: uuid.UUID
) -> tuple[Album, list[uuid.UUID]]:
    """The owner's album and its live photo ids (as `album_photo_ids`). Raises NotFound."""
    album = get_album(session, owner_id, album_id)
    return album, list(
        session.scalars(
            select(Photo.id)
            .join(AlbumPhoto, AlbumPhoto.photo_id == Photo.id)
            .where(
                AlbumPhoto.album_id == album_id,
                Photo.owner_id == owner_id,
                Photo.deleted_at.is_(None),
            )
            .order_by(Photo.created_at, Photo.id)
        )
    )


def add_photos(
    session: Session, owner_id: str, album_id: uuid.UUID, photo_ids: Sequence[uuid.UUID]
) -> Album:
    """Add the owner's photos to the album (already there: unchanged). All or nothing: raises
    NotFound (`photo_not_found`) when any id is not one of the owner's photos."""
    album = get_album(session, owner_id, album_id)
    wanted = set(photo_ids)
    owned = set(
        session.scalars(
            owned_photos_query(owner_id).with_only_columns(Photo.id).where(Photo.id.in_(wanted))
        )
    )
    missing = wanted - owned
    if missing:
        raise NotFound(
            f"No such photo: {sorted(str(m) for m in missing)[0]}.",
            code="photo_not_found",
            extra={"photo_ids": sorted(str(m) for m in missing)},
        )
    present = set(
        session.scalars(
            select(AlbumPhoto.photo_id).where(
                AlbumPhoto.album_id == album_id, AlbumPhoto.photo_id.in_(wanted)
            )
        )
    )
    for photo_id in photo_ids:
        if photo_id not in present:
            session.add(AlbumPhoto(album_id=album_id, photo_id=photo_id))
            present.add(photo_id)
    session.flush()
    return album


def remove_photo(session: Session, owner_id: str, album_id: uuid.UUID, photo_id: uuid.UUID) -> None:
    """Take a photo out of the album (the photo stays). Raises NotFound when it is not in it."""
    get_album(session, owner_id, album_id)
    removed = session.execute(
        delete(AlbumPhoto).where(AlbumPhoto.album_id == album_id, AlbumPhoto.photo_id == photo_id)
    ).rowcount  # type: ignore[attr-defined]
    if not removed:
        raise NotFound("The photo is not in this album.", code="photo_not_found")


def rename_album(session: Session, owner_id: str, album_id: uuid.UUID, name: str) -> Album:
    """Rename the owner's album. Raises NotFound."""
    album = get_album(session, owner_id, album_id)
    album.name = name.strip() or name
    session.flush()
    return album


def delete_album(session: Session, owner_id: str, album_id: uuid.UUID) -> list[uuid.UUID]:
    """Delete the album (its memberships go with it) and return the ids of its live photos, so
    that a caller asked to delete them too can do so. Raises NotFound."""
    photo_ids = album_photo_ids(session, owner_id, album_id)
    session.execute(delete(Album).where(Album.id == album_id, Album.owner_id == owner_id))
    session.flush()
    return photo_ids
