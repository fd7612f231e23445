"""The seeds' API surfaces end to end over the same services: seed 004's jobs and seed 003's
one-request restoration, with a real worker, on both stacks."""

from __future__ import annotations

import time

import httpx

from tests.support.services import shared_photo
from tests.support.stack import Stack


def test_seed_004_jobs_upload_restore_get(stack: Stack) -> None:
    user = f"jobs-{stack.kind}"
    source = shared_photo("real-old/scratch-girl-floral.png")
    with source.open("rb") as handle:
        created = stack.client.post(
            "/api/v1/jobs/upload",
            headers=stack.auth(user),
            files={"file": (source.name, handle)},
            data={"email": "grandma@example.com"},
        )
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["email"] == "grandma@example.com" and job["status"] == "uploaded"
    # A job is a photo: the same id works on both surfaces.
    assert stack.photo(job["id"], user=user)["id"] == job["id"]

    accepted = stack.client.post(
        f"/api/v1/jobs/{job['id']}/restore", headers=stack.auth(user), json={"denoise": 0.3}
    )
    assert accepted.status_code == 202 and accepted.json()["status"] == "pending"
    stack.wait_for_photo(job["id"], ("ready",), user=user)
    got = stack.client.get(f"/api/v1/jobs/{job['id']}", headers=stack.auth(user)).json()
    assert got["selected_restore_id"] == accepted.json()["id"]
    assert got["restore_attempts"][0]["status"] == "completed"
    assert httpx.get(got["processed_url"]).status_code == 200
    assert got["thumbnail_s3_key"].startswith(f"users/{user}/thumbnails/")

    bad_email = stack.client.post(
        "/api/v1/jobs/upload",
        headers=stack.auth(user),
        files={"file": (source.name, source.read_bytes())},
        data={"email": "not-an-email"},
    )
    assert bad_email.status_code == 400 and bad_email.json()["error"]["code"] == "invalid_email"
    other = stack.client.get(f"/api/v1/jobs/{job['id']}", headers=stack.auth("stranger"))
    assert other.status_code == 404


def test_seed_003_restoration_restore_and_track(stack: Stack) -> None:
    user = f"seed3-{stack.kind}"
    source = shared_photo("real-old/bw-two-people-1919.jpg")
    with source.open("rb") as handle:
        response = stack.client.post(
            "/api/v1/restoration/restore",
            headers=stack.auth(user),
            files={"file": (source.name, handle)},
            data={"denoise": "0.8"},
        )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = stack.client.get(f"/api/v1/restoration/jobs/{job_id}", headers=stack.auth(user))
        body = job.json()
        seen.append(body["status"])
        if body["status"] in ("completed", "failed"):
            break
        time.sleep(0.1)
    assert body["status"] == "completed", seen
    assert set(seen) <= {"pending", "processing", "completed"}
    assert body["denoise"] == 0.8 and body["error_message"] is None
    assert body["user_id"] == user
    assert httpx.get(body["original_image_url"]).content == source.read_bytes()
    assert httpx.get(body["processed_image_url"]).headers["content-type"] == "image/jpeg"

    out_of_range = stack.client.post(
        "/api/v1/restoration/restore",
        headers=stack.auth(user),
        files={"file": (source.name, source.read_bytes())},
        data={"denoise": "1.5"},
    )
    assert out_of_range.status_code == 422
    assert out_of_range.json()["error"]["code"] == "validation_error"


def test_seed_003_refused_restore_keeps_no_upload(stack: Stack) -> None:
    """All or nothing: a user with no credits gets 402 and nothing is stored."""
    user = f"seed3-broke-{stack.kind}"
    source = shared_photo("real-old/bw-two-people-1919.jpg")
    # Spend the free credits.
    photos = [stack.upload(source, user=user)["id"] for _ in range(stack.settings.free_credits)]
    for photo_id in photos:
        assert stack.restore(photo_id, user=user).status_code == 202
    before = {k for k in stack.object_keys() if k.startswith(f"users/{user}/")}
    response = stack.client.post(
        "/api/v1/restoration/restore",
        headers=stack.auth(user),
        files={"file": (source.name, source.read_bytes())},
    )
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_credits"
    listing = stack.client.get("/api/v1/photos", headers=stack.auth(user), params={"limit": 100})
    assert len(listing.json()["items"]) == len(photos)
    after = {k for k in stack.object_keys() if k.startswith(f"users/{user}/processed/")}
    assert after <= before
