"""Live events: each user's attempt changes, published by workers and the API, streamed to the page.

Two buses behind one interface, chosen by settings like every other adapter:
- **Redis** (`REDIS_URL` set): `PUBLISH` on channel `rekindle:events:{user_id}`, plus a capped
  per-user Redis stream (`rekindle:events:{user_id}:log`, ~200 entries, kept an hour) that gives each
  event its id and lets a reconnecting client replay what it missed (`Last-Event-ID`).
- **Database** (embedded defaults, or any `DATABASE_URL` without Redis): rows in the `events` table,
  which the stream polls every `POLL_SECONDS`; rows older than `RETENTION_SECONDS` are pruned.

Event payload (a JSON object): `{"type": "attempt", "kind": "restore" | "animation", "photo_id",
"attempt_id", "status", "photo_status", "at"}` with `at` an ISO 8601 UTC timestamp.

A batch restoration's attempts also publish a `batch` event (`batch_progress`): how many of the
batch's attempts are in each status, read from the counts its row keeps (`restore_batches`, moved
by `batch_counts.move_attempt` in the transaction that changes an attempt), and
`seq`, the row's `progress_seq` then. Two attempts ending at once may publish in either order; the
bus drops a batch event whose `seq` is not above the last one published for its batch, so a client
never sees a batch's counts go back (e.g. `done`, then a lower count) (issue 16).

The worker gathers what an event says inside the transaction that changes the attempt
(`AttemptChange`, `restore_change`) and publishes it after the commit (`publish_change`): no
read-back transaction per event (issue 16). `publish_restore_attempt` reads the attempt back
after the commit, for the rarer paths (the sweep, a queue outage).

`publish` never raises: live events are a convenience, never the reason a restoration fails.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from rekindle.config import Settings
from rekindle.db import utcnow
from rekindle.events.bus import EventBus, StreamEvent, bus_for
from rekindle.runtime import Runtime

log = logging.getLogger(__name__)

__all__ = [
    "AttemptChange",
    "EventBus",
    "StreamEvent",
    "attempt_event",
    "bus_for",
    "publish",
    "publish_animation_attempt",
    "publish_batch_progress",
    "publish_change",
    "publish_restore_attempt",
    "restore_change",
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
    raised) or was a batch event overtaken by a later one of its batch (`bus.ordering`). Call it after the transaction that made the change has committed, and with no
    transaction of the caller's open: on SQLite the database bus writes on its own connection and
    would wait for the caller's write lock."""
    try:
        return bus_for(target).publish(user_id, event)
    except Exception:
        log.warning("could not publish a live event for %s", user_id, exc_info=True)
        return None


@dataclass(frozen=True)
class AttemptChange:
    """What a committed change of a restore attempt tells its owner's live streams: gathered in the
    transaction that made the change (`restore_change`), published after its commit
    (`publish_change`), so the event never runs ahead of the database and needs no read-back."""

    owner_id: str
    photo_id: uuid.UUID
    attempt_id: uuid.UUID
    status: str
    photo_status: str | None
    batch: dict[str, Any] | None = None
    """The batch's `batch` event (`batch_progress`), counted in the same transaction."""


def restore_change(
    session: Any,
    attempt_id: uuid.UUID,
    *,
    known: tuple[str, uuid.UUID, str, str | None, uuid.UUID | None] | None = None,
) -> AttemptChange | None:
    """The change of restore attempt `attempt_id` as this transaction sees it (call it after the
    UPDATE, before the commit). `known` = (owner_id, photo_id, status, photo_status, batch_id)
    when the caller has them (no SELECT then). The batch's progress is the one this transaction's
    `batch_counts.move_attempt` left on the batch's row (no statement), else read from that row. None
    when the attempt is gone (deleted with its photo)."""
    from sqlalchemy import select

    from rekindle.models import Photo, RestoreAttempt

    if known is None:
        row = session.execute(
            select(
                Photo.owner_id,
                Photo.id,
                RestoreAttempt.status,
                Photo.status,
                RestoreAttempt.batch_id,
            )
            .join(Photo, Photo.id == RestoreAttempt.photo_id)
            .where(RestoreAttempt.id == attempt_id)
        ).one_or_none()
        if row is None:
            return None
        known = tuple(row)
    assert known is not None
    owner_id, photo_id, status, photo_status, batch_id = known
    progress = batch_progress(session, batch_id) if batch_id is not None else None
    return AttemptChange(
        owner_id,
        photo_id,
        attempt_id,
        str(status),
        None if photo_status is None else str(photo_status),
        progress,
    )


def publish_change(runtime: Settings | Runtime, change: AttemptChange | None) -> str | None:
    """Publish a committed `AttemptChange`: the attempt event, then its batch's, in one call of the
    bus (one Redis round trip). Never raises; returns the attempt event's id or None."""
    if change is None:
        return None
    event = attempt_event(
        "restore", change.photo_id, change.attempt_id, change.status, change.photo_status
    )
    events = [event] if change.batch is None else [event, change.batch]
    try:
        return bus_for(runtime).publish_many(change.owner_id, events)[0]
    except Exception:
        log.warning("could not publish a live event for %s", change.owner_id, exc_info=True)
        return None


def publish_batch_progress(
    runtime: Runtime, owner_id: str, batch_id: uuid.UUID | str
) -> str | None:
    """Read batch `batch_id`'s progress and publish it to `owner_id` (after the commit that
    changed it). Never raises; returns the event's id or None."""
    try:
        with runtime.sessions() as session:
            progress = batch_progress(session, batch_id)
    except Exception:
        log.warning("could not count batch %s for its live event", batch_id, exc_info=True)
        return None
    return None if progress is None else publish(runtime, owner_id, progress)


def publish_restore_attempt(runtime: Runtime, attempt_id: uuid.UUID) -> str | None:
    """Publish the current state of restore attempt `attempt_id` (read back after the commit, so the
    event never runs ahead of the database), and, for an attempt of a batch, the batch's progress
    (`batch_progress`). Never raises; returns the attempt event's id or None. The worker's own
    changes go through `restore_change` and `publish_change` instead (no read-back)."""
    try:
        with runtime.sessions() as session:
            change = restore_change(session, attempt_id)
    except Exception:
        log.warning("could not read attempt %s for its live event", attempt_id, exc_info=True)
        return None
    return publish_change(runtime, change)


def batch_progress(session: Any, batch_id: uuid.UUID | str) -> dict[str, Any] | None:
    """A `batch` event: how many of the batch's attempts are in each status (`total` of them),
    with `done` true once none is pending or processing, and `seq` (the batch row's
    `progress_seq`: a later state has a higher one), as `batch_counts.progress` reads them. None
    when the batch has no attempts (or its row is gone)."""
    from rekindle.batch_counts import progress

    key = batch_id if isinstance(batch_id, uuid.UUID) else uuid.UUID(batch_id)
    row = progress(session, key)
    if row is None:
        return None
    pending, processing, completed, failed, seq = row
    total = pending + processing + completed + failed
    if not total:
        return None
    return {
        "type": "batch",
        "batch_id": str(key),
        "total": total,
        "pending": pending,
        "processing": processing,
        "completed": completed,
        "failed": failed,
        "done": pending + processing == 0,
        "seq": seq,
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
