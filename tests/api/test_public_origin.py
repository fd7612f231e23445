"""`PUBLIC_BASE_URL` is the origin of every link the API hands out (the local store's signed URLs,
share links, export tickets), whatever `Host` the request came with; the links still work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from tests.support.stack import Stack, open_stack

ORIGIN = "https://photos.example"


@pytest.fixture(scope="module")
def public_stack(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("public-origin")
    # The trailing slash is how operators often write it; links must not get a double slash.
    with open_stack("embedded", data_dir, s3_endpoint, public_base_url=f"{ORIGIN}/") as running:
        yield running


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def test_every_link_is_built_on_the_public_origin(public_stack: Stack, tmp_path: Path) -> None:
    stack = public_stack
    path = tmp_path / "porch.png"
    Image.new("RGB", (64, 48), (150, 120, 90)).save(path)
    photo = stack.upload(path)
    assert stack.restore(photo["id"]).status_code == 202
    ready = stack.wait_for_photo(photo["id"], ("ready",))

    original = ready["original_url"]
    assert original.startswith(f"{ORIGIN}/api/v1/files/"), original
    # The signature covers the key, not the origin: the link works behind the public host.
    assert stack.client.get(_path(original)).status_code == 200

    share = stack.client.post(f"/api/v1/photos/{photo['id']}/shares", headers=stack.auth())
    assert share.status_code == 201, share.text
    assert share.json()["url"].startswith(f"{ORIGIN}/s/")

    album = stack.client.post("/api/v1/albums", headers=stack.auth(), json={"name": "Porch"})
    album_id = album.json()["id"]
    added = stack.client.post(
        f"/api/v1/albums/{album_id}/photos", headers=stack.auth(), json={"photo_ids": [photo["id"]]}
    )
    assert added.status_code == 200, added.text
    ticket = stack.client.post(f"/api/v1/albums/{album_id}/export-ticket", headers=stack.auth())
    assert ticket.status_code == 201, ticket.text
    url = ticket.json()["url"]
    assert url.startswith(f"{ORIGIN}/api/v1/exports/"), url
    assert stack.client.get(_path(url)).status_code == 200
