"""Share-link rules. Functions take a Session and never commit (the caller owns the transaction).

A link's token is `secrets.token_urlsafe(32)` (256 bits, unguessable); only its SHA-256 is stored,
so the table alone opens nothing. A link shows one completed restore attempt of a photo next to
the photo's display copy; it stops working when revoked, when it expires, or when the photo or the
attempt is deleted (the row goes with them: ON DELETE CASCADE; the lookup also checks both).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rekindle.auth.sessions import new_token, token_hash
from rekindle.db import utcnow
from rekindle.errors import Conflict, NotFound
from rekindle.models import AttemptStatus, Photo, RestoreAttempt, ShareLink
from rekindle.photos.service import get_photo

DEFAULT_DAYS = 30


def _not_found() -> NotFound:
    return NotFound("This share link does not exist or has ended.", code="share_not_found")


def create_share(
    session: Session,
    owner_id: str,
    photo_id: uuid.UUID,
    *,
    days: int,
    restore_id: uuid.UUID | None = None,
) -> tuple[ShareLink, str]:
    """Add a link to the owner's photo showing `restore_id` (default: the chosen result), valid
    `days` days; returns the row (flushed) and the token, which is not stored and cannot be shown
    again. Raises NotFound (`photo_not_found`, `attempt_not_found`) or Conflict
    (`nothing_to_share`: no completed result to show)."""
    photo = get_photo(session, owner_id, photo_id)
    wanted = restore_id or photo.selected_restore_id
    attempt = next((a for a in photo.restore_attempts if a.id == wanted), None)
    if restore_id is not None and attempt is None:
        raise NotFound("No such restore attempt.", code="attempt_not_found")
    if attempt is None or attempt.status != AttemptStatus.COMPLETED or not attempt.s3_key:
        raise Conflict(
            "Only a completed restoration can be shared; restore the photo first.",
            code="nothing_to_share",
        )
    token, hashed = new_token()
    link = ShareLink(
        photo_id=photo.id,
        restore_id=attempt.id,
        token_hash=hashed,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(link)
    session.flush()
    return link, token


def active_shares(session: Session, owner_id: str, photo_id: uuid.UUID) -> list[ShareLink]:
    """The photo's links that still work (not revoked, not expired), newest first. Raises
    NotFound (`photo_not_found`)."""
    get_photo(session, owner_id, photo_id)
    return list(
        session.scalars(
            select(ShareLink)
            .where(
                ShareLink.photo_id == photo_id,
                ShareLink.revoked_at.is_(None),
                ShareLink.expires_at > utcnow(),
            )
            .order_by(ShareLink.created_at.desc(), ShareLink.id.desc())
        )
    )


def revoke_share(session: Session, owner_id: str, photo_id: uuid.UUID, share_id: uuid.UUID) -> None:
    """Revoke one of the photo's links (at once: the next open answers 404). Raises NotFound
    (`photo_not_found`, `share_not_found`, also for a link already revoked)."""
    get_photo(session, owner_id, photo_id)
    link = session.scalars(
        select(ShareLink).where(
            ShareLink.id == share_id,
            ShareLink.photo_id == photo_id,
            ShareLink.revoked_at.is_(None),
        )
    ).first()
    if link is None:
        raise NotFound("No such share link.", code="share_not_found")
    link.revoked_at = utcnow()
    session.flush()


@dataclass(frozen=True)
class Shared:
    """What a working link shows: the photo (for its display copy), the result, the link."""

    photo: Photo
    attempt: RestoreAttempt
    link: ShareLink


def open_share(session: Session, token: str) -> Shared:
    """The photo and result behind a working link. Raises NotFound (`share_not_found`) for an
    unknown, revoked or expired token, or a deleted photo or result."""
    if not token or len(token) > 200:
        raise _not_found()
    row = session.execute(
        select(ShareLink, Photo, RestoreAttempt)
        .join(Photo, Photo.id == ShareLink.photo_id)
        .join(RestoreAttempt, RestoreAttempt.id == ShareLink.restore_id)
        .where(
            ShareLink.token_hash == token_hash(token),
            ShareLink.revoked_at.is_(None),
            ShareLink.expires_at > utcnow(),
            Photo.deleted_at.is_(None),
            RestoreAttempt.photo_id == Photo.id,
            RestoreAttempt.status == AttemptStatus.COMPLETED,
            RestoreAttempt.s3_key.is_not(None),
        )
    ).first()
    if row is None:
        raise _not_found()
    link, photo, attempt = row
    return Shared(photo=photo, attempt=attempt, link=link)
