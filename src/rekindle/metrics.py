"""Prometheus metrics (prometheus-client, default registry).

Each process exposes what it measured itself, the standard layout for Celery fleets:
- API processes: `GET /metrics` (HTTP latency by route template and status, rate-limited requests,
  credits charged/refunded/granted in requests, and, measured at scrape time, queue depth and
  unfinished attempts).
- Worker processes: `WORKER_METRICS_PORT` (attempts by engine and outcome, engine latency, budget
  deferrals, refunds made by the worker); each worker is its own scrape target. Celery's `threads`
  (default) and `solo` pools run tasks inside the process that serves the port; with `prefork` the
  children's counts would not be seen.

Units: durations in seconds, credits in whole credits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from rekindle.runtime import Runtime

log = logging.getLogger(__name__)

HTTP_LATENCY = Histogram(
    "rekindle_http_request_duration_seconds",
    "HTTP request latency by method, route template and status, seconds.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RATE_LIMITED = Counter(
    "rekindle_rate_limited_total",
    "Requests refused with 429, by action (upload, restore, animate) and by what was limited.",
    ["action", "by"],
)
QUEUE_DEPTH = Gauge(
    "rekindle_queue_depth",
    "Messages waiting in the broker's `rekindle` queue (tasks not yet taken by a worker).",
)
UNFINISHED = Gauge(
    "rekindle_attempts_unfinished",
    "Attempts not finished, by kind (restore, animation) and status (pending, processing).",
    ["kind", "status"],
)
ATTEMPTS = Counter(
    "rekindle_attempts_total",
    "Attempts run by a worker, by kind (restore, animation), engine and outcome "
    "(completed, failed, skipped).",
    ["kind", "engine", "outcome"],
)
ENGINE_LATENCY = Histogram(
    "rekindle_engine_duration_seconds",
    "Time an engine took for one attempt (preprocessing and storage excluded), by kind, engine "
    "and outcome (ok, error), seconds.",
    ["kind", "engine", "outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300),
)
BUDGET_DEFERRALS = Counter(
    "rekindle_budget_deferrals_total",
    "Attempts put back in the queue because their engine's provider budget was spent.",
    ["engine", "reason"],
)
CREDITS = Counter(
    "rekindle_credits_total",
    "Credits moved by committed ledger rows, by kind (charge, refund, grant, purchase).",
    ["kind"],
)

_CREDIT_NOTES = "rekindle_credit_metrics"


def note_credits(session: Session, kind: str, amount: int) -> None:
    """Count `amount` credits of `kind` once `session`'s transaction commits (not on rollback)."""
    session.info.setdefault(_CREDIT_NOTES, []).append((kind, abs(amount)))


@event.listens_for(Session, "after_commit")
def _count_committed_credits(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT released: the outer one may still roll back
        return
    for kind, amount in session.info.pop(_CREDIT_NOTES, []):
        CREDITS.labels(kind).inc(amount)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back_credits(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_CREDIT_NOTES, None)


def observe_attempt(kind: str, engine: str, outcome: str) -> None:
    """Count one attempt that ended with `outcome` (completed, failed, skipped)."""
    ATTEMPTS.labels(kind, engine, outcome).inc()


@contextmanager
def engine_timer(kind: str, engine: str) -> Iterator[None]:
    """Time the engine call in the block: outcome `ok`, or `error` when it raises."""
    started = time.monotonic()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        ENGINE_LATENCY.labels(kind, engine, outcome).observe(time.monotonic() - started)


def queue_depth(runtime: Runtime) -> int | None:
    """Messages waiting in the `rekindle` queue (Redis `LLEN` over its priority lists, or the
    embedded broker's visible rows); None when the broker cannot be asked (logged)."""
    try:
        with runtime.celery.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
            channel = connection.default_channel
            return int(channel._size("rekindle"))
    except Exception as exc:
        log.warning("queue depth unavailable: %s", type(exc).__name__)
        return None


def unfinished_attempts(runtime: Runtime) -> dict[tuple[str, str], int]:
    """Counts of pending and processing attempts, by (kind, status)."""
    from rekindle.models import AnimationAttempt, AttemptStatus, RestoreAttempt

    counts: dict[tuple[str, str], int] = {
        (kind, str(status)): 0
        for kind in ("restore", "animation")
        for status in (AttemptStatus.PENDING, AttemptStatus.PROCESSING)
    }
    unfinished = (AttemptStatus.PENDING, AttemptStatus.PROCESSING)
    with runtime.sessions() as session:
        for kind, model in (("restore", RestoreAttempt), ("animation", AnimationAttempt)):
            rows = session.execute(
                select(model.status, func.count())
                .where(model.status.in_(unfinished))
                .group_by(model.status)
            )
            for status, count in rows:
                counts[(kind, str(status))] = int(count)
    return counts


def refresh_gauges(runtime: Runtime) -> None:
    """Measure queue depth and unfinished attempts now (called on each scrape of /metrics)."""
    depth = queue_depth(runtime)
    if depth is not None:
        QUEUE_DEPTH.set(depth)
    try:
        for (kind, status), count in unfinished_attempts(runtime).items():
            UNFINISHED.labels(kind, status).set(count)
    except Exception as exc:
        log.warning("attempt counts unavailable: %s", type(exc).__name__)


def start_worker_metrics_server(port: int) -> None:
    """Serve this process's metrics on 0.0.0.0:`port` (a daemon thread). Raises OSError when the
    port is taken."""
    from prometheus_client import start_http_server

    start_http_server(port)
    log.info("worker metrics on :%d/metrics", port)
