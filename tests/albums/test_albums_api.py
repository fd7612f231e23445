"""Issue 16 on both stacks (a real worker): a scan split into photos, restored by one batch and
downloaded as one ZIP; the preview/confirm flow; batch pricing, idempotency and skipped entries;
album CRUD and ownership."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from typing import Any

import numpy as np
import pytest
from PIL import Image

from benchmarks.scans.synth import load_photos, make_scan
from tests.credits.helpers import balance, new_user, upload
from tests.support.services import shared_photo
from tests.support.stack import Stack
from tests.web.sse import SSEClient

API = "/api/v1"


@pytest.fixture(scope="module")
def three_print_scan() -> bytes:
    shared_photo("real-old")
    rng = np.random.default_rng(3)
    scan = make_scan(rng, load_photos(), count=3, kind="black_page", size=(900, 1150), max_angle=20)
    assert len(scan.quads) == 3
    out = io.BytesIO()
    Image.fromarray(scan.rgb).save(out, format="PNG")
    return out.getvalue()


def _post_scan(stack: Stack, user: str, data: bytes, **params: Any) -> Any:
    return stack.client.post(
        f"{API}/scans",
        params=params,
        headers=stack.auth(user),
        files={"file": ("album-page.png", data, "image/png")},
    )


def _wait_ready(stack: Stack, user: str, photo_ids: list[str]) -> None:
    for photo_id in photo_ids:
        photo = stack.wait_for_photo(photo_id, ("ready", "uploaded"), user=user, timeout=120)
        assert photo["status"] == "ready", photo["restore_attempts"][:1]


def test_scan_split_batch_restored_and_exported(stack: Stack, three_print_scan: bytes) -> None:
    user = new_user(stack, "album", credits=10)
    album = stack.client.post(f"{API}/albums", json={"name": "Grandma"}, headers=stack.auth(user))
    assert album.status_code == 201
    album_id = album.json()["id"]
    response = stack.client.post(
        f"{API}/scans",
        headers=stack.auth(user),
        data={"album_id": album_id},
        files={"file": ("page.png", three_print_scan, "image/png")},
    )
    assert response.status_code == 201, response.text
    scan = response.json()
    assert len(scan["prints"]) == 3 and len(scan["photos"]) == 3
    photo_ids = [photo["id"] for photo in scan["photos"]]
    for photo in scan["photos"]:
        assert photo["original_filename"].startswith("page-")
    page = stack.client.get(f"{API}/albums/{album_id}", headers=stack.auth(user)).json()
    assert page["photo_count"] == 3 and {p["id"] for p in page["items"]} == set(photo_ids)

    batch = stack.client.post(
        f"{API}/photos/restore-batch",
        json={"album_id": album_id, "options": {"denoise": 0.5}},
        headers={**stack.auth(user), "Idempotency-Key": "grandma-1"},
    )
    assert batch.status_code == 202, batch.text
    body = batch.json()
    assert body["accepted"] == 3 and body["total_credits"] == 3
    assert balance(stack, user) == 7
    _wait_ready(stack, user, photo_ids)

    exported = stack.client.get(f"{API}/albums/{album_id}/export", headers=stack.auth(user))
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    names = sorted(archive.namelist())
    assert names == [
        "manifest.json",
        "page-1-restored.jpg",
        "page-2-restored.jpg",
        "page-3-restored.jpg",
    ]
    manifest = json.loads(archive.read("manifest.json"))
    assert {record["photo_id"] for record in manifest["photos"]} == set(photo_ids)
    for record in manifest["photos"]:
        assert record["attempt"]["engine"] == "classic"
        (entry,) = record["files"]
        assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"]
    Image.open(io.BytesIO(archive.read("page-1-restored.jpg"))).verify()


def test_preview_then_confirm_edited_prints(stack: Stack, three_print_scan: bytes) -> None:
    user = new_user(stack, "preview", credits=0)
    before = stack.object_keys()
    preview = _post_scan(stack, user, three_print_scan, preview="true")
    assert preview.status_code == 201, preview.text
    scan = preview.json()
    assert scan["photos"] == [] and len(scan["prints"]) == 3
    # The person drops one print and drags a corner of another.
    kept = [scan["prints"][0]["quad"], scan["prints"][2]["quad"]]
    kept[0][0] = [kept[0][0][0] + 3, kept[0][0][1] + 3]
    bad = stack.client.post(
        f"{API}/scans/{scan['id']}/photos",
        json={"prints": [{"quad": [[0, 0], [5, 0], [5, 5], [0, 5]]}]},
        headers=stack.auth(user),
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_quad"
    outside = stack.client.post(
        f"{API}/scans/{scan['id']}/photos",
        json={"prints": [{"quad": [[0, 0], [99999, 0], [99999, 50], [0, 50]]}]},
        headers=stack.auth(user),
    )
    assert outside.status_code == 400
    confirmed = stack.client.post(
        f"{API}/scans/{scan['id']}/photos",
        json={"prints": [{"quad": q} for q in kept]},
        headers=stack.auth(user),
    )
    assert confirmed.status_code == 201, confirmed.text
    photos = confirmed.json()["photos"]
    assert len(photos) == 2
    # The scan and its display copy are kept while a photo cut from it lives, and deleted with
    # the last one.
    scan_keys = {k for k in stack.object_keys() - before if "/scans/" in k}
    assert len(scan_keys) == 2 and any(k.endswith(".display.jpg") for k in scan_keys)
    for photo in photos:
        assert (
            stack.client.delete(f"{API}/photos/{photo['id']}", headers=stack.auth(user)).status_code
            == 204
        )
    assert not {k for k in stack.object_keys() if "/scans/" in k} & scan_keys
    gone = stack.client.get(f"{API}/scans/{scan['id']}", headers=stack.auth(user))
    assert gone.status_code == 404


def test_detect_false_and_a_plain_photo_give_one_photo(stack: Stack) -> None:
    user = new_user(stack, "plain", credits=0)
    photo_bytes = shared_photo("real-old/bw-boy-rubble-1945.jpg").read_bytes()
    for params in ({}, {"detect": "false"}):
        response = stack.client.post(
            f"{API}/scans",
            params=params,
            headers=stack.auth(user),
            files={"file": ("boy.jpg", photo_bytes, "image/jpeg")},
        )
        assert response.status_code == 201, response.text
        assert len(response.json()["photos"]) == 1


def test_batch_is_all_or_nothing_idempotent_and_skips(stack: Stack) -> None:
    user = new_user(stack, "batch", credits=2)
    photos = [upload(stack, user, seed)["id"] for seed in range(3)]
    auth = stack.auth(user)
    short = stack.client.post(
        f"{API}/photos/restore-batch", json={"photo_ids": photos}, headers=auth
    )
    assert short.status_code == 402
    assert short.json()["error"]["required"] == 3
    assert balance(stack, user) == 2
    assert all(not stack.photo(p, user)["restore_attempts"] for p in photos)

    archived = stack.client.post(f"{API}/photos/{photos[2]}/archive", headers=auth)
    assert archived.status_code == 200
    stranger = upload(stack, new_user(stack, "stranger"), 9)["id"]
    missing = str(uuid.uuid4())
    body = {"photo_ids": [*photos, stranger, missing]}
    headers = {**auth, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = stack.client.post(f"{API}/photos/restore-batch", json=body, headers=headers)
    assert first.status_code == 202, first.text
    answer = first.json()
    assert [item["status"] for item in answer["items"]] == [
        "accepted",
        "accepted",
        "skipped",
        "skipped",
        "skipped",
    ]
    assert [item["code"] for item in answer["items"][2:]] == [
        "photo_archived",
        "photo_not_found",
        "photo_not_found",
    ]
    assert balance(stack, user) == 0
    again = stack.client.post(f"{API}/photos/restore-batch", json=body, headers=headers)
    assert again.status_code == 202 and again.json() == answer
    assert balance(stack, user) == 0
    reused = stack.client.post(
        f"{API}/photos/restore-batch", json={"photo_ids": photos[:1]}, headers=headers
    )
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"
    _wait_ready(stack, user, photos[:2])
    in_progress = stack.client.post(
        f"{API}/photos/restore-batch", json={"photo_ids": photos[:1]}, headers=auth
    )
    assert in_progress.status_code == 402  # ready again but no credits left


def test_albums_crud_and_ownership(stack: Stack) -> None:
    owner, other = new_user(stack, "owner"), new_user(stack, "other")
    mine = [upload(stack, owner, seed)["id"] for seed in range(2)]
    theirs = upload(stack, other, 5)["id"]
    auth, stranger = stack.auth(owner), stack.auth(other)
    album = stack.client.post(f"{API}/albums", json={"name": "Trip"}, headers=auth).json()
    album_url = f"{API}/albums/{album['id']}"
    assert (
        stack.client.post(f"{album_url}/photos", json={"photo_ids": mine}, headers=auth).json()[
            "photo_count"
        ]
        == 2
    )
    refused = stack.client.post(
        f"{album_url}/photos", json={"photo_ids": [mine[0], theirs]}, headers=auth
    )
    assert refused.status_code == 404
    renamed = stack.client.patch(album_url, json={"name": "Summer trip"}, headers=auth)
    assert renamed.json()["name"] == "Summer trip"
    listed = stack.client.get(f"{API}/albums", headers=auth).json()["items"]
    assert [a["id"] for a in listed] == [album["id"]]
    page = stack.client.get(album_url, params={"limit": 1}, headers=auth).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = stack.client.get(
        album_url, params={"limit": 1, "cursor": page["next_cursor"]}, headers=auth
    ).json()
    assert {page["items"][0]["id"], rest["items"][0]["id"]} == set(mine)
    for method, url, kwargs in [
        ("GET", album_url, {}),
        ("PATCH", album_url, {"json": {"name": "x"}}),
        ("DELETE", album_url, {}),
        ("POST", f"{album_url}/photos", {"json": {"photo_ids": [theirs]}}),
        ("DELETE", f"{album_url}/photos/{mine[0]}", {}),
        ("GET", f"{album_url}/export", {}),
        ("POST", f"{API}/photos/restore-batch", {"json": {"album_id": album["id"]}}),
        ("POST", f"{API}/exports", {"json": {"photo_ids": [mine[0]]}}),
    ]:
        response = stack.client.request(method, url, headers=stranger, **kwargs)
        assert response.status_code == 404, (method, url, response.text)
    assert stack.client.delete(f"{album_url}/photos/{mine[0]}", headers=auth).status_code == 204
    assert stack.client.delete(album_url, headers=auth).status_code == 204
    assert stack.photo(mine[0], owner)["id"] == mine[0]  # photos stay with the album gone
    second = stack.client.post(f"{API}/albums", json={"name": "Gone"}, headers=auth).json()
    stack.client.post(
        f"{API}/albums/{second['id']}/photos", json={"photo_ids": mine[1:]}, headers=auth
    )
    deleted = stack.client.delete(
        f"{API}/albums/{second['id']}", params={"delete_photos": "true"}, headers=auth
    )
    assert deleted.status_code == 204
    assert stack.client.get(f"{API}/photos/{mine[1]}", headers=auth).status_code == 404


def test_batch_progress_arrives_in_the_live_events(stack: Stack) -> None:
    user = new_user(stack, "progress", credits=5)
    photos = [upload(stack, user, seed)["id"] for seed in range(2)]
    stream = SSEClient(stack.base_url, f"{API}/events", stack.auth(user)).open()
    try:
        stream.next(event="ready")
        batch = stack.client.post(
            f"{API}/photos/restore-batch", json={"photo_ids": photos}, headers=stack.auth(user)
        ).json()
        while True:
            frame = stream.next(timeout=60, event="batch")
            assert frame.data["batch_id"] == batch["batch_id"]
            assert frame.data["total"] == 2
            if frame.data["done"]:
                break
    finally:
        stream.close()
    assert frame.data["completed"] == 2 and frame.data["failed"] == 0
