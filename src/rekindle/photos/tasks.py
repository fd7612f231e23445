"""Celery tasks for photos. They take ids only; the logic lives in `restoration.runner`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from functools import lru_cache

from celery import shared_task
from sqlalchemy.exc import DBAPIError, OperationalError

from rekindle.config import get_settings
from rekindle.db import database_unreachable
from rekindle.queue import CLEANUP_TASK, RESTORE_TASK, SWEEP_TASK, send
from rekindle.restoration.runner import run_restore_attempt, sweep_stuck_attempts
from rekindle.runtime import Runtime
from rekindle.storage import keys

log = logging.getLogger(__name__)

# While the database is unreachable a task waits this long, then is sent again (seconds).
DATABASE_RETRY_SECONDS = 5.0


@lru_cache
def worker_runtime() -> Runtime:
    """The worker process's runtime, built from its environment on first use."""
    return Runtime(get_settings())


def run_or_requeue(task_name: str, attempt_id: str, run: Callable[[Runtime], str]) -> str:
    """Run a task body; if the database is unreachable, send the same task again after
    `DATABASE_RETRY_SECONDS` instead of raising. The attempt is untouched (still pending), so this
    is not a retry of work: its task waits in the queue until the database is back. Tasks never
    raise out of the thread pool: an escaped exception there has been seen to stop a threads-pool
    worker from taking further messages off Redis."""
    runtime = worker_runtime()
    try:
        return run(runtime)
    except DBAPIError as exc:
        if not database_unreachable(exc):
            raise
        log.warning(
            "database unreachable; %s %s waits %s s", task_name, attempt_id, DATABASE_RETRY_SECONDS
        )
        send(runtime.celery, task_name, attempt_id, countdown=DATABASE_RETRY_SECONDS)
        return "deferred"


@shared_task(name=RESTORE_TASK, ignore_result=True)
def process_restoration(attempt_id: str) -> str:
    """Seed 004's `process_restoration`: run restore attempt `attempt_id` (a UUID string) to its
    end (read the original, preprocess, restore with the attempt's engine, store the result)."""
    return run_or_requeue(
        RESTORE_TASK,
        attempt_id,
        lambda runtime: run_restore_attempt(runtime, uuid.UUID(attempt_id)),
    )


@shared_task(name="rekindle.restore_photo", ignore_result=True)
def restore_photo(attempt_id: str) -> str:
    """The task's name before the seed's (`queue.LEGACY_TASK_NAMES`), for messages in flight."""
    return process_restoration(attempt_id)


@shared_task(name=SWEEP_TASK, ignore_result=True)
def sweep_stuck() -> int:
    """Fail restorations and animations left unfinished past their time limits (a worker died).
    With the database unreachable it does nothing: beat runs it again shortly."""
    from rekindle.animation.runner import sweep_stuck_animations

    runtime = worker_runtime()
    try:
        return sweep_stuck_attempts(runtime) + sweep_stuck_animations(runtime)
    except OperationalError:
        log.warning("database unreachable; the stuck-attempt sweep waits for its next run")
        return 0


@shared_task(name=CLEANUP_TASK, ignore_result=True)
def cleanup_job_s3_files(owner_id: str, photo_id: str) -> int:
    """Seed 004's cleanup: remove every object stored under a deleted photo's key prefixes, in
    batches (1000 keys per S3 DeleteObjects). Catches what the synchronous delete could not know
    about, e.g. a result a worker was storing at that moment. Returns how many were removed."""
    store = worker_runtime().store
    stray = [
        key
        for prefix in keys.photo_prefixes(owner_id, uuid.UUID(photo_id))
        for key in store.list_keys(prefix)
    ]
    store.delete_many(stray)
    return len(stray)


@shared_task(name="rekindle.cleanup_job_s3_files", ignore_result=True)
def cleanup_job_s3_files_legacy(owner_id: str, photo_id: str) -> int:
    """The task's name before the seed's (`queue.LEGACY_TASK_NAMES`), for messages in flight."""
    return cleanup_job_s3_files(owner_id, photo_id)
