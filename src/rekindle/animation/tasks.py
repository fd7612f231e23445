"""Celery tasks for animations (seed 004's `process_animation` and `generate_hd_result`)."""

from __future__ import annotations

import uuid

from celery import shared_task

from rekindle.animation.runner import run_animation
from rekindle.photos.tasks import run_or_requeue
from rekindle.queue import ANIMATE_TASK, HD_TASK


@shared_task(name=ANIMATE_TASK, ignore_result=True)
def animate_photo(attempt_id: str) -> str:
    """Render the preview MP4 and thumbnail of animation attempt `attempt_id` (a UUID string)."""
    return run_or_requeue(
        ANIMATE_TASK, attempt_id, lambda runtime: run_animation(runtime, uuid.UUID(attempt_id))
    )


@shared_task(name=HD_TASK, ignore_result=True)
def generate_hd_result(attempt_id: str) -> str:
    """Render the paid HD result of animation attempt `attempt_id` (a UUID string)."""
    return run_or_requeue(
        HD_TASK, attempt_id, lambda runtime: run_animation(runtime, uuid.UUID(attempt_id), hd=True)
    )
