"""The worker process's Celery app (`celery -A rekindle.worker worker`, or `rekindle worker`)."""

from __future__ import annotations

from rekindle.config import get_settings
from rekindle.logs import configure_logging
from rekindle.queue import create_celery

configure_logging(get_settings().log_level, get_settings().log_format)
celery_app = create_celery(get_settings())

import rekindle.task_context  # noqa: E402, F401  (log context per task, worker metrics port)
