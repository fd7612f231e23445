"""Celery signal handlers of the worker process: log context per task, and the metrics port.

`task_prerun` opens a fresh log context for the task with `request_id` (sent by the API in the
`rekindle_request_id` message header, see `queue.send`), `attempt_id` (the first argument of the
restore, animate and HD tasks) and `task`; `task_postrun` closes it. With Celery's thread pool each
task runs in its own thread, so contexts never mix. `worker_init` starts the Prometheus server on
`WORKER_METRICS_PORT` when it is set. Imported for its side effects by `rekindle.worker`.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

from celery.signals import task_postrun, task_prerun, worker_init

from rekindle.config import get_settings
from rekindle.logcontext import end_context, start_context
from rekindle.queue import ANIMATE_TASK, HD_TASK, LEGACY_TASK_NAMES, REQUEST_ID_HEADER, RESTORE_TASK

log = logging.getLogger(__name__)

_SEED_ATTEMPT_TASKS = (RESTORE_TASK, ANIMATE_TASK, HD_TASK)
ATTEMPT_TASKS = (
    *_SEED_ATTEMPT_TASKS,
    *(old for old, new in LEGACY_TASK_NAMES.items() if new in _SEED_ATTEMPT_TASKS),
)
_tokens: dict[str, contextvars.Token[Any]] = {}


def request_id_of(request: Any) -> str | None:
    """The API request id a task message carried, if any (custom headers become attributes of
    the task's request; older protocols keep them under `headers`)."""
    value = getattr(request, REQUEST_ID_HEADER, None)
    if value is None:
        headers = getattr(request, "headers", None) or {}
        value = headers.get(REQUEST_ID_HEADER) if isinstance(headers, dict) else None
    return str(value) if value else None


@task_prerun.connect
def _open_context(
    task_id: str | None = None,
    task: Any = None,
    args: tuple[Any, ...] | None = None,
    **_: Any,
) -> None:
    name = getattr(task, "name", None)
    attempt_id = args[0] if name in ATTEMPT_TASKS and args else None
    token = start_context(
        request_id=request_id_of(getattr(task, "request", None)),
        attempt_id=attempt_id,
        task=name,
        task_id=task_id,
    )
    if task_id:
        _tokens[task_id] = token


@task_postrun.connect
def _close_context(task_id: str | None = None, **_: Any) -> None:
    end_context(_tokens.pop(task_id, None) if task_id else None)


@worker_init.connect
def _start_metrics(**_: Any) -> None:
    port = get_settings().worker_metrics_port
    if port:
        from rekindle.metrics import start_worker_metrics_server

        try:
            start_worker_metrics_server(port)
        except OSError as exc:
            log.error("worker metrics port %s unavailable: %s", port, exc)
