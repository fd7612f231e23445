"""Scans of several prints: store the scan, detect its prints, cut them into photos.

A scan is stored once (`keys.scan_key`), with a JPEG display copy for the crop editor
(`keys.scan_display_key`) and the prints detected in it. Confirming cuts each
(possibly edited) quadrilateral out of the scan, straightens it and stores it as a photo exactly
as an upload would be (`photos.service.create_photo`: validation, thumbnail, quota), with
`source_scan_id` and `metadata.source_scan` = {"scan_id", "quad"}. The scan object and row are
removed with the last photo cut from it (`release_if_unused`).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from rekindle.config import Settings
from rekindle.errors import BadRequest, NotFound, ServiceUnavailable
from rekindle.imaging.display import make_display_copy
from rekindle.imaging.scans import detect_prints, extract_print, load_scan, order_corners
from rekindle.imaging.validate import inspect_image
from rekindle.models import AlbumPhoto, Photo, Scan
from rekindle.photos import quota
from rekindle.photos import service as photos
from rekindle.photos.uploads import ReceivedFile
from rekindle.storage import ObjectStore, StorageError, keys
from rekindle.storage.orphans import discard_or_remember

log = logging.getLogger(__name__)

MAX_SCAN_SIDE = 12000
"""Longest side, pixels, a scan is decoded at for cutting (prints keep their resolution)."""
MAX_PRINTS_PER_SCAN = 24


def get_scan(session: Session, owner_id: str, scan_id: uuid.UUID) -> Scan:
    """The owner's scan. Raises NotFound (`scan_not_found`), also for another user's scan."""
    scan = session.scalars(
        select(Scan).where(Scan.id == scan_id, Scan.owner_id == owner_id)
    ).one_or_none()
    if scan is None:
        raise NotFound("No such scan.", code="scan_not_found")
    return scan


def store_scan(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    owner_id: str,
    upload: ReceivedFile,
    *,
    sessions: sessionmaker[Session],
    detect: bool = True,
) -> tuple[Scan, np.ndarray]:
    """Validate and store a scan and its JPEG display copy, detect its prints (unless `detect` is
    False: then the whole scan is one print), and add its row (flushed, not committed). Returns the row and the decoded
    scan (H×W×3 uint8 RGB) for cutting. Raises the upload errors (UnsupportedMediaType,
    InvalidImage) and ServiceUnavailable (`storage_unavailable`); nothing is left stored then."""
    info = inspect_image(upload.path, max_pixels=settings.max_image_pixels)
    data = upload.path.read_bytes()
    rgb = load_scan(data, max_side=MAX_SCAN_SIDE)
    display = make_display_copy(data)
    height, width = rgb.shape[:2]
    if detect:
        detected = [
            {"quad": p.as_list(), "angle_degrees": round(p.angle_degrees, 2), "fill": p.fill}
            for p in detect_prints(rgb)
        ]
    else:
        detected = [
            {
                "quad": [[0, 0], [width, 0], [width, height], [0, height]],
                "angle_degrees": 0.0,
                "fill": 1.0,
            }
        ]
    scan_id = uuid.uuid4()
    display_key = keys.scan_display_key(owner_id, scan_id)
    scan = Scan(
        id=scan_id,
        owner_id=owner_id,
        object_key=keys.scan_key(owner_id, scan_id, info.extension),
        display_key=display_key,
        mime_type=info.mime_type,
        size_bytes=upload.size_bytes,
        width=width,
        height=height,
        original_filename=upload.filename,
        detected=detected,
    )
    try:
        store.put_file(scan.object_key, upload.path, info.mime_type)
        store.put(display_key, display, "image/jpeg")
    except StorageError as exc:
        discard_or_remember(store, sessions, scan.stored_keys(), reason="scan upload failed")
        raise ServiceUnavailable(
            "Storage is unavailable; the scan was not saved. Please retry.",
            code="storage_unavailable",
        ) from exc
    session.add(scan)
    session.flush()
    return scan, rgb


def check_quota(
    sessions: sessionmaker[Session], settings: Settings, owner_id: str, size: int
) -> None:
    """Refuse a scan early when the user's storage or daily uploads are spent (413/429
    `quota_exceeded`). Call it before the request's transaction begins: it reads on a connection
    of its own, which SQLite's write lock would keep waiting."""
    quota.precheck(sessions, settings, owner_id, size)


def validate_quads(
    quads: Sequence[Sequence[Sequence[float]]], width: int, height: int
) -> list[np.ndarray]:
    """Check client-given quadrilaterals: 1-24 of them, each 4 finite [x, y] corners within the
    scan (1 pixel of slack), convex, at least 16×16 pixels. Returns them as 4×2 float32 arrays in
    print order. Raises BadRequest (`invalid_quad`) naming the first bad one."""
    if not 1 <= len(quads) <= MAX_PRINTS_PER_SCAN:
        raise BadRequest(f"Give 1 to {MAX_PRINTS_PER_SCAN} prints.", code="invalid_quad")
    out = []
    for index, quad in enumerate(quads):
        ordered = _checked_quad(quad, width, height)
        if ordered is None:
            raise BadRequest(
                f"Print {index + 1} is not a convex quadrilateral of 4 [x, y] corners inside the "
                f"{width}×{height} scan.",
                code="invalid_quad",
            )
        out.append(ordered)
    return out


def _checked_quad(quad: Sequence[Sequence[float]], width: int, height: int) -> np.ndarray | None:
    try:
        array = np.asarray(quad, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if array.shape != (4, 2) or not np.isfinite(array).all():
        return None
    inside = (array[:, 0] >= -1).all() and (array[:, 0] <= width + 1).all()
    if not inside or not ((array[:, 1] >= -1).all() and (array[:, 1] <= height + 1).all()):
        return None
    ordered = order_corners(array.astype(np.float32))
    sides = np.linalg.norm(ordered - np.roll(ordered, -1, axis=0), axis=1)
    if not cv2.isContourConvex(ordered) or cv2.contourArea(ordered) < 256 or sides.min() < 16:
        return None
    return ordered


def cut_photos(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    owner_id: str,
    scan: Scan,
    rgb: np.ndarray,
    quads: Sequence[np.ndarray],
    *,
    border: bool,
    album_id: uuid.UUID | None,
    sessions: sessionmaker[Session],
) -> list[Photo]:
    """Cut each quadrilateral out of the scan into a photo (flushed, not committed; on commit
    failure call `discard_photos`). Each print is stored as a JPEG (quality 95) and validated
    like an upload. Raises what `photos.service.create_photo` raises; photos already made by
    this call are discarded first."""
    made: list[Photo] = []
    base = Path(scan.original_filename or "scan").stem
    try:
        for number, quad in enumerate(quads, start=1):
            pixels = extract_print(rgb, quad, border=border)
            photo = _store_print(
                session, store, settings, owner_id, pixels, f"{base}-{number}.jpg", sessions
            )
            photo.source_scan_id = scan.id
            photo.metadata_json = {
                **photo.metadata_json,
                "source_scan": {"scan_id": str(scan.id), "quad": np.round(quad, 1).tolist()},
            }
            if album_id is not None:
                session.add(AlbumPhoto(album_id=album_id, photo_id=photo.id))
            made.append(photo)
        session.flush()
    except Exception:
        discard_photos(store, sessions, made, reason="scan cut failed")
        raise
    return made


def _store_print(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    owner_id: str,
    pixels: np.ndarray,
    filename: str,
    sessions: sessionmaker[Session],
) -> Photo:
    with tempfile.NamedTemporaryFile(prefix="rekindle-print-", suffix=".jpg") as tmp:
        Image.fromarray(pixels).save(tmp, format="JPEG", quality=95)
        tmp.flush()
        data = Path(tmp.name).read_bytes()
        received = ReceivedFile(
            Path(tmp.name), len(data), hashlib.sha256(data).hexdigest(), filename
        )
        # The quota is checked once for the scan before its transaction began (`check_quota`);
        # `create_photo` still reserves each print's bytes in this transaction.
        return photos.create_photo(
            session, store, settings, owner_id, received, sessions=sessions, precheck=False
        )


def discard_photos(
    store: ObjectStore, sessions: sessionmaker[Session], made: Sequence[Photo], *, reason: str
) -> None:
    """Best-effort removal of the objects of photos whose rows are not kept. Never raises."""
    for photo in made:
        photos.discard_new_photo_objects(store, sessions, photo, reason=reason)


def discard_scan(store: ObjectStore, sessions: sessionmaker[Session], scan: Scan) -> None:
    """Best-effort removal of a scan object whose row is not kept. Never raises."""
    discard_or_remember(store, sessions, scan.stored_keys(), reason="scan not kept")


def delete_unconfirmed(
    session: Session, store: ObjectStore, owner_id: str, scan_id: uuid.UUID
) -> None:
    """Delete a scan no photo was cut from (a preview the person abandoned). Raises NotFound
    (`scan_not_found`), BadRequest (`scan_in_use`: a scan with photos goes with the last of
    them) and ServiceUnavailable (`storage_unavailable`)."""
    scan = get_scan(session, owner_id, scan_id)
    in_use = session.scalar(
        select(func.count()).select_from(Photo).where(Photo.source_scan_id == scan.id)
    )
    if in_use:
        raise BadRequest(
            "Photos were cut from this scan; it is deleted with the last of them.",
            code="scan_in_use",
        )
    try:
        store.delete_many(scan.stored_keys())
    except StorageError as exc:
        raise ServiceUnavailable(
            "Storage is unavailable; the scan was not deleted. Please retry.",
            code="storage_unavailable",
        ) from exc
    session.delete(scan)
    session.flush()


def scan_pixels(store: ObjectStore, scan: Scan) -> np.ndarray:
    """Decode a stored scan (H×W×3 uint8 RGB). Raises ServiceUnavailable when storage fails."""
    try:
        data = store.get(scan.object_key)
    except StorageError as exc:
        raise ServiceUnavailable(
            "Storage is unavailable; please retry.", code="storage_unavailable"
        ) from exc
    return load_scan(data, max_side=MAX_SCAN_SIDE)
