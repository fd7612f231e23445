"""Redis restarted while restorations are queued and no worker is running.

Two ways to run Redis, two legitimate outcomes, both with nothing stuck and no credit lost:
- with an append-only file (how compose.yaml runs it), the queue survives the restart and every
  queued restoration completes once a worker starts;
- with no persistence, the queue is lost with the restart; the pending attempts are failed by the
  sweep after `PENDING_TIME_LIMIT_SECONDS` and their credits refunded.
While Redis is down, a restore request is refused cleanly: 503 `queue_unavailable`, the photo back
in its status, the credit refunded.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rekindle.restoration.runner import sweep_stuck_attempts
from tests.faults.conftest import fault_stack
from tests.faults.services import (
    assert_credits_settled,
    assert_no_orphans,
    assert_nothing_stuck,
    own_redis,
)
from tests.support.services import shared_photo
from tests.support.stack import worker_process

QUEUED = 4
PENDING_LIMIT = 2  # seconds


@pytest.mark.parametrize("persistent", [True, False], ids=["appendonly", "no-persistence"])
def test_redis_restart_with_tasks_queued(
    tmp_path: Path, s3_endpoint: str, persistent: bool
) -> None:
    with (
        own_redis(persistent=persistent) as redis,
        fault_stack(
            tmp_path,
            redis_url=redis.url,
            s3_endpoint=s3_endpoint,
            pending_time_limit_seconds=PENDING_LIMIT,
        ) as stack,
    ):
        user = f"redis-{'aof' if persistent else 'volatile'}"
        source = shared_photo("real-old/scratch-couple-soldier.png")
        photos = [stack.upload(source, user=user)["id"] for _ in range(QUEUED + 1)]
        for photo_id in photos[:QUEUED]:
            assert stack.restore(photo_id, user=user).status_code == 202
        assert redis.queued() == QUEUED

        redis.stop()
        refused = stack.restore(photos[QUEUED], user=user)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "queue_unavailable"
        assert stack.photo(photos[QUEUED], user=user)["status"] == "uploaded"
        redis.start()

        if persistent:
            assert redis.queued() == QUEUED  # the append-only file kept the queue
            with worker_process(stack.env, "--concurrency=2"):
                for photo_id in photos[:QUEUED]:
                    stack.wait_for_photo(photo_id, ("ready",), user=user, timeout=90)
            expected_balance = 10 - QUEUED
        else:
            assert redis.queued() == 0  # the queue went with the restart
            time.sleep(PENDING_LIMIT + 0.5)
            assert sweep_stuck_attempts(stack.runtime) == QUEUED
            for photo_id in photos[:QUEUED]:
                attempt = stack.photo(photo_id, user=user)["restore_attempts"][0]
                assert attempt["status"] == "failed" and attempt["error"]["code"] == "timed_out"
            expected_balance = 10

        # After the restart the API's broker connections recover: a new restoration goes through.
        with worker_process(stack.env, "--concurrency=2"):
            accepted = stack.restore(photos[QUEUED], user=user)
            assert accepted.status_code == 202, accepted.text
            stack.wait_for_photo(photos[QUEUED], ("ready",), user=user, timeout=60)
        assert assert_credits_settled(stack, user) == expected_balance - 1
        assert_nothing_stuck(stack)
        assert_no_orphans(stack)
