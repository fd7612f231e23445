"""The restoration flow end to end, on the embedded stack and on PostgreSQL + Redis + S3, with a
real worker process."""

from __future__ import annotations

import concurrent.futures
import io
import time

import httpx
import numpy as np
from PIL import Image

from tests.support.services import shared_photo
from tests.support.stack import Stack


def _download(url: str) -> bytes:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return response.content


def test_upload_restore_poll_download(stack: Stack) -> None:
    source = shared_photo("real-old/scratch-couple-soldier.png")
    photo = stack.upload(source)
    assert photo["status"] == "uploaded"
    assert (photo["width"], photo["height"]) == (400, 256)
    assert photo["mime_type"] == "image/png"
    original = _download(photo["original_url"])
    assert original == source.read_bytes()  # the original is kept byte for byte
    with Image.open(io.BytesIO(_download(photo["thumbnail_url"]))) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) == min(
            400, max(photo["width"], photo["height"])
        )

    accepted = stack.restore(photo["id"], denoise=0.7)
    assert accepted.status_code == 202, accepted.text
    attempt = accepted.json()
    assert attempt["status"] == "pending"
    assert attempt["params"]["request"]["denoise"] == 0.7

    ready = stack.wait_for_photo(photo["id"], ("ready",))
    done = ready["restore_attempts"][0]
    assert done["id"] == attempt["id"] and done["status"] == "completed"
    assert done["engine"] == "classic" and done["model"]
    assert done["params"]["preprocessed"]["original_dimensions"] == [400, 256]
    assert ready["selected_restore_id"] == attempt["id"]

    restored = _download(ready["processed_url"])
    with Image.open(io.BytesIO(restored)) as image:
        assert image.format == "JPEG"
        restored_image = image.convert("RGB")
    with Image.open(source) as image:
        original_image = image.convert("RGB")
    width, height = restored_image.size
    assert abs(width / height - 400 / 256) < 0.02  # same picture, aspect kept
    # The restoration changed the picture (its quality is measured in benchmarks/quality).
    restored_pixels = np.asarray(restored_image.resize(original_image.size), dtype=np.int16)
    assert np.abs(restored_pixels - np.asarray(original_image, dtype=np.int16)).mean() > 1.0

    with Image.open(io.BytesIO(_download(ready["restored_thumbnail_url"]))) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) <= 400

    single = stack.client.get(
        f"/api/v1/photos/{photo['id']}/restores/{attempt['id']}", headers=stack.auth()
    )
    assert single.status_code == 200 and single.json()["result_url"]


def test_second_restore_while_running_gets_409(stack: Stack) -> None:
    photo = stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: stack.restore(photo["id"]), range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(202) == 1, statuses
    assert statuses.count(409) == 7, statuses
    conflict = next(r for r in responses if r.status_code == 409).json()["error"]
    assert conflict["code"] == "restore_in_progress"
    stack.wait_for_photo(photo["id"], ("ready",))
    assert len(stack.photo(photo["id"])["restore_attempts"]) == 1
    # Once finished, the photo can be restored again, and every attempt is kept.
    assert stack.restore(photo["id"], denoise=0.2).status_code == 202
    again = stack.wait_for_photo(photo["id"], ("ready",))
    assert [a["status"] for a in again["restore_attempts"]] == ["completed", "completed"]


def test_a_new_attempt_is_chosen_only_when_asked_or_nothing_was(stack: Stack) -> None:
    photo = stack.upload(shared_photo("real-old/scratch-girl-floral.png"))
    first = stack.restore(photo["id"], denoise=0.1).json()
    ready = stack.wait_for_photo(photo["id"], ("ready",))
    assert ready["selected_restore_id"] == first["id"]  # nothing was chosen yet
    second = stack.restore(photo["id"], denoise=0.9).json()
    ready = stack.wait_for_photo(photo["id"], ("ready",))
    assert ready["selected_restore_id"] == first["id"]  # the choice stands, unasked
    first_result = next(a for a in ready["restore_attempts"] if a["id"] == first["id"])
    assert _download(ready["processed_url"]) == _download(first_result["result_url"])
    response = stack.client.post(
        f"/api/v1/photos/{photo['id']}/selected-restore",
        headers=stack.auth(),
        json={"attempt_id": second["id"]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["selected_restore_id"] == second["id"]
    third = stack.restore(photo["id"], denoise=0.5, select=True).json()
    ready = stack.wait_for_photo(photo["id"], ("ready",))
    assert ready["selected_restore_id"] == third["id"]
    third_result = next(a for a in ready["restore_attempts"] if a["id"] == third["id"])
    assert _download(ready["processed_url"]) == _download(third_result["result_url"])


def test_list_is_newest_first_with_cursor(stack: Stack) -> None:
    user = f"lister-{stack.kind}"
    uploaded = [
        stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"), user=user)["id"]
        for _ in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = stack.client.get("/api/v1/photos", headers=stack.auth(user), params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(uploaded))
    bad = stack.client.get("/api/v1/photos", headers=stack.auth(user), params={"cursor": "zz"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"


def test_delete_removes_rows_and_objects(stack: Stack) -> None:
    user = f"deleter-{stack.kind}"
    photo = stack.upload(shared_photo("real-old/scratch-girl-floral.png"), user=user)
    stack.restore(photo["id"], user=user)
    stack.wait_for_photo(photo["id"], ("ready",), user=user)
    prefix = f"users/{user}/"
    mine = {key for key in stack.object_keys() if key.startswith(prefix)}
    assert len(mine) == 5  # original, its thumbnail and display copy, the result and its thumbnail
    response = stack.client.delete(f"/api/v1/photos/{photo['id']}", headers=stack.auth(user))
    assert response.status_code == 204
    assert not {key for key in stack.object_keys() if key.startswith(prefix)}
    gone = stack.client.get(f"/api/v1/photos/{photo['id']}", headers=stack.auth(user))
    assert gone.status_code == 404


def test_unknown_engine_and_bad_denoise_are_rejected(stack: Stack) -> None:
    photo = stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"))
    response = stack.restore(photo["id"], engine="nope")
    assert response.status_code == 400 and response.json()["error"]["code"] == "unknown_engine"
    response = stack.restore(photo["id"], denoise=1.5)
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"
    assert stack.photo(photo["id"])["status"] == "uploaded"
    assert stack.photo(photo["id"])["restore_attempts"] == []


def test_cleanup_task_removes_stragglers_of_a_deleted_photo(stack: Stack) -> None:
    """seed 004's cleanup_job_s3_files: an object stored under the photo's prefixes after the rows
    were read (a worker finishing at that moment) is removed by the task the delete queues."""
    user = f"cleanup-{stack.kind}"
    photo = stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"), user=user)
    straggler = f"users/{user}/restored/{photo['id']}/late-result.jpg"
    stack.runtime.store.put(straggler, b"late", "image/jpeg")
    other = stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"), user=user)
    response = stack.client.delete(f"/api/v1/photos/{photo['id']}", headers=stack.auth(user))
    assert response.status_code == 204
    deadline = time.monotonic() + 30
    while straggler in stack.object_keys() and time.monotonic() < deadline:
        time.sleep(0.2)
    remaining = {k for k in stack.object_keys() if k.startswith(f"users/{user}/")}
    assert straggler not in remaining
    assert not [k for k in remaining if photo["id"] in k]
    assert [k for k in remaining if other["id"] in k]  # the user's other photo is untouched
