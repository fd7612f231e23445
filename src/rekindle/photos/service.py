"""Photo business rules. Functions take a Session and never commit (the caller owns the unit of
work); every per-user read starts from `owned_photos_query`."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from rekindle import batch_counts
from rekindle.config import Settings
from rekindle.credits.ledger import charge, charge_reference
from rekindle.db import utcnow
from rekindle.engines.base import RESTORE_OPTIONS
from rekindle.engines.registry import available_restoration_engines, restoration_engine
from rekindle.errors import (
    AppError,
    BadRequest,
    Conflict,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
)
from rekindle.imaging.decode import decode_slot
from rekindle.imaging.display import make_display_copy
from rekindle.imaging.mask import Mask, decode_mask_data_uri
from rekindle.imaging.thumbnails import make_thumbnail
from rekindle.imaging.validate import inspect_image
from rekindle.models import AnimationAttempt, AttemptStatus, Photo, PhotoStatus, RestoreAttempt
from rekindle.pagination import newest_first_page
from rekindle.photos import quota
from rekindle.photos.schemas import RestoreOptions
from rekindle.photos.uploads import ReceivedFile
from rekindle.scans.cleanup import release_if_unused
from rekindle.storage import ObjectStore, StorageError, keys
from rekindle.storage.orphans import discard_or_remember

log = logging.getLogger(__name__)

RESTORABLE = (PhotoStatus.UPLOADED, PhotoStatus.READY)


def owned_photos_query(owner_id: str) -> Select[Photo]:
    """The owner's live (not deleted) photos; every per-user photo read starts here."""
    return select(Photo).where(Photo.owner_id == owner_id, Photo.deleted_at.is_(None))


def get_photo(session: Session, owner_id: str, photo_id: uuid.UUID) -> Photo:
    """The owner's photo with its attempts. Raises NotFound (also for another user's photo)."""
    photo = session.scalars(
        owned_photos_query(owner_id)
        .where(Photo.id == photo_id)
        .options(selectinload(Photo.restore_attempts), selectinload(Photo.animation_attempts))
    ).one_or_none()
    if photo is None:
        raise NotFound("No such photo.", code="photo_not_found")
    return photo


def create_photo(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    owner_id: str,
    upload: ReceivedFile,
    *,
    sessions: sessionmaker[Session],
    email: str | None = None,
    precheck: bool = True,
) -> Photo:
    """Validate an upload, store the original, its JPEG display copy and a thumbnail, and add the photo row (flushed, not
    committed: the caller commits, and calls `discard_new_photo_objects` if that fails).

    Nothing is stored unless the image is valid; if storing fails, whatever was stored is removed
    and ServiceUnavailable (`storage_unavailable`) is raised. An object storage refuses to remove
    then (it failed mid-upload) is recorded in `orphan_objects` through `sessions` (a transaction
    of its own: there is no photo row to own it) and removed by the sweep. Raises the imaging
    errors (UnsupportedMediaType, InvalidImage) for bad files, and `photos.quota`'s
    StorageQuotaExceeded (413) and DailyUploadsExceeded (429) past the user's limits.
    """
    if precheck:  # on its own connection: only before the caller's transaction has begun
        quota.precheck(sessions, settings, owner_id, upload.size_bytes)
    with decode_slot(settings.decode_max_parallel):
        info = inspect_image(
            upload.path,
            max_pixels=settings.max_image_pixels,
            max_bytes=settings.max_decode_bytes,
        )
        data = upload.path.read_bytes()
        # The display copy is decoded once from the original; the thumbnail comes from it (a
        # JPEG that libjpeg reduces cheaply) instead of a second full decode of a HEIC or TIFF.
        display = make_display_copy(data, max_side=settings.display_max_side)
        thumbnail = make_thumbnail(
            display, size=settings.thumbnail_size, max_decode_bytes=settings.max_decode_bytes
        )
    photo_id = uuid.uuid4()
    photo = Photo(
        id=photo_id,
        owner_id=owner_id,
        original_key=keys.original_key(owner_id, photo_id, info.extension),
        thumbnail_key=keys.thumbnail_key(owner_id, photo_id, photo_id),
        display_key=keys.display_key(owner_id, photo_id),
        status=PhotoStatus.UPLOADED,
        size_bytes=upload.size_bytes,
        stored_bytes=upload.size_bytes + len(display) + len(thumbnail),
        mime_type=info.mime_type,
        checksum_sha256=upload.sha256,
        width=info.width,
        height=info.height,
        original_filename=upload.filename,
        metadata_json={"format": info.format, **({"email": email} if email else {})},
    )
    stored: list[str] = []
    try:
        store.put_file(photo.original_key, upload.path, info.mime_type)
        stored.append(photo.original_key)
        assert photo.thumbnail_key
        store.put(photo.thumbnail_key, thumbnail, "image/jpeg")
        stored.append(photo.thumbnail_key)
        assert photo.display_key
        store.put(photo.display_key, display, "image/jpeg")
        stored.append(photo.display_key)
    except StorageError as exc:
        discard_or_remember(store, sessions, stored, reason="upload failed: storage_unavailable")
        raise ServiceUnavailable(
            "Storage is unavailable; the photo was not saved. Please retry.",
            code="storage_unavailable",
        ) from exc
    try:
        # The quota is decided here, with the user's row locked until the commit (photos.quota).
        quota.reserve_upload(session, settings, owner_id, photo.stored_bytes)
        session.add(photo)
        session.flush()
    except Exception as exc:
        # Roll back first: on SQLite the transaction holds the write lock that recording an
        # orphan needs. (A failed flush has already rolled back its transaction.)
        session.rollback()
        reason = getattr(exc, "code", None) or "row not written"
        discard_or_remember(store, sessions, stored, reason=f"upload failed: {reason}")
        raise
    return photo


def commit_new_photo(
    session: Session, store: ObjectStore, sessions: sessionmaker[Session], photo: Photo
) -> None:
    """Commit the transaction that added `photo` (from `create_photo`). Committed in the endpoint,
    not after the response: the connection goes back to the pool at once, and if the commit fails
    the stored original and thumbnail are removed (or recorded for the sweep) before the error is
    re-raised, instead of being left without a row."""
    try:
        session.commit()
    except Exception:
        discard_new_photo_objects(store, sessions, photo, reason="upload failed: commit failed")
        raise


def discard_new_photo_objects(
    store: ObjectStore, sessions: sessionmaker[Session], photo: Photo, *, reason: str
) -> None:
    """Best-effort removal of a new photo's original and thumbnail when its row is not kept (its
    commit failed, or the request it came with was refused); what storage refuses to remove is
    recorded in `orphan_objects` for the sweep. Never raises."""
    stored = [key for key in (photo.original_key, photo.thumbnail_key, photo.display_key) if key]
    discard_or_remember(store, sessions, stored, reason=reason)


def list_photos(
    session: Session,
    owner_id: str,
    *,
    cursor: str | None,
    limit: int,
    status: str | None = None,
) -> tuple[list[Photo], str | None]:
    """A page of the owner's photos, newest first, and the cursor of the next page (or None).

    `status` None lists every photo but the archived ones (seed 002: archiving takes a photo out
    of the gallery); a status lists only photos in it (`archived` for the archive)."""
    query = owned_photos_query(owner_id)
    if status is None:
        query = query.where(Photo.status != PhotoStatus.ARCHIVED)
    else:
        query = query.where(Photo.status == status)
    return newest_first_page(session, query, Photo, cursor=cursor, limit=limit)


def photo_object_keys(photo: Photo) -> list[str]:
    """Every stored object of a photo: original, its thumbnail and display copy, each attempt's
    result, thumbnail and mask, each animation's videos and thumbnail."""
    found = [photo.original_key, photo.thumbnail_key, photo.display_key]
    for attempt in photo.restore_attempts:
        found += [attempt.s3_key, attempt.thumbnail_key, attempt.mask_key]
    for animation in photo.animation_attempts:
        found += [animation.preview_key, animation.thumbnail_key, animation.result_key]
    return [key for key in found if key]


def delete_photo(session: Session, store: ObjectStore, owner_id: str, photo_id: uuid.UUID) -> None:
    """Remove the photo's stored objects (batch delete), then its rows.

    Objects go first: if storage is down the rows stay (503) and the user can retry, so no object is
    ever left without a row pointing at it. A result a worker stores after this is removed by the
    worker when it finds its attempt gone. Its attempts of a batch leave their batch's counts
    (`batch_counts.move_attempt`), as they leave a count of its attempts.
    """
    photo = get_photo(session, owner_id, photo_id)
    # Lock the attempts, read fresh, before collecting keys (PostgreSQL; SQLite's write lock does
    # the same): a worker recording a result either committed first and its keys are read here, or
    # waits, finds its attempt gone, and removes what it stored. The collections are expired so
    # they also hold an attempt added since `get_photo` read them.
    leaving: list[tuple[uuid.UUID, str]] = []  # its batch attempts: (batch, status)
    for attempts in (RestoreAttempt, AnimationAttempt):
        for attempt in session.scalars(
            select(attempts)
            .where(attempts.photo_id == photo_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ):
            if isinstance(attempt, RestoreAttempt) and attempt.batch_id is not None:
                leaving.append((attempt.batch_id, attempt.status))
    session.expire(photo, ["restore_attempts", "animation_attempts"])
    try:
        store.delete_many(photo_object_keys(photo))
    except StorageError as exc:
        raise ServiceUnavailable(
            "Storage is unavailable; the photo was not deleted. Please retry.",
            code="storage_unavailable",
        ) from exc
    scan_id = photo.source_scan_id
    session.delete(photo)
    session.flush()
    for batch_id, status in leaving:  # after the flush: batch rows are locked last
        batch_counts.move_attempt(session, batch_id, status, None)
    release_if_unused(session, store, scan_id)


def resolve_engine(settings: Settings, requested: str | None) -> str:
    """The engine to use: `requested` if a request may name it, else the configured default."""
    name = requested or settings.rekindle_engine
    available = available_restoration_engines(settings)
    if name not in available:
        raise BadRequest(
            f"Engine {name!r} is not available; choose one of: {', '.join(available)}.",
            code="unknown_engine",
        )
    return name


def _not_restorable(status: str | None) -> AppError:
    if status is None:
        return NotFound("No such photo.", code="photo_not_found")
    if status == PhotoStatus.PROCESSING:
        return Conflict(
            "A restoration of this photo is already running.", code="restore_in_progress"
        )
    if status == PhotoStatus.ARCHIVED:
        return Conflict(
            "This photo is archived; unarchive it to restore it.", code="photo_archived"
        )
    return Conflict(f"A photo that is {status} cannot be restored.", code="photo_not_restorable")


def _switch_to_processing(session: Session, owner_id: str, photo_id: uuid.UUID, seen: str) -> str:
    """Switch the photo from `seen` (its status as last read) to processing with one conditional
    UPDATE, and return the status it had: a failed attempt puts that status back. The UPDATE is
    conditional on exactly that status, not on any restorable one, so what is put back is never
    a stale read (a `processing` read just before another attempt ended would later be "restored"
    and leave the photo stuck in processing). When a restoration ending elsewhere moved the status
    on meanwhile, it is read again and tried again. Raises Conflict or NotFound."""
    status: str | None = seen
    for _ in range(3):
        if status not in RESTORABLE:
            break
        switched = session.execute(
            update(Photo)
            .where(Photo.id == photo_id, Photo.owner_id == owner_id, Photo.status == status)
            .values(status=PhotoStatus.PROCESSING, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if switched:
            return status
        status = session.scalar(select(Photo.status).where(Photo.id == photo_id))
    raise _not_restorable(status)


def check_options(settings: Settings, engine: str, options: RestoreOptions) -> None:
    """Refuse a request naming an option (`RestoreOptions.named_options`) that `engine` does not
    honour (its `supported_options()`). Raises Unprocessable (422 `option_unsupported`, the
    option in the message and in `extra["option"]`)."""
    honoured = restoration_engine(engine, settings).supported_options()
    for name in options.named_options():
        if name not in honoured:
            offered = ", ".join(o for o in RESTORE_OPTIONS if o in honoured) or "none"
            raise Unprocessable(
                f"The {engine} engine does not take the {name!r} option (it takes: {offered}).",
                code="option_unsupported",
                extra={"option": name, "engine": engine},
            )


def validate_restore(settings: Settings, options: RestoreOptions) -> tuple[str, Mask | None]:
    """Everything about a restore request that needs no database: the engine (BadRequest
    `unknown_engine`), its options (422 `option_unsupported`) and the mask, decoded and normalized
    (422 `mask_*`, see `imaging.mask.decode_mask_data_uri`). Returns (engine, mask or None)."""
    engine = resolve_engine(settings, options.engine)
    check_options(settings, engine, options)
    mask = decode_mask_data_uri(options.mask) if options.mask is not None else None
    return engine, mask


def new_attempt(
    attempt_id: uuid.UUID,
    photo_id: uuid.UUID,
    engine: str,
    options: RestoreOptions,
    *,
    price: int,
    photo_status_before: str,
    mask_key: str | None = None,
    mask: Mask | None = None,
    batch_id: uuid.UUID | None = None,
) -> RestoreAttempt:
    """The pending attempt row of an accepted restoration (not added to a session). Its params
    record the request as sent (`params["request"]`: the options but the engine and the mask's
    data, plus `mask.record(mask_key)` with a mask), the credits charged and, for an attempt of a
    batch restoration, its `batch_id`."""
    request: dict[str, Any] = options.model_dump(exclude={"engine", "mask"}, exclude_none=True)
    if mask is not None and mask_key is not None:
        request["mask"] = mask.record(mask_key)
    params: dict[str, Any] = {"request": request, "credits_charged": price}
    if batch_id is not None:
        params["batch_id"] = str(batch_id)
    return RestoreAttempt(
        id=attempt_id,
        photo_id=photo_id,
        status=AttemptStatus.PENDING,
        engine=engine,
        params=params,
        photo_status_before=photo_status_before,
        batch_id=batch_id,
        mask_key=mask_key,
        created_at=utcnow(),
    )


def request_restore(
    session: Session,
    settings: Settings,
    owner_id: str,
    photo_id: uuid.UUID,
    options: RestoreOptions,
    *,
    validated: tuple[str, Mask | None] | None = None,
    batch_id: uuid.UUID | None = None,
) -> RestoreAttempt:
    """Accept a restoration: charge its price (`PRICE_RESTORE` credits, reference
    `charge:{attempt_id}`), switch the photo to `processing` in one conditional UPDATE and add a
    pending attempt, all in the caller's transaction. Raises NotFound, PaymentRequired (402
    `insufficient_credits`: nothing is changed), Conflict (`restore_in_progress`, `photo_archived`,
    or a photo that cannot be restored in its status; the charge is rolled back with the
    transaction), BadRequest (`unknown_engine`), Unprocessable (`option_unsupported`, `mask_*`):
    every refusal comes before anything is charged or written.

    `validated` is `validate_restore(settings, options)` when the caller has it already;
    `batch_id` names the batch restoration the attempt belongs to. With a
    mask, the attempt's `mask_key` and `params["request"]["mask"]` are set, and the caller must
    store the mask's PNG at `mask_key` before committing (`restoration.runner.accept_restore`).
    The caller commits, then calls `dispatch_restore`. A failure refunds the charge once
    (`restoration.outcomes.mark_failed`).
    """
    engine, mask = validated or validate_restore(settings, options)
    photo = get_photo(session, owner_id, photo_id)
    if photo.status not in RESTORABLE:
        raise _not_restorable(photo.status)
    # The charge comes first: the user row is locked before the photo row (docs/credits.md).
    attempt_id = uuid.uuid4()
    price = settings.price_restore
    if price > 0:
        charge(
            session,
            owner_id,
            price,
            reference=charge_reference(attempt_id),
            reason=f"Restoration of photo {photo_id}",
        )
    before = _switch_to_processing(session, owner_id, photo_id, photo.status)
    attempt = new_attempt(
        attempt_id,
        photo_id,
        engine,
        options,
        price=price,
        photo_status_before=before,
        mask_key=keys.mask_key(owner_id, photo_id, attempt_id) if mask is not None else None,
        mask=mask,
        batch_id=batch_id,
    )
    session.add(attempt)
    session.flush()
    return attempt


def get_attempt(
    session: Session, owner_id: str, photo_id: uuid.UUID, attempt_id: uuid.UUID
) -> RestoreAttempt:
    """One attempt of the owner's photo. Raises NotFound."""
    photo = get_photo(session, owner_id, photo_id)
    for attempt in photo.restore_attempts:
        if attempt.id == attempt_id:
            return attempt
    raise NotFound("No such restore attempt.", code="attempt_not_found")


def select_attempt(
    session: Session, owner_id: str, photo_id: uuid.UUID, attempt_id: uuid.UUID
) -> Photo:
    """Make a completed attempt the photo's chosen result. Raises NotFound, Conflict."""
    attempt = get_attempt(session, owner_id, photo_id, attempt_id)
    if attempt.status != AttemptStatus.COMPLETED:
        raise Conflict("Only a completed attempt can be selected.", code="attempt_not_completed")
    photo = attempt.photo
    photo.selected_restore_id = attempt.id
    photo.processed_key = attempt.s3_key
    session.flush()
    return photo


ARCHIVABLE = (PhotoStatus.UPLOADED, PhotoStatus.READY)


def archive_photo(session: Session, owner_id: str, photo_id: uuid.UUID) -> Photo:
    """Seed 002's `ready -> archived` (also from `uploaded`): one conditional UPDATE that keeps
    the status it had in `archived_from`. Archiving an archived photo changes nothing. Raises
    NotFound, Conflict (`restore_in_progress` while a restoration runs)."""
    photo = get_photo(session, owner_id, photo_id)
    for _ in range(3):
        if photo.status == PhotoStatus.ARCHIVED:
            return photo
        if photo.status not in ARCHIVABLE:
            break
        now = utcnow()
        switched = session.execute(
            update(Photo)
            .where(Photo.id == photo_id, Photo.status == photo.status)
            .values(
                status=PhotoStatus.ARCHIVED,
                archived_from=photo.status,
                archived_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        session.refresh(photo)
        if switched:
            return photo
    if photo.status == PhotoStatus.PROCESSING:
        raise Conflict(
            "A restoration of this photo is running; archive it once it has finished.",
            code="restore_in_progress",
        )
    raise Conflict(f"A photo that is {photo.status} cannot be archived.", code="not_archivable")


def unarchive_photo(session: Session, owner_id: str, photo_id: uuid.UUID) -> Photo:
    """`archived -> ` the status the photo had when archived (`ready` or `uploaded`). A photo that
    is not archived is returned unchanged. Raises NotFound."""
    photo = get_photo(session, owner_id, photo_id)
    if photo.status != PhotoStatus.ARCHIVED:
        return photo
    back = photo.archived_from or (
        PhotoStatus.READY if photo.selected_restore_id else PhotoStatus.UPLOADED
    )
    session.execute(
        update(Photo)
        .where(Photo.id == photo_id, Photo.status == PhotoStatus.ARCHIVED)
        .values(status=back, archived_from=None, archived_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(photo)
    return photo
