"""A worker killed with SIGKILL in the middle of a restoration: the attempt is failed by the sweep
(`timed_out`), the photo returns to its earlier status, the credit is refunded exactly once, the
task is not run again by the next worker, and no object is left behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.engines.fakes import FakeSiliconFlow
from tests.faults.conftest import fault_stack, provider_settings
from tests.faults.services import (
    assert_credits_settled,
    assert_no_orphans,
    assert_nothing_stuck,
    own_redis,
    own_s3,
)
from tests.support.services import shared_photo
from tests.support.stack import worker_process


def _wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkill_mid_restoration(tmp_path: Path, slow_provider: FakeSiliconFlow) -> None:
    slow_provider.delay = 30.0  # the provider is still "thinking" when the worker dies
    with (
        own_redis(persistent=False) as redis,
        own_s3() as s3,
        fault_stack(
            tmp_path,
            redis_url=redis.url,
            s3_endpoint=s3.endpoint,
            task_time_limit_seconds=3,
            **provider_settings(slow_provider),
        ) as stack,
    ):
        user = "killed-worker"
        photo = stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"), user=user)
        with worker_process(stack.env, "--concurrency=2") as worker:
            accepted = stack.restore(photo["id"], user=user, engine="siliconflow")
            assert accepted.status_code == 202, accepted.text
            _wait_until(
                lambda: slow_provider.count("POST", "/v1/images/generations") == 1,
                30,
                "the provider to receive the request",
            )
            during = stack.photo(photo["id"], user=user)
            assert during["status"] == "processing"
            assert during["restore_attempts"][0]["status"] == "processing"
            # The worker stored the provider's input copy before calling it.
            assert any(accepted.json()["id"] in key for key in stack.object_keys())
            os.kill(worker.pid, signal.SIGKILL)
            assert worker.wait(timeout=10) == -signal.SIGKILL
        killed_at = time.monotonic()

        # A new worker with the sweep: the killed task is not delivered again (acks on receipt),
        # and once TASK_TIME_LIMIT_SECONDS have passed the sweep fails the attempt.
        # Its sweep limit (3 s) must exceed the engines' own (start-up check): a short
        # SiliconFlow timeout for this worker, which restores nothing.
        sweeper_env = {**stack.env, "SILICONFLOW_TIMEOUT": "1", "SWEEP_MARGIN_SECONDS": "0"}
        with worker_process(sweeper_env, "--concurrency=1", "--beat"):
            after = stack.wait_for_photo(photo["id"], ("uploaded",), user=user, timeout=45)
        recovered_in = time.monotonic() - killed_at
        attempt = after["restore_attempts"][0]
        assert attempt["status"] == "failed"
        assert attempt["error"]["code"] == "timed_out"
        assert slow_provider.count("POST", "/v1/images/generations") == 1  # never run twice
        assert assert_credits_settled(stack, user) == 10  # charged 1, refunded 1
        assert_nothing_stuck(stack)
        assert_no_orphans(stack)
        assert recovered_in < 30

        # The photo can be restored again.
        slow_provider.delay = 0.0
        with worker_process(stack.env, "--concurrency=2"):
            assert stack.restore(photo["id"], user=user, engine="siliconflow").status_code == 202
            ready = stack.wait_for_photo(photo["id"], ("ready",), user=user, timeout=30)
        assert ready["restore_attempts"][0]["status"] == "completed"
        assert assert_credits_settled(stack, user) == 9
        assert_no_orphans(stack)
