"""The storage key layout (DESIGN.md, after seed 004), under a per-user prefix."""

from __future__ import annotations

import uuid


def user_prefix(owner_id: str) -> str:
    return f"users/{owner_id}/"


def original_key(owner_id: str, photo_id: uuid.UUID, extension: str) -> str:
    """The original upload. The seed calls this folder `processed/`; we keep its name."""
    return f"users/{owner_id}/processed/{photo_id}.{extension}"


def restored_key(owner_id: str, photo_id: uuid.UUID, attempt_id: uuid.UUID) -> str:
    return f"users/{owner_id}/restored/{photo_id}/{attempt_id}.jpg"


def provider_input_key(owner_id: str, photo_id: uuid.UUID, attempt_id: uuid.UUID) -> str:
    """The preprocessed input a remote provider fetches by URL; removed once the attempt ends."""
    return f"users/{owner_id}/restored/{photo_id}/{attempt_id}_input.jpg"


def mask_key(owner_id: str, photo_id: uuid.UUID, attempt_id: uuid.UUID) -> str:
    """The user-painted damage mask of a restore attempt (8-bit gray PNG), kept with the attempt."""
    return f"users/{owner_id}/restored/{photo_id}/{attempt_id}_mask.png"


def restore_attempt_keys(owner_id: str, photo_id: uuid.UUID, attempt_id: uuid.UUID) -> list[str]:
    """Every object a restore attempt may store (result, its thumbnail, the provider input): what
    to remove when the attempt fails, whichever step it died in."""
    return [
        restored_key(owner_id, photo_id, attempt_id),
        thumbnail_key(owner_id, photo_id, attempt_id),
        provider_input_key(owner_id, photo_id, attempt_id),
    ]


def thumbnail_key(owner_id: str, photo_id: uuid.UUID, object_id: uuid.UUID) -> str:
    """Thumbnail of the original (`object_id == photo_id`) or of an attempt's result."""
    return f"users/{owner_id}/thumbnails/{photo_id}/{object_id}.jpg"


def animation_keys(owner_id: str, photo_id: uuid.UUID, attempt_id: uuid.UUID) -> tuple[str, str]:
    """(preview, HD result) MP4 keys of an animation attempt."""
    base = f"users/{owner_id}/animated/{photo_id}/{attempt_id}"
    return f"{base}_preview.mp4", f"{base}_result.mp4"


def photo_prefixes(owner_id: str, photo_id: uuid.UUID) -> list[str]:
    """Key prefixes under which every object of one photo lives (for the cleanup task)."""
    user = f"users/{owner_id}"
    return [
        f"{user}/processed/{photo_id}.",
        f"{user}/restored/{photo_id}/",
        f"{user}/thumbnails/{photo_id}/",
        f"{user}/animated/{photo_id}/",
    ]


_PHOTO_FOLDERS = ("restored", "thumbnails", "animated")


def photo_id_of(key: str) -> uuid.UUID | None:
    """The id of the photo a key of this layout belongs to (`users/{owner}/processed/{photo}.{ext}`
    or `users/{owner}/{restored|thumbnails|animated}/{photo}/...`), or None for any other key.
    Read from the right, so an owner id containing "/" does not mislead it."""
    parts = key.split("/")
    if len(parts) < 4 or parts[0] != "users":
        return None
    if parts[-2] == "processed":
        candidate = parts[-1].split(".", 1)[0]
    elif len(parts) >= 5 and parts[-3] in _PHOTO_FOLDERS:
        candidate = parts[-2]
    else:
        return None
    try:
        return uuid.UUID(candidate)
    except ValueError:
        return None


def scan_key(owner_id: str, scan_id: uuid.UUID, extension: str) -> str:
    """A scan of several prints (issue 16), kept while a photo cut from it lives."""
    return f"{user_prefix(owner_id)}scans/{scan_id}.{extension}"
