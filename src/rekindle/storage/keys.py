"""The storage key layout (DESIGN.md, after seed 004), under a per-user prefix.

The owner id is the token's `sub`, chosen by the identity provider: it enters a key only through
`owner_segment`, so that no id can contain a `/` or `..` that moves a key into another user's
prefix (`victim/../attacker`), whatever provider issued it.
"""

from __future__ import annotations

import base64
import re
import uuid

_PLAIN_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@|:+=-]{0,127}$")
"""Owner ids used as they are: what Auth0 (`auth0|65f...`, `google-oauth2|1234`), Supabase
(UUIDs) and the local issuer produce."""

ENCODED_OWNER_MARK = "~"
"""First character of an encoded owner segment; no plain id starts with it, so the two never
collide."""


def owner_segment(owner_id: str) -> str:
    """The key segment for `owner_id`: the id itself when it matches a strict pattern (letters,
    digits and `_.@|:+=-`, starting with a letter or digit, at most 128 characters, no `..`),
    else `~` followed by the unpadded URL-safe base64 (RFC 4648, section 5) of its UTF-8 bytes.
    Either way a single path segment without `/`, and never `.` or `..`. Injective."""
    if _PLAIN_OWNER.match(owner_id) and ".." not in owner_id:
        return owner_id
    encoded = base64.urlsafe_b64encode(owner_id.encode("utf-8")).rstrip(b"=").decode("ascii")
    return ENCODED_OWNER_MARK + encoded


def user_prefix(owner_id: str) -> str:
    return f"users/{owner_segment(owner_id)}/"


def original_key(owner_id: str, photo_id: uuid.UUID, extension: str) -> str:
    """The original upload. The seed calls this folder `processed/`; we keep its name."""
    return f"{user_prefix(owner_id)}processed/{photo_id}.{extension}"


def display_key(owner_id: str, photo_id: uuid.UUID) -> str:
    """The JPEG display copy of the original, beside it (so the `processed/{photo_id}.` prefix
    of `photo_prefixes` and `photo_id_of` cover it too)."""
    return f"users/{owner_segment(owner_id)}/processed/{photo_id}.display.jpg"


def restored_key(owner_id: str, photo_id: uuid.UUID, attempt_id: uuid.UUID) -> str:
    return f"{user_prefix(owner_id)}restored/{photo_id}/{attempt_id}.jpg"


def provider_input_key(owner_id: str, photo_id: uuid.UUID, attempt_id: uuid.UUID) -> str:
    """The preprocessed input a remote provider fetches by URL; removed once the attempt ends."""
    return f"{user_prefix(owner_id)}restored/{photo_id}/{attempt_id}_input.jpg"


def mask_key(owner_id: str, photo_id: uuid.UUID, attempt_id: uuid.UUID) -> str:
    """The user-painted damage mask of a restore attempt (8-bit gray PNG), kept with the attempt."""
    return f"users/{owner_segment(owner_id)}/restored/{photo_id}/{attempt_id}_mask.png"


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
    return f"{user_prefix(owner_id)}thumbnails/{photo_id}/{object_id}.jpg"


def animation_keys(owner_id: str, photo_id: uuid.UUID, attempt_id: uuid.UUID) -> tuple[str, str]:
    """(preview, HD result) MP4 keys of an animation attempt."""
    base = f"{user_prefix(owner_id)}animated/{photo_id}/{attempt_id}"
    return f"{base}_preview.mp4", f"{base}_result.mp4"


def photo_prefixes(owner_id: str, photo_id: uuid.UUID) -> list[str]:
    """Key prefixes under which every object of one photo lives (for the cleanup task)."""
    user = f"users/{owner_segment(owner_id)}"
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


def scan_display_key(owner_id: str, scan_id: uuid.UUID) -> str:
    """The JPEG display copy of a scan (for the crop editor), beside it."""
    return f"{user_prefix(owner_id)}scans/{scan_id}.display.jpg"
