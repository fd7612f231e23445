"""Failures end cleanly: the attempt is failed with a code and message, the photo returns to the
status it had, and an attempt whose worker died is failed by the periodic sweep."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import update

from rekindle.db import session_scope, utcnow
from rekindle.models import AttemptStatus, Photo, PhotoStatus, RestoreAttempt
from rekindle.photos import service
from rekindle.photos.schemas import RestoreOptions
from rekindle.restoration.runner import sweep_stuck_attempts
from tests.support.services import shared_photo
from tests.support.stack import Stack, worker_process


def _original_key(stack: Stack, photo_id: str) -> str:
    with stack.runtime.sessions() as session:
        photo = session.get(Photo, uuid.UUID(photo_id))
        assert photo is not None
        return photo.original_key


def test_worker_failure_reverts_photo_and_fails_attempt(stack: Stack) -> None:
    user = f"failing-{stack.kind}"
    photo = stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"), user=user)
    # First a success, so the photo is `ready` before the failing attempt.
    stack.restore(photo["id"], user=user)
    stack.wait_for_photo(photo["id"], ("ready",), user=user)
    # The worker will not find the original: storage lost it behind our back.
    stack.runtime.store.delete_many([_original_key(stack, photo["id"])])
    failing = stack.restore(photo["id"], user=user).json()
    after = stack.wait_for_photo(photo["id"], ("ready",), user=user)
    attempt = after["restore_attempts"][0]
    assert attempt["id"] == failing["id"]
    assert attempt["status"] == "failed"
    assert attempt["error"] == {
        "code": "storage_unavailable",
        "message": "Storage unavailable, please retry",
    }
    assert attempt["result_url"] is None
    # The earlier result is still the selected one.
    assert after["selected_restore_id"] == after["restore_attempts"][1]["id"]
    assert after["processed_url"]
    leftovers = [k for k in stack.object_keys() if failing["id"] in k]
    assert leftovers == []


def _stuck_attempt(stack: Stack, user: str, started_ago: timedelta) -> tuple[uuid.UUID, uuid.UUID]:
    """An attempt left `processing` by a worker that died `started_ago`."""
    photo = stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"), user=user)
    photo_id = uuid.UUID(photo["id"])
    with session_scope(stack.runtime.sessions) as session:
        # Accepted but never sent: exactly what a worker that died mid-task leaves behind.
        attempt = service.request_restore(session, stack.settings, user, photo_id, RestoreOptions())
        session.execute(
            update(RestoreAttempt)
            .where(RestoreAttempt.id == attempt.id)
            .values(status=AttemptStatus.PROCESSING, started_at=utcnow() - started_ago)
        )
    return photo_id, attempt.id


def test_sweep_fails_stuck_attempts_only(stack: Stack) -> None:
    user = f"sweep-{stack.kind}"
    limit = stack.settings.task_time_limit_seconds
    stuck_photo, stuck = _stuck_attempt(stack, user, timedelta(seconds=limit + 5))
    fresh_photo, fresh = _stuck_attempt(stack, user, timedelta(seconds=5))
    assert sweep_stuck_attempts(stack.runtime) == 1
    assert sweep_stuck_attempts(stack.runtime) == 0  # idempotent
    with stack.runtime.sessions() as session:
        swept = session.get(RestoreAttempt, stuck)
        running = session.get(RestoreAttempt, fresh)
        assert swept is not None and running is not None
        assert (swept.status, swept.error_code) == ("failed", "timed_out")
        assert running.status == "processing"
        assert session.get(Photo, stuck_photo).status == PhotoStatus.UPLOADED  # type: ignore[union-attr]
        assert session.get(Photo, fresh_photo).status == PhotoStatus.PROCESSING  # type: ignore[union-attr]
    # A restore of the swept photo is accepted again.
    assert stack.restore(str(stuck_photo), user=user).status_code == 202
    stack.wait_for_photo(str(stuck_photo), ("ready",), user=user)


def test_worker_beat_runs_the_sweep(stack: Stack) -> None:
    """A worker started with --beat fails a stuck attempt by itself, within seconds."""
    user = f"beat-{stack.kind}"
    photo_id, attempt_id = _stuck_attempt(stack, user, timedelta(seconds=10))
    env = {**stack.env, "TASK_TIME_LIMIT_SECONDS": "2", "SWEEP_INTERVAL_SECONDS": "1"}
    with worker_process(env, "--concurrency=1", "--beat"):
        deadline = time.monotonic() + 90  # a worker process starting on a busy machine
        while time.monotonic() < deadline:
            with stack.runtime.sessions() as session:
                attempt = session.get(RestoreAttempt, attempt_id)
                assert attempt is not None
                if attempt.status == AttemptStatus.FAILED:
                    break
            time.sleep(0.3)
    assert attempt.status == AttemptStatus.FAILED and attempt.error_code == "timed_out"
    assert stack.photo(str(photo_id), user=user)["status"] == "uploaded"
