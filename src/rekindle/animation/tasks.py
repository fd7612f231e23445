"""Celery tasks for animations (seed 004's `process_animation` and `generate_hd_result`)."""

from __future__ import annotations

import uuid

from celery import shared_task

from rekindle.animation.runner import run_animation
from rekindle.photos.tasks import run_or_requeue
from rekindle.queue import ANIMATE_TASK, HD_TASK


@shared_task(name=ANIMATE_TASK, ignore_result=True)
def process_animation(attempt_id: str) -> str:
    """Seed 004's `process_animation`: render the preview MP4 and thumbnail of animation attempt
    `attempt_id` (a UUID string)."""
    return run_or_requeue(
        ANIMATE_TASK, attempt_id, lambda runtime: run_animation(runtime, uuid.UUID(attempt_id))
    )


@shared_task(name="rekindle.animate_photo", ignore_result=True)
def animate_photo(attempt_id: str) -> str:
    """The task's name before the seed's (`queue.LEGACY_TASK_NAMES`), for messages in flight."""
    return process_animation(attempt_id)


@shared_task(name=HD_TASK, ignore_result=True)
def generate_hd_result(attempt_id: str) -> str:
    """Render the paid HD result of animation attempt `attempt_id` (a UUID string)."""
    return run_or_requeue(
        HD_TASK, attempt_id, lambda runtime: run_animation(runtime, uuid.UUID(attempt_id), hd=True)
    )


@shared_task(name="rekindle.generate_hd_result", ignore_result=True)
def generate_hd_result_legacy(attempt_id: str) -> str:
    """The task's name before the seed's (`queue.LEGACY_TASK_NAMES`), for messages in flight."""
    return generate_hd_result(attempt_id)
