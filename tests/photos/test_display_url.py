"""`original_display_url` of photos uploaded before display copies existed (no `display_key`):
the original where browsers can show it, else null; the display copy whenever there is one."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from rekindle.photos.views import display_url
from rekindle.storage import keys
from rekindle.storage.local import LocalStore
from tests.support.rows import photo_row


@pytest.mark.parametrize(
    ("mime", "extension", "shows_original"),
    [
        ("image/jpeg", "jpg", True),
        ("image/png", "png", True),
        ("image/webp", "webp", True),
        ("image/heic", "heic", False),
        ("image/tiff", "tiff", False),
    ],
)
def test_older_photos_fall_back_to_the_original_only_where_browsers_show_it(
    tmp_path: Path, mime: str, extension: str, shows_original: bool
) -> None:
    store = LocalStore(tmp_path, b"s" * 32, 60)
    photo_id = uuid.uuid4()
    original = keys.original_key("u", photo_id, extension)
    old = photo_row("u", photo_id, mime_type=mime, original_key=original)
    url = display_url(old, store, "http://test/")
    assert (url is not None) == shows_original
    if url:
        assert original in url
    new = photo_row(
        "u",
        photo_id,
        mime_type=mime,
        original_key=original,
        display_key=keys.display_key("u", photo_id),
    )
    url = display_url(new, store, "http://test/")
    assert url is not None and f"{photo_id}.display.jpg" in url


def test_display_copy_key_belongs_to_its_photo() -> None:
    """The cleanup task (prefixes) and the orphan sweep (photo_id_of) both know the copy."""
    photo_id = uuid.uuid4()
    key = keys.display_key("auth0|a/b", photo_id)
    assert keys.photo_id_of(key) == photo_id
    assert any(key.startswith(prefix) for prefix in keys.photo_prefixes("auth0|a/b", photo_id))
