"""The Celery application: Redis in production, a server-less SQLite broker when embedded.

Tasks take ids only and are sent by name after the transaction that created their rows commits.
No automatic retries (seed 001): a failure is recorded and the user retries. Time limits are kept by
the engines themselves (HTTP timeouts, polling deadlines) and by the stuck-attempt sweep, because the
thread pool that keeps many remote calls in flight cannot kill a running task.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from rekindle.config import Settings

# Seed 004's task names (operators' monitoring and runbooks use them).
RESTORE_TASK = "process_restoration"
ANIMATE_TASK = "process_animation"
HD_TASK = "generate_hd_result"
CLEANUP_TASK = "cleanup_job_s3_files"
SWEEP_TASK = "rekindle.sweep_stuck_attempts"
LEGACY_TASK_NAMES = {
    "rekindle.restore_photo": RESTORE_TASK,
    "rekindle.animate_photo": ANIMATE_TASK,
    "rekindle.generate_hd_result": HD_TASK,
    "rekindle.cleanup_job_s3_files": CLEANUP_TASK,
}
"""Names the tasks had before (old name -> seed name). Workers still register them, so messages
queued by an older release before an upgrade are run, not dropped as unknown tasks."""
TASK_MODULES = ["rekindle.photos.tasks", "rekindle.animation.tasks"]
BROKER_POOL_LIMIT = 20
"""Broker connections per process. kombu keeps this limit process-wide and resizes every app's pool
when another app sets a different one, raising "Can't shrink pool when in use" if a send is under
way; so every app (embedded or Redis) uses this one value."""


def create_celery(settings: Settings) -> Celery:
    """A Celery app for `settings`. Importing task modules is left to the worker."""
    app = Celery("rekindle", broker=settings.broker_url)
    conf: dict[str, Any] = {
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": False,  # a task is never redelivered: no hidden retries
        "worker_prefetch_multiplier": 1,
        "task_default_queue": "rekindle",
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "beat_schedule": {
            "sweep-stuck-attempts": {
                "task": SWEEP_TASK,
                "schedule": float(settings.sweep_interval_seconds),
            }
        },
        "imports": TASK_MODULES,
        "broker_pool_limit": BROKER_POOL_LIMIT,
    }
    if settings.is_embedded_queue:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    else:
        conf["broker_transport_options"] = {"visibility_timeout": 3600}
    app.conf.update(conf)
    return app


REQUEST_ID_HEADER = "rekindle_request_id"
"""Celery message header carrying the API request id into the worker's log lines."""


def send(app: Celery, task_name: str, *args: Any, countdown: float | None = None) -> None:
    """Queue `task_name(*args)`, to start no sooner than `countdown` seconds from now when given.
    The current request id (log context) travels in the message headers. Raises kombu/redis
    errors when the broker is unreachable."""
    from rekindle.logcontext import current

    request_id = current().get("request_id")
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    app.send_task(task_name, args=list(args), retry=False, countdown=countdown, headers=headers)
