"""Sign-in sessions behind an HttpOnly refresh cookie (docs/web.md, Sessions).

A session is a row in `auth_sessions`; the browser holds its token in a cookie that scripts cannot
read, and trades it at `POST /api/v1/auth/refresh` for a short-lived access token (a JWT with the
session's id as `sid`). Each refresh rotates the token (OAuth 2.0 Security BCP, RFC 9700 section
4.14.2: refresh token rotation). The token before a rotation stays usable for `ROTATION_GRACE`, so
two tabs that refresh with the same cookie at once both succeed; presented later it means the
cookie was copied, and the whole session is revoked. Signing out revokes the session, which also
makes its access tokens invalid at once (`session_is_active`, checked on every request that
carries a `sid`).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rekindle.config import Settings
from rekindle.db import utcnow
from rekindle.errors import Unauthorized
from rekindle.models import AuthSession

ROTATION_GRACE = timedelta(seconds=60)


def new_token() -> tuple[str, str]:
    """A fresh random token (256 bits, URL-safe base64) and its hex SHA-256 (what is stored)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """Hex SHA-256 of a token. A plain hash suffices: the token is 256 random bits, not a password."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Refreshed:
    """The outcome of a refresh: the session's user, its id, and the new cookie token (None when
    a concurrent refresh already rotated it: the browser has that one). `reused`: an old token
    was presented after the grace period and the session has just been revoked; the caller
    commits that and refuses the request."""

    user_id: str
    session_id: uuid.UUID
    token: str | None
    reused: bool = False


def invalid_session() -> Unauthorized:
    return Unauthorized(
        "The sign-in session has ended; please sign in again.", code="session_invalid"
    )


def start_session(session: Session, user_id: str, settings: Settings) -> tuple[AuthSession, str]:
    """Add a session for `user_id` (flushed, not committed); returns it and its cookie token."""
    token, hashed = new_token()
    row = AuthSession(
        user_id=user_id,
        token_hash=hashed,
        expires_at=utcnow() + timedelta(days=settings.session_ttl_days),
    )
    session.add(row)
    session.flush()
    return row, token


def refresh_session(session: Session, token: str, settings: Settings) -> Refreshed:
    """Rotate the session whose cookie token is `token` and extend it by `SESSION_TTL_DAYS`.
    Raises Unauthorized (`session_invalid`) for an unknown, expired or revoked session; revokes a
    session whose pre-rotation token is presented after the grace period (`reused`)."""
    now = utcnow()
    presented = token_hash(token)
    row = session.scalars(select(AuthSession).where(AuthSession.token_hash == presented)).first()
    if row is not None:
        if row.revoked_at is not None or row.expires_at <= now:
            raise invalid_session()
        fresh, hashed = new_token()
        # Conditional on the token still being current: of two refreshes racing with the same
        # cookie one rotates, the other takes the grace path below.
        rotated = session.execute(
            update(AuthSession)
            .where(AuthSession.id == row.id, AuthSession.token_hash == presented)
            .values(
                token_hash=hashed,
                previous_hash=presented,
                rotated_at=now,
                expires_at=now + timedelta(days=settings.session_ttl_days),
            )
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if rotated:
            return Refreshed(row.user_id, row.id, fresh)
        session.expire(row)
    row = session.scalars(select(AuthSession).where(AuthSession.previous_hash == presented)).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise invalid_session()
    if row.rotated_at is not None and now - row.rotated_at <= ROTATION_GRACE:
        return Refreshed(row.user_id, row.id, None)
    # An old token long after its rotation: someone kept a copy of the cookie.
    row.revoked_at = now
    session.flush()
    return Refreshed(row.user_id, row.id, None, reused=True)


def revoke_session(session: Session, token: str) -> uuid.UUID | None:
    """Revoke the session whose current (or just-rotated) cookie token is `token`; returns its
    id, or None when there was none."""
    presented = token_hash(token)
    row = session.scalars(
        select(AuthSession).where(
            (AuthSession.token_hash == presented) | (AuthSession.previous_hash == presented)
        )
    ).first()
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row.id


def session_is_active(session: Session, session_id: str) -> bool:
    """Whether the session `session_id` (an access token's `sid`) is neither revoked nor expired."""
    try:
        sid = uuid.UUID(session_id)
    except ValueError:
        return False
    row = session.get(AuthSession, sid)
    return row is not None and row.revoked_at is None and row.expires_at > utcnow()
