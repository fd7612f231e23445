"""Live events: each user's attempt changes, published by workers and the API, streamed to the page.

Two buses behind one interface, chosen by settings like every other adapter:
- **Redis** (`REDIS_URL` set): `PUBLISH` on channel `rekindle:events:{user_id}`, plus a capped
  per-user Redis stream (`rekindle:events:{user_id}:log`, ~200 entries, kept an hour) that gives each
  event its id and lets a reconnecting client replay what it missed (`Last-Event-ID`).
- **Database** (embedded defaults, or any `DATABASE_URL` without Redis): rows in the `events` table,
  which the stream polls every `POLL_SECONDS`; rows older than `RETENTION_SECONDS` are pruned.

Event payload (a JSON object): `{"type": "attempt", "kind": "restore" | "animation", "photo_id",
"attempt_id", "status", "photo_status", "at"}` with `at` an ISO 8601 UTC timestamp.

`publish` never raises: live events are a convenience, never the reason a restoration fails.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from rekindle.config import Settings
from rekindle.db import utcnow
from rekindle.events.bus import EventBus, StreamEvent, bus_for
from rekindle.runtime import Runtime

log = logging.getLogger(__name__)

__all__ = [
    "EventBus",
    "StreamEvent",
    "attempt_event",
    "bus_for",
    "publish",
    "publish_animation_attempt",
    "publish_restore_attempt",
]


def attempt_event(
    kind: str,
    photo_id: uuid.UUID | str,
    attempt_id: uuid.UUID | str,
    status: str,
    photo_status: str | None,
) -> dict[str, Any]:
    """The payload of an attempt change. `kind` is "restore" or "animation"; `status` the attempt's
    (pending, processing, completed, failed); `photo_status` the photo's after the change."""
    return {
        "type": "attempt",
        "kind": kind,
        "photo_id": str(photo_id),
        "attempt_id": str(attempt_id),
        "status": str(status),
        "photo_status": None if photo_status is None else str(photo_status),
        "at": utcnow().isoformat(),
    }


def publish(target: Settings | Runtime, user_id: str, event: dict[str, Any]) -> str | None:
    """Send `event` (a JSON-serialisable dict) to `user_id`'s live streams, on Redis or the database.

    Returns the event's id, or None when it could not be published (the error is logged, never
    raised). Call it after the transaction that made the change has committed, and with no
    transaction of the caller's open: on SQLite the database bus writes on its own connection and
    would wait for the caller's write lock."""
    try:
        return bus_for(target).publish(user_id, event)
    except Exception:
        log.warning("could not publish a live event for %s", user_id, exc_info=True)
        return None


def publish_restore_attempt(runtime: Runtime, attempt_id: uuid.UUID) -> str | None:
    """Publish the current state of restore attempt `attempt_id` (read back after the commit, so the
    event never runs ahead of the database), and, for an attempt of a batch, the batch's progress
    (`batch_event`). Never raises; returns the attempt event's id or None."""
    from sqlalchemy import select

    from rekindle.models import Photo, RestoreAttempt

    try:
        with runtime.sessions() as session:
            row = session.execute(
                select(
                    RestoreAttempt.status,
                    RestoreAttempt.params,
                    Photo.id,
                    Photo.owner_id,
                    Photo.status,
                )
                .join(Photo, Photo.id == RestoreAttempt.photo_id)
                .where(RestoreAttempt.id == attempt_id)
            ).one_or_none()
            progress = None
            if row is not None and (row.params or {}).get("batch_id"):
                progress = batch_progress(session, row.params["batch_id"])
    except Exception:
        log.warning("could not read attempt %s for its live event", attempt_id, exc_info=True)
        return None
    if row is None:  # deleted with its photo meanwhile
        return None
    status, _, photo_id, owner_id, photo_status = row
    event_id = publish(
        runtime, owner_id, attempt_event("restore", photo_id, attempt_id, status, photo_status)
    )
    if progress is not None:
        publish(runtime, owner_id, progress)
    return event_id


def batch_progress(session: Any, batch_id: str) -> dict[str, Any] | None:
    """A `batch` event: how many of the batch's attempts are in each status, with `done` true
    once none is pending or processing. None when the batch row is gone."""
    from sqlalchemy import func, select

    from rekindle.models import RestoreAttempt, RestoreBatch

    batch = session.get(RestoreBatch, uuid.UUID(batch_id))
    if batch is None:
        return None
    attempt_ids = [
        uuid.UUID(item["attempt"]["id"])
        for item in batch.response.get("items", [])
        if item.get("attempt")
    ]
    counts = {"pending": 0, "processing": 0, "completed": 0, "failed": 0}
    if attempt_ids:
        for status, count in session.execute(
            select(RestoreAttempt.status, func.count())
            .where(RestoreAttempt.id.in_(attempt_ids))
            .group_by(RestoreAttempt.status)
        ):
            counts[str(status)] = count
    return {
        "type": "batch",
        "batch_id": batch_id,
        "total": len(attempt_ids),
        **counts,
        "done": counts["pending"] + counts["processing"] == 0,
        "at": utcnow().isoformat(),
    }


def publish_animation_attempt(runtime: Runtime, attempt_id: uuid.UUID, *, hd: bool) -> str | None:
    """Publish the current state of animation attempt `attempt_id`: its preview's status, or with
    `hd` its HD result's (the event then carries `"hd": true`). Read back after the commit; never
    raises; returns the event id or None."""
    from sqlalchemy import select

    from rekindle.models import AnimationAttempt, Photo

    status_column = AnimationAttempt.hd_status if hd else AnimationAttempt.status
    try:
        with runtime.sessions() as session:
            row = session.execute(
                select(status_column, Photo.id, Photo.owner_id, Photo.status)
                .join(Photo, Photo.id == AnimationAttempt.photo_id)
                .where(AnimationAttempt.id == attempt_id)
            ).one_or_none()
    except Exception:
        log.warning("could not read animation %s for its live event", attempt_id, exc_info=True)
        return None
    if row is None:
        return None
    status, photo_id, owner_id, photo_status = row
    if status is None:  # no HD result was asked for
        return None
    event = attempt_event("animation", photo_id, attempt_id, status, photo_status)
    return publish(runtime, owner_id, {**event, "hd": hd})
