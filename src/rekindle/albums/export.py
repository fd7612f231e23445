"""Export photos as one streamed ZIP (zipstream-ng): the chosen results with human file names,
optionally the originals and animations, and a `manifest.json`.

Nothing is buffered but one stored object at a time: entries are generators that read their
object from the store only when the ZIP reaches them, and the manifest, written last, carries the
SHA-256 of every file as it was streamed. Entries are stored uncompressed (JPEG and MP4 do not
compress further). An object that storage cannot give any more is left out and named in the
manifest's `missing`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from sqlalchemy.orm import Session, selectinload
from zipstream import ZIP_STORED, ZipStream

from rekindle.db import utcnow
from rekindle.errors import NotFound
from rekindle.models import AnimationAttempt, Photo
from rekindle.photos.service import owned_photos_query
from rekindle.storage import ObjectStore, StorageError

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    arcname: str
    key: str
    photo_id: uuid.UUID
    role: str  # restored, original, animation
    details: dict[str, Any] = field(default_factory=dict)


def _stem(photo: Photo) -> str:
    name = PurePath(photo.original_filename or "").stem
    cleaned = "".join(c if c.isalnum() or c in "-_ ." else "_" for c in name).strip(" .")
    return cleaned[:80] or f"photo-{str(photo.id)[:8]}"


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{stem}-{n}{dot}{ext}"
        n += 1
    taken.add(candidate)
    return candidate


def load_photos(session: Session, owner_id: str, photo_ids: Sequence[uuid.UUID]) -> list[Photo]:
    """The owner's photos in the order asked, with their attempts. Raises NotFound
    (`photo_not_found`, ids in `photo_ids`) when any is not the owner's."""
    wanted = list(dict.fromkeys(photo_ids))
    found = {
        photo.id: photo
        for photo in session.scalars(
            owned_photos_query(owner_id)
            .where(Photo.id.in_(wanted))
            .options(selectinload(Photo.restore_attempts), selectinload(Photo.animation_attempts))
        )
    }
    missing = [str(pid) for pid in wanted if pid not in found]
    if missing:
        raise NotFound(
            f"No such photo: {missing[0]}.", code="photo_not_found", extra={"photo_ids": missing}
        )
    return [found[pid] for pid in wanted]


def plan(
    photos: Sequence[Photo], *, originals: bool, animations: bool
) -> tuple[list[_Entry], list[dict[str, Any]]]:
    """The ZIP's entries and the manifest's per-photo records (before checksums)."""
    entries: list[_Entry] = []
    records: list[dict[str, Any]] = []
    taken: set[str] = {"manifest.json"}
    for photo in photos:
        stem = _stem(photo)
        chosen = next(
            (a for a in photo.restore_attempts if a.id == photo.selected_restore_id), None
        )
        record: dict[str, Any] = {
            "photo_id": str(photo.id),
            "original_filename": photo.original_filename,
            "files": [],
        }
        if chosen is not None and chosen.s3_key:
            record["attempt"] = {
                "id": str(chosen.id),
                "engine": chosen.engine,
                "model": chosen.model,
                "settings": (chosen.params or {}).get("request", {}),
                "finished_at": chosen.finished_at.isoformat() if chosen.finished_at else None,
            }
            entries.append(
                _Entry(_unique(f"{stem}-restored.jpg", taken), chosen.s3_key, photo.id, "restored")
            )
        else:
            record["attempt"] = None
        if originals:
            extension = photo.original_key.rsplit(".", 1)[-1]
            entries.append(
                _Entry(
                    _unique(f"{stem}-original.{extension}", taken),
                    photo.original_key,
                    photo.id,
                    "original",
                )
            )
        if animations:
            latest: AnimationAttempt | None = next(
                (a for a in reversed(photo.animation_attempts) if a.preview_key or a.result_key),
                None,
            )
            if latest is not None:
                hd = latest.result_key is not None
                key = latest.result_key or latest.preview_key
                assert key is not None
                suffix = "hd" if hd else "animation"
                entries.append(
                    _Entry(_unique(f"{stem}-{suffix}.mp4", taken), key, photo.id, "animation")
                )
        records.append(record)
    return entries, records


def stream_zip(
    store: ObjectStore, entries: list[_Entry], records: list[dict[str, Any]]
) -> Iterator[bytes]:
    """The ZIP's bytes, chunk by chunk; reads each object from `store` when it is reached."""
    checksums: dict[str, dict[str, Any]] = {}
    missing: list[str] = []

    def content(entry: _Entry) -> Iterator[bytes]:
        try:
            data = store.get(entry.key)
        except StorageError:
            log.warning("export: object %s could not be read; left out", entry.key)
            missing.append(entry.arcname)
            return
        checksums[entry.arcname] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        yield data

    def manifest() -> Iterator[bytes]:
        by_photo: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            if entry.arcname in checksums:
                by_photo.setdefault(str(entry.photo_id), []).append(
                    {"name": entry.arcname, "role": entry.role, **checksums[entry.arcname]}
                )
        for record in records:
            record["files"] = by_photo.get(record["photo_id"], [])
        body = {
            "generator": "rekindle",
            "created_at": utcnow().isoformat(),
            "photos": records,
            "missing": missing,
        }
        yield json.dumps(body, indent=2).encode()

    archive = ZipStream(compress_type=ZIP_STORED)
    for entry in entries:
        archive.add(content(entry), entry.arcname)
    archive.add(manifest(), "manifest.json")
    yield from archive
