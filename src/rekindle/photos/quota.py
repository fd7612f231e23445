"""Per-user storage quota and daily upload count (issue 12).

- Storage: the bytes of every stored object of a user's photos (`photos.stored_bytes`: original,
  thumbnail, restorations, animations) may not pass `STORAGE_QUOTA_BYTES` (default 2 GiB). An
  upload that would pass it gets 413 `quota_exceeded`; deleting photos frees their bytes at once
  (the usage is a sum over the user's photo rows, never a counter that could drift).
- Count: at most `UPLOADS_PER_DAY` photos per user per UTC day (`users.uploads_today`); past it,
  429 `quota_exceeded` with `Retry-After` until midnight UTC. Deleting photos does not give
  uploads back.

Race-free: `reserve_upload` runs in the upload's own transaction, just before its photo row is
written, with the user's row locked (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite transactions
here begin IMMEDIATE, one writer at a time), so concurrent uploads of one user are checked one
after another against each other's bytes. `precheck` refuses early, before an upload is decoded
and stored, when the account is already full; it takes no lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from rekindle.config import Settings
from rekindle.db import utcnow
from rekindle.errors import AppError, NotFound
from rekindle.models import Photo, User


class StorageQuotaExceeded(AppError):
    status, code = 413, "quota_exceeded"
    message = "Your storage is full; delete photos to upload more."


class DailyUploadsExceeded(AppError):
    status, code = 429, "quota_exceeded"
    message = "You have uploaded as many photos as a day allows."


@dataclass(frozen=True)
class Usage:
    """A user's storage use and upload count against the limits (0 limit: none)."""

    used_bytes: int
    quota_bytes: int
    uploads_today: int
    uploads_per_day: int


def used_bytes(session: Session, user_id: str) -> int:
    """Bytes stored for the user's photos (every row, deleted-flagged ones too: their objects
    exist until the row goes)."""
    total = session.scalar(
        select(func.coalesce(func.sum(Photo.stored_bytes), 0)).where(Photo.owner_id == user_id)
    )
    return int(total or 0)


def _uploads_today(user: User, today: datetime) -> int:
    return user.uploads_today if user.uploads_day == today.date() else 0


def usage(session: Session, settings: Settings, user_id: str) -> Usage:
    """The user's usage and limits (for `GET /me`). Raises NotFound (`user_not_found`)."""
    user = session.scalars(
        select(User).where(User.id == user_id).execution_options(populate_existing=True)
    ).one_or_none()
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    return Usage(
        used_bytes=used_bytes(session, user_id),
        quota_bytes=settings.storage_quota_bytes,
        uploads_today=_uploads_today(user, utcnow()),
        uploads_per_day=settings.uploads_per_day,
    )


def _mib(value: int) -> str:
    return f"{value / 1024**2:.1f} MiB"


def _check(settings: Settings, used: int, incoming: int, uploads_today: int) -> None:
    limit = settings.uploads_per_day
    if limit and uploads_today >= limit:
        now = utcnow()
        midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
        retry = max(1, math.ceil((midnight - now).total_seconds()))
        raise DailyUploadsExceeded(
            f"You have uploaded {uploads_today} photos today, the most a day allows "
            f"({limit}). Uploads open again at midnight UTC.",
            headers={"Retry-After": str(retry)},
            extra={"uploads_today": uploads_today, "uploads_per_day": limit, "retry_after": retry},
        )
    quota = settings.storage_quota_bytes
    if quota and used + incoming > quota:
        raise StorageQuotaExceeded(
            f"This upload needs {_mib(incoming)} and your photos already use {_mib(used)} of "
            f"your {_mib(quota)}; delete photos to make room.",
            extra={"used_bytes": used, "quota_bytes": quota, "needed_bytes": incoming},
        )


def precheck(
    sessions: sessionmaker[Session], settings: Settings, user_id: str, incoming: int
) -> None:
    """Refuse an upload of `incoming` bytes early (before it is decoded and stored) when the user's
    storage or daily count is already spent. Takes no lock; `reserve_upload` decides. Raises
    StorageQuotaExceeded (413) or DailyUploadsExceeded (429)."""
    if not settings.storage_quota_bytes and not settings.uploads_per_day:
        return
    with sessions() as session:
        user = session.get(User, user_id)
        if user is None:
            return
        _check(settings, used_bytes(session, user_id), incoming, _uploads_today(user, utcnow()))


def reserve_upload(session: Session, settings: Settings, user_id: str, incoming: int) -> None:
    """In the upload's transaction, before its photo row is added: lock the user's row, check
    that `incoming` more bytes fit the quota and that today's uploads are not spent, and count the
    upload (rolled back with the transaction if the upload fails after). Raises
    StorageQuotaExceeded (413), DailyUploadsExceeded (429) or NotFound."""
    user = session.scalars(
        select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    now = utcnow()
    today = _uploads_today(user, now)
    _check(settings, used_bytes(session, user_id), incoming, today)
    user.uploads_day = now.date()
    user.uploads_today = today + 1
