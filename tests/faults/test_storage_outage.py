"""The S3 endpoint down: during an upload (503 `storage_unavailable`, no row, nothing stored), in
the middle of an upload (after the original is stored: 503, no row, the original recorded in
`orphan_objects` and removed by the sweep once S3 answers), and during a restoration's result
upload (the attempt fails with `storage_unavailable`, the photo goes back, the credit is refunded
once, and the provider input it had stored is recorded and removed by the sweep once S3 answers)."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import func, select

from rekindle.models import Photo
from rekindle.restoration.runner import sweep_stuck_attempts
from tests.engines.fakes import FakeSiliconFlow
from tests.faults.conftest import fault_stack, provider_settings
from tests.faults.services import (
    assert_credits_settled,
    assert_no_orphans,
    assert_nothing_stuck,
    flaky_s3_proxy,
    own_redis,
    own_s3,
    recorded_orphans,
)
from tests.support.services import shared_photo
from tests.support.stack import worker_process

PHOTO = "real-old/scratch-girl-floral.png"


def test_upload_while_storage_is_down(tmp_path: Path) -> None:
    with (
        own_redis(persistent=False) as redis,
        own_s3() as s3,
        fault_stack(tmp_path, redis_url=redis.url, s3_endpoint=s3.endpoint) as stack,
    ):
        user = "s3-down-upload"
        stack.upload(shared_photo(PHOTO), user=user)  # the user exists, one photo stored
        before = stack.object_keys()
        s3.stop()
        started = time.monotonic()
        with shared_photo(PHOTO).open("rb") as handle:
            refused = stack.client.post(
                "/api/v1/photos", headers=stack.auth(user), files={"file": (PHOTO, handle)}
            )
        refused_in = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "storage_unavailable"
        assert refused_in < 15  # connection refused is retried briefly, never hangs
        listed = stack.client.get("/api/v1/photos", headers=stack.auth(user)).json()
        assert len(listed["items"]) == 1  # no row for the refused upload
        s3.start()
        assert stack.object_keys() == before
        assert_no_orphans(stack)
        # Storage is back: uploads work again.
        assert stack.upload(shared_photo(PHOTO), user=user)["status"] == "uploaded"
        assert_no_orphans(stack)


def test_storage_fails_between_original_and_thumbnail(tmp_path: Path) -> None:
    with (
        own_redis(persistent=False) as redis,
        own_s3() as s3,
        flaky_s3_proxy(s3.endpoint) as proxy,
        fault_stack(tmp_path, redis_url=redis.url, s3_endpoint=proxy.endpoint) as stack,
    ):
        user = "s3-fails-mid-upload"
        stack.upload(shared_photo(PHOTO), user=user)  # the user exists, one photo stored
        before = stack.object_keys()
        # S3 answers 503 from the moment the original's PUT has gone through: the thumbnail's PUT
        # and the clean-up's DeleteObjects both fail (after botocore's retries).
        proxy.fail_after("PUT", f"/users/{user}/processed/")
        with shared_photo(PHOTO).open("rb") as handle:
            refused = stack.client.post(
                "/api/v1/photos", headers=stack.auth(user), files={"file": (PHOTO, handle)}
            )
        assert proxy.failing and proxy.tripped_by
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "storage_unavailable"
        with stack.runtime.sessions() as session:
            photos = session.scalar(
                select(func.count()).select_from(Photo).where(Photo.owner_id == user)
            )
        assert photos == 1  # no row for the refused upload
        # The original it left in S3 is recorded, though no row exists to own it.
        recorded = recorded_orphans(stack)
        assert len(recorded) == 1, recorded
        [(original_key, reason)] = recorded.items()
        assert original_key.startswith(f"users/{user}/processed/")
        assert proxy.tripped_by.split("?")[0].endswith(original_key)
        assert reason == "upload failed: storage_unavailable"
        # A sweep while S3 still fails changes nothing: the record waits for the next one.
        sweep_stuck_attempts(stack.runtime)
        assert recorded_orphans(stack) == recorded
        proxy.heal()
        assert stack.object_keys() == before | {original_key}  # orphaned, until the sweep
        sweep_stuck_attempts(stack.runtime)
        assert recorded_orphans(stack) == {}
        assert stack.object_keys() == before
        assert_no_orphans(stack)
        # Storage is healthy: uploads work again.
        assert stack.upload(shared_photo(PHOTO), user=user)["status"] == "uploaded"
        assert_no_orphans(stack)


def test_result_upload_while_storage_is_down(
    tmp_path: Path, slow_provider: FakeSiliconFlow
) -> None:
    slow_provider.delay = 2.0
    with (
        own_redis(persistent=False) as redis,
        own_s3() as s3,
        fault_stack(
            tmp_path,
            redis_url=redis.url,
            s3_endpoint=s3.endpoint,
            **provider_settings(slow_provider),
        ) as stack,
    ):
        user = "s3-down-result"
        photo = stack.upload(shared_photo(PHOTO), user=user)
        with worker_process(stack.env, "--concurrency=2"):
            accepted = stack.restore(photo["id"], user=user, engine="siliconflow")
            assert accepted.status_code == 202, accepted.text
            deadline = time.monotonic() + 30
            while slow_provider.count("POST", "/v1/images/generations") < 1:
                assert time.monotonic() < deadline, "the provider never got the request"
                time.sleep(0.05)
            # The provider is working on the input stored for it; S3 goes down before the result.
            s3.stop()
            after = stack.wait_for_photo(photo["id"], ("uploaded",), user=user, timeout=60)
        attempt = after["restore_attempts"][0]
        assert attempt["status"] == "failed"
        assert attempt["error"] == {
            "code": "storage_unavailable",
            "message": "Storage unavailable, please retry",
        }
        assert attempt["result_url"] is None
        assert assert_credits_settled(stack, user) == 10  # charged, then refunded once
        assert_nothing_stuck(stack)
        # The provider's input copy could not be removed while S3 was down: it is recorded ...
        input_key = f"users/{user}/restored/{photo['id']}/{attempt['id']}_input.jpg"
        assert recorded_orphans(stack) == {
            input_key: f"restore attempt {attempt['id']} failed: storage_unavailable"
        }
        s3.start()
        assert input_key in stack.object_keys()
        # ... and the next sweep removes it.
        sweep_stuck_attempts(stack.runtime)
        assert recorded_orphans(stack) == {}
        assert_no_orphans(stack)
        assert_credits_settled(stack, user)
